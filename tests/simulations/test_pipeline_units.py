"""The pipeline's rules without worker processes (both databases): tasks run in-process, eagerly."""

from datetime import timedelta

import orjson
import pytest
from django.utils import timezone
from django_celery_results.models import TaskResult

from simulations import tasks
from simulations.choices import JobState
from simulations.execution.celery import CeleryBackend
from simulations.models import CelerySimulation, CeleryTask, Simulation, Task
from simulations.services import TaskClaim, TaskUpdate, simulation_cancel, task_apply_update, task_claim
from simulations.simulators import SIMULATORS, get_simulator
from simulations.simulators.dummy import Axis as DummyAxis
from simulations.simulators.dummy import Beam, Scorer, build_estimators
from tests.factories import editor_project
from yaptide_site.celery import app
from yaptide_site.errors import InvalidInput

from .pipeline_helpers import assert_merged


@pytest.fixture
def eager_celery(settings, eager_tasks):
    """Celery tasks run inside the test at send time, and store their results as a worker would."""
    settings.DUMMY_SECONDS_PER_MILLION = 0
    eager_tasks(propagate=False)


@pytest.fixture
def merges(monkeypatch):
    """Records the merges the services enqueue instead of sending them."""
    queued = []
    monkeypatch.setattr(CeleryBackend, "merge", lambda self, *, simulation_id: queued.append(simulation_id))
    return queued


def job(simulation) -> Simulation:
    return Simulation.objects.non_polymorphic().get(pk=simulation.pk)


def stored_result(task: CeleryTask) -> tuple[list[dict], int]:
    row = TaskResult.objects.get(task_id=task.celery_id)
    return app.backend.decode_content(row, row.result), task.simulated_primaries


def test_a_submitted_job_runs_every_task_merges_and_completes(eager_celery, submit, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        simulation, _ = submit(ntasks=3, primaries=3000)

    simulation = CelerySimulation.objects.get(pk=simulation.pk)
    assert simulation.job_state == JobState.COMPLETED and simulation.end_time
    task_rows = list(CeleryTask.objects.filter(simulation=simulation).order_by("task_id"))
    assert [t.task_state for t in task_rows] == [JobState.COMPLETED] * 3
    assert len({t.celery_id for t in task_rows}) == 3 and simulation.merge_id
    [estimator] = simulation.estimators.all()
    merged = [{"name": estimator.name, "pages": [page.data for page in estimator.pages.all()]}]
    assert_merged(merged, [stored_result(task) for task in task_rows])


def test_a_task_of_a_canceled_job_does_not_run(eager_celery, submit):
    simulation, _ = submit(ntasks=2)
    simulation_cancel(simulation=simulation)

    assert tasks.run_task.apply(args=(simulation.pk, 0)).get() is None

    assert Task.objects.get(simulation=simulation, task_id=0).start_time is None


def test_task_claim_lets_one_worker_run_a_task_at_a_time(submit):
    simulation, _ = submit(ntasks=1)

    assert task_claim(simulation=simulation, task_id=0, lease_seconds=30) == TaskClaim.RUN
    assert Task.objects.get(simulation=simulation).task_state == JobState.RUNNING
    assert task_claim(simulation=simulation, task_id=0, lease_seconds=30) == TaskClaim.BUSY
    Task.objects.filter(simulation=simulation).update(last_update_time=timezone.now() - timedelta(seconds=31))
    assert task_claim(simulation=simulation, task_id=0, lease_seconds=30) == TaskClaim.RERUN
    assert task_claim(simulation=simulation, task_id=0, lease_seconds=30) == TaskClaim.BUSY
    simulation_cancel(simulation=simulation)
    assert task_claim(simulation=simulation, task_id=0, lease_seconds=30) == TaskClaim.DONE


def test_reaper_fails_only_running_tasks_silent_for_longer_than_the_stale_time(submit, settings, merges):
    settings.TASK_STALE_SECONDS = 60
    simulation, _ = submit(ntasks=3)
    for task_id in (0, 1):
        task_apply_update(simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=JobState.RUNNING))
    Task.objects.filter(simulation=simulation, task_id__in=(0, 2)).update(
        last_update_time=timezone.now() - timedelta(seconds=61)
    )

    assert tasks.reap_stale_tasks() == 1

    states = dict(Task.objects.filter(simulation=simulation).values_list("task_id", "task_state"))
    assert states == {0: JobState.FAILED, 1: JobState.RUNNING, 2: JobState.PENDING}
    assert "no update for 60 s" in simulation.logfiles.data["task_0/reaper.log"]
    assert job(simulation).job_state == JobState.RUNNING


