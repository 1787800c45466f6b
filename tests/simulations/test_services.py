import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from simulations.choices import JobState
from simulations.models import (
    BatchSimulation,
    BatchTask,
    CelerySimulation,
    CeleryTask,
    Estimator,
    Input,
    Logfiles,
    Page,
    Simulation,
    Task,
)
from simulations.services import (
    TaskUpdate,
    logfiles_store,
    results_store,
    simulation_apply_update,
    simulation_cancel,
    simulation_delete,
    task_apply_update,
    task_remove,
    update_key_issue,
    update_key_matches,
)
from tests.factories import ClusterFactory, editor_project, job_in_state, tasks_complete
from yaptide_site.errors import Conflict, InvalidInput, NotFound

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TERMINAL = [JobState.COMPLETED, JobState.FAILED, JobState.CANCELED]


def update(simulation, task_id=0, **fields) -> Task:
    return task_apply_update(simulation=simulation, task_id=task_id, update=TaskUpdate(**fields))


def task_of(simulation, task_id=0) -> Task:
    return Task.objects.get(simulation=simulation, task_id=task_id)


def job(simulation) -> Simulation:
    return Simulation.objects.get(pk=simulation.pk)


def snapshot(task: Task) -> dict:
    names = [f.attname for f in Task._meta.concrete_fields]
    return {name: getattr(task, name) for name in names}


def force_job_state(simulation, state) -> None:
    """Test setup only: puts a job straight into `state` (the services move it there in real life)."""
    Simulation.objects.filter(pk=simulation.pk).update(job_state=state)


# --- submit ---------------------------------------------------------------------------------------


