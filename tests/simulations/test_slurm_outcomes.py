"""What the reconciler makes of Slurm's answers for one task (pure: parsed squeue and sacct output)."""

import pytest

from clusters import slurm
from simulations.execution.slurm import TaskOutcome, task_outcome

SACCT = (
    "7_1|COMPLETED|0:0|00:00:03\n"
    "7_2|TIMEOUT|0:15|00:01:00\n"
    "7_3|OUT_OF_MEMORY|0:125|00:00:04\n"
    "7_4|NODE_FAIL|0:0|00:00:09\n"
    "7_5|CANCELLED by 0|0:15|00:00:02\n"
    "7_6|FAILED|1:0|00:00:01\n"
    "7_7|COMPLETED|2:0|00:00:01\n"
    "7_8|RUNNING|0:0|00:00:05\n"
    "7_9|PENDING|0:0|00:00:00\n"
)
SQUEUE = "7_8|RUNNING|None\n7_9|PENDING|Resources\n7_10|RUNNING|None\n"


def outcome(task: int, state: str = "RUNNING", squeue: str = SQUEUE, sacct: str = SACCT):
    return task_outcome(f"7_{task}", state, slurm.parse_squeue(squeue), slurm.parse_sacct(sacct))


def test_a_completed_element_completes_its_task():
    assert outcome(1) == TaskOutcome("COMPLETED")


@pytest.mark.parametrize(
    ("task", "said"),
    [
        (2, "Slurm: TIMEOUT (exit code 0:15): the task ran out of its time limit"),
        (3, "Slurm: OUT_OF_MEMORY (exit code 0:125): the task ran out of memory"),
        (4, "Slurm: NODE_FAIL (exit code 0:0): the node running the task failed"),
        (5, "Slurm: CANCELLED (exit code 0:15): the task was cancelled on the cluster (by an administrator"),
        (6, "Slurm: FAILED (exit code 1:0): the task failed"),
    ],
)
def test_an_element_that_ended_badly_fails_its_task_saying_why(task, said):
    result = outcome(task)
    assert result.task_state == "FAILED" and result.reason.startswith(said)


def test_completed_with_a_failed_exit_code_is_a_failure():
    assert outcome(7).task_state == "FAILED"


def test_a_running_element_moves_a_pending_task_to_running_and_nothing_else():
    assert outcome(10, "PENDING") == TaskOutcome("RUNNING")
    assert outcome(10, "RUNNING") is None
    assert outcome(9, "PENDING") is None


def test_a_row_missing_from_sacct_and_squeue_is_unknown_never_a_failure():
    assert outcome(11) is None
    assert outcome(1, sacct="7_2|COMPLETED|0:0|00:00:02\n") is None  # a partial sacct answer


def test_squeue_wins_over_a_lagging_sacct_row():
    assert outcome(8, squeue="7_8|RUNNING|None\n", sacct="7_8|COMPLETED|0:0|00:00:05\n") is None


def test_a_finished_task_is_never_changed():
    assert outcome(2, "COMPLETED") is None and outcome(1, "CANCELED") is None
