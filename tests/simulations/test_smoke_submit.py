from simulations.choices import JobState
from simulations.models import CelerySimulation, CeleryTask


def test_submit_creates_pending_job_with_tasks_splitting_primaries(submit):
    simulation, key = submit(ntasks=3, primaries=1000)

    assert isinstance(simulation, CelerySimulation)
    assert simulation.job_state == JobState.PENDING
    assert simulation.job_id.endswith("DIRECT")
    tasks = list(simulation.tasks.order_by("task_id"))
    assert [type(t) for t in tasks] == [CeleryTask] * 3
    assert [(t.task_id, t.requested_primaries) for t in tasks] == [(0, 333), (1, 333), (2, 333)]
    assert simulation.input.data["number_of_all_primaries"] == 1000
    assert len(key) >= 43