def test_submit_creates_pending_job_with_tasks_splitting_primaries(submit, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as after_commit:
        simulation, key = submit(ntasks=3, primaries=1000, title="beam")

    assert isinstance(simulation, CelerySimulation)
    assert (simulation.job_state, simulation.title, simulation.platform) == (JobState.PENDING, "beam", "DIRECT")
    tasks = list(simulation.tasks.order_by("task_id"))
    assert [type(t) for t in tasks] == [CeleryTask] * 3
    assert [(t.task_id, t.requested_primaries, t.task_state) for t in tasks] == [
        (0, 333, "PENDING"),
        (1, 333, "PENDING"),
        (2, 333, "PENDING"),
    ]
    data = Input.objects.get(simulation=simulation).data
    assert data["number_of_all_primaries"] == 1000 and data["input_type"] == "EDITOR"
    assert data["input_json"] == editor_project(primaries=1000)
    assert len(key) >= 43 and update_key_matches(simulation=simulation, key=key)
    assert len(after_commit) == 1  # dispatched only after commit


def test_submit_batch_numbers_tasks_from_one(submit):
    cluster = ClusterFactory()
    simulation, _ = submit(ntasks=2, platform="BATCH", cluster=cluster)

    assert isinstance(simulation, BatchSimulation) and simulation.cluster == cluster
    assert [(type(t), t.task_id) for t in simulation.tasks.order_by("task_id")] == [(BatchTask, 1), (BatchTask, 2)]


@pytest.mark.parametrize("ntasks, expected", [(0, 1), (-3, 1), (5, 5), (50, 10)])
def test_submit_clamps_ntasks_to_primaries(submit, ntasks, expected):
    simulation, _ = submit(ntasks=ntasks, primaries=10)

    assert simulation.tasks.count() == expected
    assert set(simulation.tasks.values_list("requested_primaries", flat=True)) == {10 // expected}


# --- update keys ----------------------------------------------------------------------------------


def test_update_key_is_stored_only_as_its_sha256(submit):
    simulation, _ = submit()

    key = update_key_issue(simulation=simulation)

    stored = job(simulation).update_key_hash
    assert stored == hashlib.sha256(key.encode()).hexdigest()
    assert key not in stored
    assert len(key) >= 43  # 256 bits, URL-safe base64


def test_update_key_check_accepts_only_the_current_key(submit):
    simulation, first = submit()

    second = update_key_issue(simulation=simulation)
    fresh = job(simulation)

    assert update_key_matches(simulation=fresh, key=second)
    assert not update_key_matches(simulation=fresh, key=first)  # re-issuing revokes the old key
    assert not update_key_matches(simulation=fresh, key="")
    assert not update_key_matches(simulation=fresh, key=None)
    assert not update_key_matches(simulation=fresh, key=second[:-1])


def test_simulation_without_a_key_accepts_none(submit):
    simulation, key = submit()
    Simulation.objects.filter(pk=simulation.pk).update(update_key_hash="")

    assert not update_key_matches(simulation=job(simulation), key=key)
    assert not update_key_matches(simulation=job(simulation), key="")


def test_update_key_check_compares_in_constant_time(submit, monkeypatch):
    import hmac

    simulation, key = submit()
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(
        "simulations.services.keys.hmac.compare_digest", lambda a, b: calls.append((a, b)) or real(a, b)
    )

    assert update_key_matches(simulation=simulation, key=key)
    assert calls == [(simulation.update_key_hash, simulation.update_key_hash)]


# --- task updates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("state", TERMINAL)
def test_terminal_task_ignores_every_later_update(submit, state):
    simulation, _ = submit(ntasks=2)
    update(simulation, task_state=state)
    before = snapshot(task_of(simulation))

    update(
        simulation,
        task_state=JobState.RUNNING,
        requested_primaries=999,
        simulated_primaries=999,
        estimated_time=5,
        start_time=T0,
        end_time=T0,
        celery_id="late",
    )

    task = task_of(simulation)
    assert snapshot(task) == before
    assert task.celery_id == ""


def test_state_never_moves_backwards_for_out_of_order_updates(submit):
    simulation, _ = submit(ntasks=2)
    update(simulation, task_state=JobState.RUNNING, simulated_primaries=100)

    update(simulation, task_state=JobState.PENDING, simulated_primaries=50)

    task = task_of(simulation)
    assert task.task_state == JobState.RUNNING
    assert task.simulated_primaries == 100  # an older progress report does not move primaries back


def test_the_same_update_twice_gives_the_same_task(submit):
    simulation, _ = submit(ntasks=2)
    progress = dict(task_state=JobState.RUNNING, simulated_primaries=120, estimated_time=30, start_time=T0)

    update(simulation, **progress)
    first = snapshot(task_of(simulation))
    update(simulation, **progress)
    second = snapshot(task_of(simulation))

    first.pop("last_update_time"), second.pop("last_update_time")
    assert first == second
    assert job(simulation).job_state == JobState.RUNNING


@pytest.mark.parametrize("missing", [None, 0])
def test_missing_or_zero_primaries_never_overwrite(submit, missing):
    simulation, _ = submit(ntasks=2, primaries=1000)
    update(simulation, task_state=JobState.RUNNING, simulated_primaries=200)

    update(simulation, requested_primaries=missing, simulated_primaries=missing)

    task = task_of(simulation)
    assert (task.requested_primaries, task.simulated_primaries) == (500, 200)


def test_requested_primaries_are_taken_when_sent(submit):
    simulation, _ = submit(ntasks=2, primaries=1000)

    update(simulation, requested_primaries=480)

    assert task_of(simulation).requested_primaries == 480


def test_completed_sets_simulated_to_requested(submit):
    simulation, _ = submit(ntasks=2, primaries=1000)
    update(simulation, task_state=JobState.RUNNING, simulated_primaries=430)

    update(simulation, task_state=JobState.COMPLETED, simulated_primaries=10)

    assert task_of(simulation).simulated_primaries == 500


def test_completed_uses_requested_primaries_sent_with_it(submit):
    simulation, _ = submit(ntasks=2, primaries=1000)

    update(simulation, task_state=JobState.COMPLETED, requested_primaries=510)

    task = task_of(simulation)
    assert (task.requested_primaries, task.simulated_primaries) == (510, 510)


def test_start_time_is_set_once(submit):
    simulation, _ = submit(ntasks=2)

    update(simulation, task_state=JobState.RUNNING, start_time=T0)
    update(simulation, start_time=T0 + timedelta(hours=1))

    assert task_of(simulation).start_time == T0


def test_running_without_start_time_starts_now(submit):
    simulation, _ = submit(ntasks=2)
    before = timezone.now()

    update(simulation, task_state=JobState.RUNNING)

    assert before <= task_of(simulation).start_time <= timezone.now()


def test_end_time_is_set_once_and_clears_estimated_time(submit):
    simulation, _ = submit(ntasks=2)
    update(simulation, task_state=JobState.RUNNING, estimated_time=60)

    update(simulation, end_time=T0)
    update(simulation, end_time=T0 + timedelta(hours=1), task_state=JobState.COMPLETED)

    task = task_of(simulation)
    assert task.end_time == T0
    assert task.estimated_time is None


def test_estimated_time_is_ignored_once_ended(submit):
    simulation, _ = submit(ntasks=2)
    update(simulation, task_state=JobState.RUNNING, end_time=T0)

    update(simulation, estimated_time=99)

    assert task_of(simulation).estimated_time is None


def test_estimated_time_is_taken_while_running(submit):
    simulation, _ = submit(ntasks=2)

    update(simulation, task_state=JobState.RUNNING, estimated_time=60)
    update(simulation, estimated_time=0)

    assert task_of(simulation).estimated_time == 0


@pytest.mark.parametrize("state", TERMINAL)
def test_entering_a_terminal_state_sets_end_time(submit, state):
    simulation, _ = submit(ntasks=2)
    before = timezone.now()

    update(simulation, task_state=state, estimated_time=10)

    task = task_of(simulation)
    assert before <= task.end_time <= timezone.now()
    assert task.estimated_time is None


def test_last_update_time_is_refreshed_on_every_accepted_update(submit):
    simulation, _ = submit(ntasks=2)
    Task.objects.filter(simulation=simulation).update(last_update_time=T0)

    update(simulation, estimated_time=10)

    assert task_of(simulation).last_update_time > T0
    assert task_of(simulation, 1).last_update_time == T0


def test_celery_id_is_kept_for_celery_tasks_only(submit):
    celery, _ = submit(ntasks=1)
    batch, _ = submit(ntasks=1, platform="BATCH")

    update(celery, celery_id="abc-123")
    update(batch, task_id=1, celery_id="abc-123", task_state=JobState.RUNNING)

    assert task_of(celery).celery_id == "abc-123"
    assert task_of(batch, 1).task_state == JobState.RUNNING


def test_simulated_primaries_never_go_back_when_a_smaller_request_completes(submit):
    simulation, _ = submit(ntasks=1, primaries=10_000)
    update(simulation, task_state=JobState.RUNNING, simulated_primaries=2000)

    update(simulation, requested_primaries=5)
    update(simulation, task_state=JobState.COMPLETED)

    assert task_of(simulation).simulated_primaries == 2000


def test_update_of_a_task_that_does_not_exist_is_not_found(submit):
    simulation, _ = submit(ntasks=2)

    with pytest.raises(NotFound, match="has no task 5"):
        update(simulation, task_id=5, task_state=JobState.RUNNING)


def test_update_touches_no_other_task(submit):
    simulation, _ = submit(ntasks=2)
    other, _ = submit(ntasks=2)
    before = [snapshot(t) for t in Task.objects.exclude(simulation=simulation, task_id=0).order_by("pk")]

    update(simulation, task_state=JobState.RUNNING, simulated_primaries=5)

    assert [snapshot(t) for t in Task.objects.exclude(simulation=simulation, task_id=0).order_by("pk")] == before


# --- job state from task states ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "task_states, job_state",
    [
        ([JobState.PENDING, JobState.PENDING, JobState.PENDING], JobState.PENDING),
        ([JobState.RUNNING, JobState.PENDING, JobState.PENDING], JobState.RUNNING),
        ([JobState.COMPLETED, JobState.PENDING, JobState.PENDING], JobState.RUNNING),
        ([JobState.COMPLETED, JobState.FAILED, JobState.RUNNING], JobState.RUNNING),
        ([JobState.COMPLETED, JobState.COMPLETED, JobState.COMPLETED], JobState.MERGING_QUEUED),
        ([JobState.COMPLETED, JobState.FAILED, JobState.FAILED], JobState.MERGING_QUEUED),
        ([JobState.FAILED, JobState.FAILED, JobState.FAILED], JobState.FAILED),
    ],
)
@pytest.mark.parametrize("platform", ["DIRECT", "BATCH"])
def test_job_state_follows_the_task_states(submit, task_states, job_state, platform):
    simulation, _ = submit(ntasks=3, primaries=300, platform=platform)
    first = 1 if platform == "BATCH" else 0

    for offset, state in enumerate(task_states):
        if state != JobState.PENDING:
            update(simulation, task_id=first + offset, task_state=state)

    fresh = job(simulation)
    assert fresh.job_state == job_state
    assert (fresh.end_time is not None) == (job_state == JobState.FAILED)


def test_job_fails_with_end_time_when_its_last_task_fails(submit):
    simulation, _ = submit(ntasks=2)
    update(simulation, task_id=0, task_state=JobState.FAILED)
    assert job(simulation).end_time is None

    before = timezone.now()
    update(simulation, task_id=1, task_state=JobState.FAILED)

    fresh = job(simulation)
    assert fresh.job_state == JobState.FAILED
    assert before <= fresh.end_time <= timezone.now()


def test_job_state_does_not_move_back_on_late_task_updates(submit):
    simulation, _ = submit(ntasks=2)
    update(simulation, task_id=0, task_state=JobState.COMPLETED)
    update(simulation, task_id=1, task_state=JobState.COMPLETED)
    simulation_apply_update(simulation=simulation, job_state=JobState.MERGING_RUNNING)

    update(simulation, task_id=1, task_state=JobState.RUNNING)

    assert job(simulation).job_state == JobState.MERGING_RUNNING


def test_task_updates_leave_a_terminal_job_alone(submit):
    simulation, _ = submit(ntasks=2)
    force_job_state(simulation, JobState.CANCELED)

    update(simulation, task_id=0, task_state=JobState.RUNNING)

    assert job(simulation).job_state == JobState.CANCELED


# --- simulation updates ---------------------------------------------------------------------------


@pytest.mark.parametrize("state", TERMINAL)
def test_terminal_simulation_is_final(submit, state):
    simulation, _ = submit(platform="BATCH")
    job_in_state(simulation, state, end_time=T0)

    result = simulation_apply_update(
        simulation=simulation, job_state=JobState.RUNNING, end_time=T0 + timedelta(1), job_dir="/late", array_id="9"
    )

    fresh = job(simulation)
    assert (fresh.job_state, fresh.end_time, fresh.job_dir, fresh.array_id) == (state, T0, "", "")
    assert result.job_state == state


def test_simulation_state_moves_forward_only(submit):
    simulation, _ = submit()
    tasks_complete(simulation)
    simulation_apply_update(simulation=simulation, job_state=JobState.MERGING_RUNNING)

    simulation_apply_update(simulation=simulation, job_state=JobState.MERGING_RUNNING)

    assert job(simulation).job_state == JobState.MERGING_RUNNING


@pytest.mark.parametrize("state", [JobState.PENDING, JobState.RUNNING, JobState.MERGING_QUEUED, JobState.CANCELED])
def test_job_states_that_follow_from_the_tasks_are_never_set(submit, state):
    simulation, _ = submit()
    tasks_complete(simulation)

    with pytest.raises(Conflict, match="follows from the task states"):
        simulation_apply_update(simulation=simulation, job_state=state)
    assert job(simulation).job_state == JobState.MERGING_QUEUED


@pytest.mark.parametrize("state", [JobState.MERGING_RUNNING, JobState.COMPLETED, JobState.FAILED])
def test_a_merge_outcome_is_refused_while_tasks_run(submit, state):
    simulation, _ = submit(ntasks=2)
    update(simulation, task_id=0, task_state=JobState.RUNNING)

    with pytest.raises(Conflict, match="once all its tasks have ended"):
        simulation_apply_update(simulation=simulation, job_state=state)
    assert job(simulation).job_state == JobState.RUNNING


def test_simulation_end_time_is_set_once(submit):
    simulation, _ = submit()
    tasks_complete(simulation)

    simulation_apply_update(simulation=simulation, end_time=T0)
    simulation_apply_update(simulation=simulation, job_state=JobState.COMPLETED, end_time=T0 + timedelta(hours=2))

    fresh = job(simulation)
    assert (fresh.job_state, fresh.end_time) == (JobState.COMPLETED, T0)


def test_completing_a_simulation_without_end_time_ends_it_now(submit):
    simulation, _ = submit()
    tasks_complete(simulation)
    before = timezone.now()

    simulation_apply_update(simulation=simulation, job_state=JobState.COMPLETED)

    assert before <= job(simulation).end_time <= timezone.now()


def test_batch_simulation_takes_job_dir_array_and_collect_ids(submit):
    simulation, _ = submit(platform="BATCH")

    simulation_apply_update(simulation=simulation, job_dir="/scratch/j1", array_id="100")
    simulation_apply_update(simulation=simulation, collect_id="101")

    fresh = job(simulation)
    assert (fresh.job_dir, fresh.array_id, fresh.collect_id) == ("/scratch/j1", "100", "101")


def test_celery_simulation_ignores_batch_fields(submit):
    simulation, _ = submit()

    result = simulation_apply_update(simulation=simulation, end_time=T0, job_dir="/x")

    assert result.end_time == T0
    assert not hasattr(job(simulation), "job_dir")


# --- cancel ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state", [JobState.UNKNOWN, JobState.PENDING, JobState.RUNNING, JobState.MERGING_QUEUED, JobState.MERGING_RUNNING]
)
def test_cancel_is_allowed_for_unfinished_jobs(submit, state, django_capture_on_commit_callbacks):
    simulation, _ = submit()
    force_job_state(simulation, state)

    with django_capture_on_commit_callbacks() as after_commit:
        result = simulation_cancel(simulation=simulation)

    assert result.job_state == JobState.CANCELED
    assert job(simulation).end_time is not None
    assert len(after_commit) == 1  # the workers are told after commit


