"""Costs that must not grow with the size of a job: the queries of a task's life and of the merge, and the
locks a progress update takes."""

import gzip
import json
import threading
import uuid

import orjson
import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django_celery_results.models import TaskResult

from simulations import tasks
from simulations.choices import JobState
from simulations.execution import celery as celery_execution
from simulations.execution.celery import CeleryBackend, completed_task_results
from simulations.filters import SimulationFilter
from simulations.models import CeleryTask, Simulation, SimulationCount, Task
from simulations.services import (
    TaskUpdate,
    results_store,
    simulation_cancel,
    simulation_delete,
    task_apply_update,
)
from tests.factories import result_estimator
from tests.workers import wait_for
from yaptide_site.celery import app


@pytest.fixture
def held_dispatch(monkeypatch, settings, eager_tasks):
    """Submitted jobs are not sent to a broker: the test runs their tasks itself, in-process and eagerly, and
    their results are stored in the result backend as a worker stores them."""
    settings.DUMMY_SECONDS_PER_MILLION = 0
    monkeypatch.setattr(CeleryBackend, "dispatch", lambda self, *, simulation_id, update_key: None)
    monkeypatch.setattr(CeleryBackend, "merge", lambda self, *, simulation_id: None)
    eager_tasks(propagate=True)


def _celery_id(simulation: Simulation, task_id: int) -> str:
    celery_id = uuid.uuid4().hex
    CeleryTask.objects.filter(simulation=simulation, task_id=task_id).update(celery_id=celery_id)
    return celery_id


def _run(simulation: Simulation, task_id: int, celery_id: str | None = None) -> None:
    celery_id = celery_id or _celery_id(simulation, task_id)
    tasks.run_task.apply(args=(simulation.pk, task_id), task_id=celery_id).get()


# Outside a test transaction (as in a worker) an atomic block costs no SAVEPOINT queries.
@pytest.mark.django_db(transaction=True)
def test_a_task_that_sends_no_progress_lives_in_at_most_7_queries(held_dispatch, submit, django_assert_max_num_queries):
    simulation, _ = submit(ntasks=3, primaries=3000)
    _run(simulation, 0)  # the first task also starts the job

    celery_id = _celery_id(simulation, 1)

    # The job with its input, the claim, then the result and the completion in one transaction: BEGIN, store the
    # result, lock the job, update the task (asking about the job's other tasks in the same statement), COMMIT.
    # Django counts BEGIN and COMMIT as queries: 7 in all, within the 8 of issue 15.
    with django_assert_max_num_queries(7):
        _run(simulation, 1, celery_id)

    task = Task.objects.get(simulation=simulation, task_id=1)
    assert (task.task_state, task.simulated_primaries) == (JobState.COMPLETED, 1000)
    assert TaskResult.objects.get(task_id=task.celerytask.celery_id).status == "SUCCESS"
    assert Simulation.objects.get(pk=simulation.pk).job_state == JobState.RUNNING


def _completed_with_results(submit, ntasks: int) -> Simulation:
    simulation, _ = submit(ntasks=ntasks, primaries=100 * ntasks)
    for task in CeleryTask.objects.filter(simulation=simulation):
        task.celery_id = uuid.uuid4().hex
        task.save(update_fields=["celery_id"])
        app.backend.store_result(task.celery_id, [result_estimator(file_name="z_", pages=2)], "SUCCESS")
        task_apply_update(simulation=simulation, task_id=task.task_id, update=TaskUpdate(task_state=JobState.COMPLETED))
    return simulation


