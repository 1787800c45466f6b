"""Batch jobs end to end on the loopback Slurm cluster: live server, real Celery worker and beat, real sshd.

The cluster runs the test fake SHIELD-HIT12A (installed by `make test-slurm`); FAKE_SIM_* variables in the
cluster's prelude steer it per test. Results are checked against the tasks' own output files, read from the
job folder (the cluster is this machine).
"""

import json
from pathlib import Path

import pytest

from clusters import slurm
from simulations.models import BatchSimulation
from simulations.runner import task_seed
from simulations.simulators import process, shieldhit
from tests.simulations.pipeline_helpers import assert_merged, detail, logfiles, results, task_states, wait_for_state
from tests.workers import wait_for

pytestmark = [pytest.mark.slurm, pytest.mark.integration]

EDITOR_EXAMPLES = Path(__file__).resolve().parent.parent / "simulations" / "converter_data"
FILES = {
    "beam.dat": "JPART0 2\nTMAX0 150.0 0.0\nNSTAT 4000 0\n",
    "geo.dat": "fake geometry\n",
    "mat.dat": "MEDIUM 1\nICRU 276\nEND\n",
    "detect.dat": "Geometry Cyl\n    Name CylZ_Mesh\n",
}


def submit_batch(client, *, ntasks: int = 4, batch_options: dict | None = None) -> str:
    body = {
        "sim_type": "shieldhit",
        "ntasks": ntasks,
        "input_type": "files",
        "input_files": FILES,
        "platform": "BATCH",
        "cluster": "loopback",
        "batch_options": batch_options or {},
    }
    response = client.post("/api/simulations/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["job_id"]


def job_dir(job_id: str) -> Path:
    return Path(wait_for(lambda: BatchSimulation.objects.get(job_id=job_id).job_dir, timeout=60, what="job_dir"))


def task_outputs(job_id: str, task_ids) -> list[tuple[list[dict], int]]:
    """Each task's estimators read from its .bdo files with the direct path's reader, with its primaries."""
    simulation = BatchSimulation.objects.get(job_id=job_id)
    parts = []
    for task in simulation.tasks.filter(task_id__in=task_ids).order_by("task_id"):
        workdir = Path(simulation.job_dir) / f"task_{task.task_id:04d}"
        seed = task_seed(job_id, task.task_id)
        estimators = process.read_estimators(
            sorted(workdir.glob("*.bdo")),
            label="SHIELD-HIT12A",
            read=shieldhit.ShieldhitSimulator().read_output,
            name_of=lambda path, _estimator, seed=seed: shieldhit.estimator_name(path, seed),
            failure_logs=dict,
        )
        parts.append((estimators, task.simulated_primaries))
    return parts


def test_a_four_task_job_completes_with_the_weighted_average_of_its_tasks(batch_stack):
    batch_stack.set_prelude("export FAKE_SIM_SECONDS=2")

    job_id = submit_batch(batch_stack.client, ntasks=4)
    body = wait_for_state(batch_stack.client, job_id, "COMPLETED", "FAILED", timeout=120)

    assert body["job_state"] == "COMPLETED", logfiles(batch_stack.client, job_id)
    assert task_states(body) == {1: "COMPLETED", 2: "COMPLETED", 3: "COMPLETED", 4: "COMPLETED"}
    assert all(task["simulated_primaries"] == 1000 for task in body["tasks"])
    merged = results(batch_stack.client, job_id)
    assert {estimator["name"] for estimator in merged} == {"z_profile", "slab", "yz_mesh"}
    assert_merged(merged, task_outputs(job_id, [1, 2, 3, 4]))
    simulation = BatchSimulation.objects.get(job_id=job_id)
    assert simulation.array_id and simulation.collect_id and simulation.job_dir.endswith(job_id)


def only_task(task_id: int, line: str) -> str:
    """A prelude line that applies to one array task only."""
    return f'if [ "${{SLURM_ARRAY_TASK_ID:-}}" = {task_id} ]; then {line}; fi'


def test_a_failing_task_fails_with_its_log_and_the_job_merges_the_rest(batch_stack):
    batch_stack.set_prelude("export FAKE_SIM_SECONDS=2", only_task(2, "export FAKE_SIM_MODE=fail"))

    job_id = submit_batch(batch_stack.client, ntasks=3)
    body = wait_for_state(batch_stack.client, job_id, "COMPLETED", "FAILED", timeout=120)

    assert body["job_state"] == "COMPLETED"
    assert task_states(body) == {1: "COMPLETED", 2: "FAILED", 3: "COMPLETED"}
    logs = logfiles(batch_stack.client, job_id)
    assert "fake simulator crashed" in logs["task_2/task.log"]
    assert_merged(results(batch_stack.client, job_id), task_outputs(job_id, [1, 3]))


def test_a_job_whose_tasks_all_fail_is_failed_with_their_logs_and_no_results(batch_stack):
    batch_stack.set_prelude("export FAKE_SIM_SECONDS=1", "export FAKE_SIM_MODE=fail")

    job_id = submit_batch(batch_stack.client, ntasks=2)
    body = wait_for_state(batch_stack.client, job_id, "COMPLETED", "FAILED", timeout=120)

    assert body["job_state"] == "FAILED"
    assert task_states(body) == {1: "FAILED", 2: "FAILED"}
    logs = logfiles(batch_stack.client, job_id)
    assert all("fake simulator crashed" in logs[f"task_{n}/task.log"] for n in (1, 2))
    # The collect job found nothing to merge: it refused, and no empty results were stored.
    folder = job_dir(job_id)
    wait_for(lambda: (folder / "output" / "STATE").exists(), timeout=60, what="collect job ended")
    assert "no task completed" in (folder / "output" / "collect.log").read_text()
    assert results(batch_stack.client, job_id) == []


def test_cancel_while_running_cancels_in_slurm_too_and_the_collect_job_never_runs(batch_stack, cluster_side):
    batch_stack.set_prelude("export FAKE_SIM_SECONDS=120", only_task(1, "export FAKE_SIM_SECONDS=1"))
    job_id = submit_batch(batch_stack.client, ntasks=3)
    wait_for(
        lambda: task_states(detail(batch_stack.client, job_id)) == {1: "COMPLETED", 2: "RUNNING", 3: "RUNNING"},
        timeout=90,
        what="task 1 completed, tasks 2 and 3 running",
    )
    folder = job_dir(job_id)
    simulation = BatchSimulation.objects.get(job_id=job_id)
    partial = task_outputs(job_id, [1])

    response = batch_stack.client.post(f"/api/simulations/{job_id}/cancel/")

    assert response.status_code == 200
    assert response.json()["job_state"] == "CANCELED"
    assert task_states(response.json()) == {1: "COMPLETED", 2: "CANCELED", 3: "CANCELED"}
    ids = [simulation.array_id, simulation.collect_id]

    def slurm_states():
        out = cluster_side.ssh(slurm.shell(slurm.sacct_command(ids))).stdout
        return {job: state.state for job, state in slurm.parse_sacct(out).items()}

    expected = {f"{simulation.array_id}_{n}" for n in (1, 2, 3)} | {simulation.collect_id}
    states = wait_for(
        lambda: (s := slurm_states()).keys() == expected and set(s.values()) <= slurm.FINISHED_STATES and s,
        timeout=60,
        what="every job ended in sacct",
    )
    assert states.pop(f"{simulation.array_id}_1") == "COMPLETED"
    assert set(states.values()) == {"CANCELLED"}  # the running tasks, and the collect job, which never ran
    wait_for(lambda: not folder.exists(), timeout=60, what="job folder removed")
    # The completed task's results were fetched and kept before the folder went, as a direct job keeps them.
    assert detail(batch_stack.client, job_id)["job_state"] == "CANCELED"
    assert_merged(results(batch_stack.client, job_id), partial)


def test_a_time_limit_exceeded_is_picked_up_by_the_reconciler_as_timeout(batch_stack):
    batch_stack.set_prelude("export FAKE_SIM_SECONDS=600")

    job_id = submit_batch(batch_stack.client, ntasks=1, batch_options={"array_options": "--time=0:05"})
    body = wait_for_state(batch_stack.client, job_id, "COMPLETED", "FAILED", timeout=180)

    assert body["job_state"] == "FAILED"
    assert task_states(body) == {1: "FAILED"}
    log = logfiles(batch_stack.client, job_id)["task_1/slurm.log"]
    assert log.startswith("Slurm: TIMEOUT") and "time limit" in log


def test_without_a_route_from_the_cluster_the_reconciler_completes_the_job_and_fetches_results(batch_stack):
    batch_stack.cluster.callback_url = "http://127.0.0.1:9"  # nothing listens: every push fails
    batch_stack.set_prelude("export FAKE_SIM_SECONDS=1")

    job_id = submit_batch(batch_stack.client, ntasks=2)
    body = wait_for_state(batch_stack.client, job_id, "COMPLETED", "FAILED", timeout=150)

    assert body["job_state"] == "COMPLETED", logfiles(batch_stack.client, job_id)
    assert task_states(body) == {1: "COMPLETED", 2: "COMPLETED"}
    assert "Connection refused" in (job_dir(job_id) / "logs" / "task_1.out").read_text()
    assert_merged(results(batch_stack.client, job_id), task_outputs(job_id, [1, 2]))


def test_an_editor_project_runs_as_a_batch_job_with_the_editors_outputs_in_order(batch_stack):
    batch_stack.set_prelude("export FAKE_SIM_SECONDS=1")
    project = json.loads((EDITOR_EXAMPLES / "ui-ex1" / "project.json").read_text())
    body = {
        "sim_type": "shieldhit",
        "ntasks": 2,
        "input_type": "editor",
        "input_json": project,
        "platform": "BATCH",
        "cluster": "loopback",
    }
    response = batch_stack.client.post("/api/simulations/", body, format="json")
    assert response.status_code == 201, response.content
    job_id = response.json()["job_id"]

    body = wait_for_state(batch_stack.client, job_id, "COMPLETED", "FAILED", timeout=120)

    assert body["job_state"] == "COMPLETED", logfiles(batch_stack.client, job_id)
    listing = batch_stack.client.get(f"/api/simulations/{job_id}/estimators/").json()["estimators"]
    assert [estimator["name"] for estimator in listing] == ["z_profile", "yz_profile", "entrance", "peak"]