@pytest.mark.parametrize("state", TERMINAL)
def test_cancel_is_refused_for_finished_jobs(submit, state):
    simulation, _ = submit()
    job_in_state(simulation, state, end_time=T0)

    with pytest.raises(Conflict, match=f"is {state} and cannot be canceled"):
        simulation_cancel(simulation=simulation)
    assert (job(simulation).job_state, job(simulation).end_time) == (state, T0)


def test_cancel_marks_unfinished_tasks_canceled_and_leaves_finished_ones(submit):
    simulation, _ = submit(ntasks=3, primaries=300)
    update(simulation, task_id=0, task_state=JobState.COMPLETED, end_time=T0)
    update(simulation, task_id=1, task_state=JobState.RUNNING, estimated_time=50)
    other, _ = submit(ntasks=1)

    simulation_cancel(simulation=simulation)

    tasks = {t.task_id: t for t in simulation.tasks.all()}
    assert (tasks[0].task_state, tasks[0].end_time, tasks[0].simulated_primaries) == (JobState.COMPLETED, T0, 100)
    for task in (tasks[1], tasks[2]):
        assert task.task_state == JobState.CANCELED
        assert task.end_time is not None and task.estimated_time is None
    assert task_of(other).task_state == JobState.PENDING
    assert job(other).job_state == JobState.PENDING