@pytest.mark.parametrize("ntasks", [1, 4, 9])
def test_the_merge_reads_task_results_in_pages_of_a_fixed_number_of_queries(
    submit, ntasks, django_assert_max_num_queries
):
    simulation = _completed_with_results(submit, ntasks)
    pages = -(-ntasks // celery_execution.RESULTS_PAGE_TASKS)

    with django_assert_max_num_queries(1 + pages):
        primaries = [primaries for _estimators, primaries in completed_task_results(simulation.pk)]

    assert primaries == [100] * ntasks


def test_the_merge_holds_one_page_of_task_results_at_a_time(submit, monkeypatch):
    simulation = _completed_with_results(submit, 9)
    monkeypatch.setattr(celery_execution, "RESULTS_PAGE_TASKS", 2)
    queries = []

    with connection.execute_wrapper(lambda execute, sql, *args: queries.append(sql) or execute(sql, *args)):
        results = completed_task_results(simulation.pk)
        next(results)

    # The task list and the first page only: the other results are read as the merge reaches them.
    assert len(queries) == 2
    assert len(list(results)) == 8


# --- locks, with real concurrent connections (PostgreSQL) -------------------------------------------


def _worker_post(client, simulation, task_id: int, body: dict, key: str):
    return client.post(
        f"/api/worker/simulations/{simulation.job_id}/tasks/{task_id}/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_X_UPDATE_KEY=key,
    )


class _SimulationRowHeld:
    """Another connection holds the simulation row's lock (SELECT ... FOR UPDATE) until released."""

    def __init__(self, simulation: Simulation):
        self.simulation = simulation
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self):
        try:
            with transaction.atomic(), connection.cursor() as cursor:  # this thread's own connection
                cursor.execute(
                    f"SELECT id FROM {Simulation._meta.db_table} WHERE id = %s FOR UPDATE", [self.simulation.pk]
                )
                self.locked.set()
                self.release.wait(timeout=60)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(timeout=30)
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(timeout=60)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_progress_update_succeeds_while_another_transaction_holds_the_simulation_row(submit):
    simulation, key = submit(ntasks=2, primaries=2000)
    assert _worker_post(Client(), simulation, 0, {"task_state": "RUNNING"}, key).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '20s'")  # a progress update that waited for the lock would fail

    with _SimulationRowHeld(simulation):
        progress = _worker_post(Client(), simulation, 0, {"task_state": "RUNNING", "simulated_primaries": 40}, key)
        heartbeat = _worker_post(Client(), simulation, 0, {}, key)

    assert (progress.status_code, heartbeat.status_code) == (200, 200)
    assert Task.objects.get(simulation=simulation, task_id=0).simulated_primaries == 40


def _waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_update_that_ends_a_task_waits_for_the_simulation_row(submit):
    simulation, key = submit(ntasks=2, primaries=2000)
    responses = []

    with _SimulationRowHeld(simulation):

        def end_task():
            try:
                responses.append(_worker_post(Client(), simulation, 1, {"task_state": "COMPLETED"}, key))
            finally:
                connection.close()

        ending = threading.Thread(target=end_task)
        ending.start()
        wait_for(_waiting_for_a_lock, timeout=30, what="the completion to wait for the simulation row")
        assert Task.objects.get(simulation=simulation, task_id=1).task_state == JobState.PENDING
    ending.join(timeout=60)

    assert [r.status_code for r in responses] == [200]
    assert Task.objects.get(simulation=simulation, task_id=1).task_state == JobState.COMPLETED
    assert Simulation.objects.get(pk=simulation.pk).job_state == JobState.RUNNING


# --- the list's count, kept by the database ---------------------------------------------------------


def _counted(user) -> dict[str, int]:
    return {state: n for state, n in SimulationCount.objects.filter(user=user).values_list("job_state", "count") if n}


def _actual(user) -> dict[str, int]:
    return dict(Simulation.objects.filter(user=user).values_list("job_state").annotate(n=Count("id")).order_by())


def test_the_per_state_counts_follow_submits_state_changes_cancels_and_deletes(submit, user, other_user):
    made = [submit()[0] for _ in range(4)]
    submit(owner=other_user)
    task_apply_update(simulation=made[0], task_id=0, update=TaskUpdate(task_state=JobState.RUNNING))
    simulation_cancel(simulation=made[1])
    simulation_delete(simulation=made[1])
    Simulation.objects.filter(pk=made[2].pk).update(job_state=JobState.FAILED)
    Simulation.objects.filter(pk=made[3].pk).delete()

    assert _counted(user) == _actual(user) == {JobState.RUNNING: 1, JobState.FAILED: 1}
    assert _counted(other_user) == {JobState.PENDING: 1}