def test_a_job_whose_last_running_task_is_reaped_ends(submit, settings, merges, django_capture_on_commit_callbacks):
    settings.TASK_STALE_SECONDS = 60
    simulation, _ = submit(ntasks=2)
    with django_capture_on_commit_callbacks(execute=True):
        task_apply_update(simulation=simulation, task_id=0, update=TaskUpdate(task_state=JobState.COMPLETED))
        task_apply_update(simulation=simulation, task_id=1, update=TaskUpdate(task_state=JobState.RUNNING))
        Task.objects.filter(simulation=simulation, task_id=1).update(
            last_update_time=timezone.now() - timedelta(hours=1)
        )
        tasks.reap_stale_tasks()

    assert job(simulation).job_state == JobState.MERGING_QUEUED
    assert merges == [simulation.pk]


def test_the_update_that_ends_the_last_task_enqueues_exactly_one_merge(
    submit, merges, django_capture_on_commit_callbacks
):
    simulation, _ = submit(ntasks=3)

    with django_capture_on_commit_callbacks(execute=True):
        for task_id, state in ((0, JobState.COMPLETED), (1, JobState.FAILED), (2, JobState.COMPLETED)):
            task_apply_update(simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=state))
            task_apply_update(simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=state))

    assert merges == [simulation.pk]
    assert job(simulation).job_state == JobState.MERGING_QUEUED


def test_a_job_whose_tasks_all_failed_enqueues_no_merge(submit, merges, django_capture_on_commit_callbacks):
    simulation, _ = submit(ntasks=2)

    with django_capture_on_commit_callbacks(execute=True):
        for task_id in (0, 1):
            task_apply_update(simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=JobState.FAILED))

    assert merges == []
    assert job(simulation).job_state == JobState.FAILED and job(simulation).end_time


class UnavailableSimulator:
    name = "unavailable"

    def prepare(self, *, input_type, input_json, input_files, ntasks=1):
        return get_simulator("dummy").prepare(input_type=input_type, input_json=input_json, input_files=input_files)

    def check_available(self) -> None:
        raise InvalidInput("the shieldhit executable was not found; set SHIELDHIT_PATH")


def test_submission_for_a_simulator_that_cannot_run_here_is_refused_with_a_400(api_client, monkeypatch):
    monkeypatch.setitem(SIMULATORS, "shieldhit", f"{__name__}.UnavailableSimulator")
    body = {"sim_type": "shieldhit", "ntasks": 1, "input_type": "editor", "input_json": editor_project()}

    response = api_client.post("/api/simulations/", body, format="json")

    assert response.status_code == 400
    assert "executable was not found" in response.json()["message"]
    assert not Simulation.objects.exists()


def test_a_task_result_with_a_32000_value_page_is_stored_compactly():
    scorer = Scorer(
        "yz", "yz_", "MSH", "YZ", [DummyAxis("X", -1, 1, 1), DummyAxis("Y", -2, 2, 80), DummyAxis("Z", 0, 20, 400)]
    )
    scorer.quantities = [("Dose", "Dose")]
    estimators = build_estimators(Beam(150), [scorer], 1_000_000, seed=1)

    _, _, stored = app.backend.encode_content(estimators)

    plain_json = len(orjson.dumps(estimators))
    assert len(estimators[0]["pages"][0]["data"]["values"]) == 32_000
    assert len(stored) < 0.7 * plain_json
    assert app.backend.decode(app.backend.encode(estimators)) == estimators


def test_reaper_sends_again_the_merge_of_a_job_that_waited_too_long_for_it(submit, settings, merges):
    settings.TASK_STALE_SECONDS = 60
    waiting, _ = submit(ntasks=1)
    fresh, _ = submit(ntasks=1)
    for simulation in (waiting, fresh):
        task_apply_update(simulation=simulation, task_id=0, update=TaskUpdate(task_state=JobState.COMPLETED))
    Task.objects.filter(simulation=waiting).update(last_update_time=timezone.now() - timedelta(seconds=61))
    merges.clear()

    tasks.reap_stale_tasks()

    assert merges == [waiting.pk]