def test_cancel_keeps_an_end_time_already_reported(submit):
    simulation, _ = submit(ntasks=1)
    update(simulation, task_state=JobState.RUNNING, end_time=T0)
    simulation_apply_update(simulation=simulation, end_time=T0)

    simulation_cancel(simulation=simulation)

    assert task_of(simulation).end_time == T0
    assert job(simulation).end_time == T0


def test_canceled_job_ignores_later_task_and_job_updates(submit):
    simulation, _ = submit(ntasks=1)
    simulation_cancel(simulation=simulation)

    update(simulation, task_state=JobState.COMPLETED)
    simulation_apply_update(simulation=simulation, job_state=JobState.COMPLETED)

    assert task_of(simulation).task_state == JobState.CANCELED
    assert job(simulation).job_state == JobState.CANCELED


# --- delete ---------------------------------------------------------------------------------------


def full_simulation(submit, state=JobState.COMPLETED):
    simulation, _ = submit(ntasks=2)
    results_store(simulation=simulation, estimators=[estimator_json("z_", 2)])
    logfiles_store(simulation=simulation, logfiles={"log": "text"})
    for task_id in (0, 1):
        update(simulation, task_id=task_id, task_state=state)
    simulation_apply_update(simulation=simulation, job_state=state)
    return job(simulation)