def test_one_update_of_many_simulations_moves_only_the_counts_of_those_that_changed(submit, user, other_user):
    made = [submit()[0] for _ in range(6)]
    Simulation.objects.filter(pk=made[0].pk).update(job_state=JobState.FAILED)

    Simulation.objects.filter(user=user).update(job_state=JobState.FAILED)  # five change, one stays
    Simulation.objects.filter(pk__in=[made[1].pk, made[2].pk]).update(user=other_user)

    assert _counted(user) == _actual(user) == {JobState.FAILED: 4}
    assert _counted(other_user) == _actual(other_user) == {JobState.FAILED: 2}


def test_the_list_count_comes_from_the_kept_counts_and_filters_match_it(api_client, submit, user):
    made = [submit()[0] for _ in range(5)]
    simulation_cancel(simulation=made[0])

    assert api_client.get("/api/simulations/").json()["count"] == 5
    assert api_client.get("/api/simulations/", {"job_state": "canceled"}).json()["count"] == 1
    assert api_client.get("/api/simulations/", {"job_state": "PENDING", "sim_type": "dummy"}).json()["count"] == 4


def test_a_list_page_is_four_queries_whatever_the_number_of_jobs(api_client, submit, django_assert_num_queries):
    for _ in range(30):
        submit(ntasks=1)

    # authentication, the kept count, the page's rows, the page's task progress
    for params in ({}, {"page": 2, "page_size": 10}, {"page": 3, "page_size": 10, "job_state": "PENDING"}):
        with django_assert_num_queries(4):
            response = api_client.get("/api/simulations/", params)
        assert response.status_code == 200 and len(response.json()["results"]) in (10, 20)


def test_the_list_parameters_are_parsed_without_django_filter_forms(api_client, submit, monkeypatch):
    submit()
    monkeypatch.setattr(SimulationFilter, "form", property(lambda self: pytest.fail("a filter form was built")))

    response = api_client.get("/api/simulations/", {"ordering": "-end_time", "job_state": "pending", "search": ""})

    assert response.status_code == 200 and response.json()["count"] == 1


# --- results read with gzip -------------------------------------------------------------------------


def test_a_gzip_read_of_completed_results_again_is_the_same_body_without_reading_the_pages(
    api_client, submit, django_assert_num_queries
):
    simulation, _ = submit()
    results_store(simulation=simulation, estimators=[result_estimator(file_name="z_", pages=3, bins=400)])
    Simulation.objects.filter(pk=simulation.pk).update(job_state=JobState.COMPLETED)
    url = f"/api/simulations/{simulation.job_id}/results/"
    first = api_client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")

    with django_assert_num_queries(2):  # authentication, the owner's job: no payload is read
        again = api_client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")

    assert again["Content-Encoding"] == "gzip" and again["ETag"] == first["ETag"]
    assert again.content == first.content
    assert gzip.decompress(again.content) == api_client.get(url).content


def test_new_results_are_never_answered_from_the_kept_gzip_body(api_client, submit):
    simulation, _ = submit()
    results_store(simulation=simulation, estimators=[result_estimator(file_name="z_", pages=3, bins=400)])
    Simulation.objects.filter(pk=simulation.pk).update(job_state=JobState.COMPLETED)
    url = f"/api/simulations/{simulation.job_id}/results/"
    before = api_client.get(url, HTTP_ACCEPT_ENCODING="gzip")

    results_store(simulation=simulation, estimators=[result_estimator(file_name="z_", pages=3, bins=300)])
    after = api_client.get(url, HTTP_ACCEPT_ENCODING="gzip")

    assert after["ETag"] != before["ETag"]
    pages = orjson.loads(gzip.decompress(after.content))["estimators"][0]["pages"]
    assert [len(page["data"]["values"]) for page in pages] == [300] * 3