@pytest.mark.parametrize("state", TERMINAL)
def test_delete_removes_a_finished_simulation_with_everything_it_owns(submit, state):
    simulation = full_simulation(submit, state)
    kept = full_simulation(submit)

    simulation_delete(simulation=simulation)

    assert list(Simulation.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(CelerySimulation.objects.values_list("pk", flat=True)) == [kept.pk]
    for model in (Task, CeleryTask, Input, Estimator, Logfiles):
        assert set(model.objects.values_list("simulation_id", flat=True)) == {kept.pk}, model
    assert set(Page.objects.values_list("estimator__simulation_id", flat=True)) == {kept.pk}
    assert Page.objects.count() == 2


@pytest.mark.parametrize(
    "state", [JobState.UNKNOWN, JobState.PENDING, JobState.RUNNING, JobState.MERGING_QUEUED, JobState.MERGING_RUNNING]
)
def test_delete_refuses_an_unfinished_simulation(submit, state):
    simulation, _ = submit()
    force_job_state(simulation, state)

    with pytest.raises(Conflict, match="only finished simulations can be deleted"):
        simulation_delete(simulation=simulation)
    assert Simulation.objects.filter(pk=simulation.pk).exists()
    assert Task.objects.filter(simulation=simulation).count() == 2


def test_delete_takes_a_fixed_number_of_queries(submit, django_assert_max_num_queries):
    simulation = full_simulation(submit)
    results_store(simulation=simulation, estimators=[estimator_json(f"e{n}_", 5) for n in range(10)])

    # On PostgreSQL the schema cascades in one statement; on SQLite Django's collector runs a fixed set of queries.
    with django_assert_max_num_queries(40 if connection.vendor == "sqlite" else 4):
        simulation_delete(simulation=simulation)

    assert not Page.objects.exists()


# --- task remove ----------------------------------------------------------------------------------


def test_task_remove_removes_only_that_task_of_that_simulation(submit):
    simulation, _ = submit(ntasks=3, primaries=300)
    other, _ = submit(ntasks=3, primaries=300)

    task_remove(simulation=simulation, task_id=1)

    assert sorted(simulation.tasks.values_list("task_id", flat=True)) == [0, 2]
    assert sorted(other.tasks.values_list("task_id", flat=True)) == [0, 1, 2]
    assert CeleryTask.objects.count() == 5


def test_task_remove_of_a_missing_task_is_not_found(submit):
    simulation, _ = submit(ntasks=1)
    other, _ = submit(ntasks=3, primaries=300)

    with pytest.raises(NotFound):
        task_remove(simulation=simulation, task_id=2)  # task 2 exists only in the other simulation
    assert other.tasks.count() == 3


# --- results --------------------------------------------------------------------------------------


def page_json(number: int, values: list[float], name: str = "DOSE") -> dict:
    return {
        "metadata": {"page_number": str(number), "name": name, "unit": "MeV/g"},
        "dimensions": 1,
        "data": {"name": name, "unit": "MeV/g", "values": values},
        "axis_dim1": {"name": "Position (Z)", "unit": "cm", "values": [float(i) for i in range(len(values))]},
    }


def estimator_json(file_name: str, pages: int, scale: float = 1.0, name: str | None = None) -> dict:
    return {
        "name": name or file_name,
        "metadata": {"file_corename": file_name, "page_count": str(pages)},
        "pages": [page_json(n, [scale * n, scale * (n + 1)]) for n in range(pages)],
    }


def stored_results(simulation) -> list:
    rows = []
    for estimator in Estimator.objects.filter(simulation=simulation):
        pages = [(p.page_number, p.page_name, p.page_dimension, p.data) for p in estimator.pages.all()]
        rows.append((estimator.pk, estimator.name, estimator.file_name, estimator.data, pages))
    return rows


def test_results_store_keeps_estimators_and_pages_as_sent(submit):
    simulation, _ = submit()

    estimators = results_store(simulation=simulation, estimators=[estimator_json("z_profile_", 2)])

    assert [e.file_name for e in estimators] == ["z_profile_"]
    estimator = Estimator.objects.get(simulation=simulation)
    assert estimator.data == {"file_corename": "z_profile_", "page_count": "2"}
    assert [(p.page_number, p.page_name, p.page_dimension) for p in estimator.pages.all()] == [
        (0, "DOSE", 1),
        (1, "DOSE", 1),
    ]
    assert estimator.pages.get(page_number=1).data == page_json(1, [1.0, 2.0])


def test_results_store_twice_is_idempotent(submit):
    simulation, _ = submit()
    results = [estimator_json("z_", 3), estimator_json("y_", 1)]

    results_store(simulation=simulation, estimators=results)
    first = stored_results(simulation)
    results_store(simulation=simulation, estimators=results)

    assert stored_results(simulation) == first
    assert Page.objects.count() == 4
    assert job(simulation).results_version == 2


def test_results_store_upserts_new_values_and_keeps_rows_not_sent_again(submit):
    simulation, _ = submit()
    results_store(simulation=simulation, estimators=[estimator_json("z_", 2), estimator_json("y_", 1)])
    ids = dict(Estimator.objects.values_list("file_name", "pk"))

    results_store(simulation=simulation, estimators=[estimator_json("z_", 3, scale=10.0)])

    assert dict(Estimator.objects.values_list("file_name", "pk")) == ids
    z_pages = Estimator.objects.get(file_name="z_").pages.all()
    assert [p.data["data"]["values"] for p in z_pages] == [[0.0, 10.0], [10.0, 20.0], [20.0, 30.0]]
    assert Estimator.objects.get(file_name="y_").pages.count() == 1


def test_results_of_two_simulations_do_not_mix(submit):
    first, _ = submit()
    second, _ = submit()

    results_store(simulation=first, estimators=[estimator_json("z_", 1)])
    results_store(simulation=second, estimators=[estimator_json("z_", 1, scale=5.0)])

    assert Estimator.objects.filter(simulation=first).count() == 1
    assert Estimator.objects.filter(simulation=second).count() == 1
    assert Page.objects.get(estimator__simulation=first).data["data"]["values"] == [0.0, 1.0]


def test_editor_results_keep_the_order_and_names_of_the_editor_outputs(submit):
    simulation, _ = submit(input_json=editor_project(outputs=("Depth", "Fluence", "Slab")))
    uploaded = [
        estimator_json("Slab_", 1),
        estimator_json("extra_", 1),
        estimator_json("Depth_", 1),
        estimator_json("Fluence_", 1),
    ]

    results_store(simulation=simulation, estimators=uploaded)

    ordered = list(Estimator.objects.filter(simulation=simulation).values_list("name", "file_name"))
    assert ordered == [("Depth", "Depth_"), ("Fluence", "Fluence_"), ("Slab", "Slab_"), ("extra_", "extra_")]


def test_files_results_keep_upload_order(submit, user):
    simulation, _ = submit()
    Simulation.objects.filter(pk=simulation.pk).update(input_type="FILES")

    results_store(simulation=job(simulation), estimators=[estimator_json("b_", 1), estimator_json("a_", 1)])

    assert list(Estimator.objects.values_list("file_name", flat=True)) == ["b_", "a_"]


@pytest.mark.parametrize(
    "estimators, message",
    [
        ("not a list", "estimators must be a list"),
        ([42], r"estimators\[0\] must be an object"),
        ([{"metadata": {}, "pages": []}], r"estimators\[0\].name is missing"),
        ([{"name": "z", "pages": "x"}], r"estimators\[0\].pages must be a list"),
        ([{"name": "z", "pages": [{"metadata": {}, "dimensions": 3}]}], "dimensions 0, 1 or 2"),
        ([{"name": "z", "pages": [{"metadata": {"page_number": "x"}, "dimensions": 0}]}], "must be a number"),
        ([{"name": "z", "pages": [{"metadata": {"page_number": -1}, "dimensions": 0}]}], "must be from 0 to"),
    ],
)
def test_results_store_refuses_malformed_results_and_stores_nothing(submit, estimators, message):
    simulation, _ = submit()

    with pytest.raises(InvalidInput, match=message):
        results_store(simulation=simulation, estimators=estimators)
    assert not Estimator.objects.exists()


def test_results_store_of_nothing_changes_nothing(submit):
    simulation, _ = submit()

    assert results_store(simulation=simulation, estimators=[]) == []
    assert job(simulation).results_version == 0


def test_results_store_takes_a_fixed_number_of_queries(submit, django_assert_max_num_queries):
    simulation, _ = submit(input_json=editor_project(outputs=("a",)))
    small = [estimator_json("a_", 1)]
    large = [estimator_json(f"e{n}_", 8) for n in range(30)]

    for results in (small, large):
        with django_assert_max_num_queries(11):  # 10, and the job's stored size (its limit)
            results_store(simulation=simulation, estimators=results)


# --- logfiles -------------------------------------------------------------------------------------


def test_logfiles_store_creates_then_merges_files(submit):
    simulation, _ = submit()

    logfiles_store(simulation=simulation, logfiles={"task_0/stdout": "a", "task_0/stderr": "b"})
    logfiles_store(simulation=simulation, logfiles={"task_1/stdout": "c", "task_0/stderr": "b2"})

    assert Logfiles.objects.get(simulation=simulation).data == {
        "task_0/stdout": "a",
        "task_0/stderr": "b2",
        "task_1/stdout": "c",
    }
    assert Logfiles.objects.count() == 1


@pytest.mark.parametrize("logfiles", [["a"], {"a": 1}, "text", None])
def test_logfiles_store_refuses_anything_but_names_to_text(submit, logfiles):
    simulation, _ = submit()

    with pytest.raises(InvalidInput, match="logfiles must map file names to text"):
        logfiles_store(simulation=simulation, logfiles=logfiles)
    assert not Logfiles.objects.exists()
