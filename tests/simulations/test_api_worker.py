"""The worker channel: update key auth, task/simulation updates, results and logfiles uploads."""

import json
import threading

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from simulations.choices import JobState
from simulations.models import Estimator, Logfiles, Page, Simulation, Task

from ..factories import editor_project, result_estimator, tasks_complete


def worker_post(client, simulation, path: str, body, key: str):
    return client.post(
        f"/api/worker/simulations/{simulation.job_id}/{path}",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_X_UPDATE_KEY=key,
    )


@pytest.fixture
def worker():
    return APIClient()


@pytest.fixture
def job(submit):
    return submit(ntasks=2, primaries=1000)


def task_row(simulation, task_id):
    return Task.objects.non_polymorphic().get(simulation=simulation, task_id=task_id)


def test_task_update_moves_task_and_job_to_running(worker, job):
    simulation, key = job

    response = worker_post(
        worker, simulation, "tasks/0/", {"task_state": "RUNNING", "simulated_primaries": 100, "estimated_time": 9}, key
    )

    assert response.status_code == 200
    assert response.json()["task_state"] == "RUNNING"
    task = task_row(simulation, 0)
    assert (task.task_state, task.simulated_primaries, task.estimated_time) == ("RUNNING", 100, 9)
    assert task.start_time is not None
    assert Simulation.objects.get(pk=simulation.pk).job_state == JobState.RUNNING


def test_task_update_accepts_naive_times_as_utc_and_optional_microseconds(worker, job):
    simulation, key = job

    worker_post(worker, simulation, "tasks/1/", {"task_state": "RUNNING", "start_time": "2026-01-31T10:00:00"}, key)
    response = worker_post(
        worker, simulation, "tasks/1/", {"task_state": "COMPLETED", "end_time": "2026-01-31T11:00:00.250000+01:00"}, key
    )

    body = response.json()
    assert body["start_time"] == "2026-01-31T10:00:00Z"
    assert body["end_time"] == "2026-01-31T10:00:00.250000Z"
    assert body["simulated_primaries"] == body["requested_primaries"] == 500
    assert body["estimated_time"] is None


def test_completed_task_ignores_later_updates(worker, job):
    simulation, key = job
    worker_post(worker, simulation, "tasks/0/", {"task_state": "COMPLETED"}, key)

    response = worker_post(worker, simulation, "tasks/0/", {"task_state": "RUNNING", "simulated_primaries": 1}, key)

    assert response.status_code == 200
    assert response.json()["task_state"] == "COMPLETED"
    assert task_row(simulation, 0).simulated_primaries == 500


def test_task_update_never_moves_backwards(worker, job):
    simulation, key = job
    worker_post(worker, simulation, "tasks/0/", {"task_state": "RUNNING", "simulated_primaries": 300}, key)

    worker_post(worker, simulation, "tasks/0/", {"task_state": "PENDING", "simulated_primaries": 200}, key)

    task = task_row(simulation, 0)
    assert (task.task_state, task.simulated_primaries) == ("RUNNING", 300)


def test_same_task_update_five_times_leaves_the_same_rows(worker, job):
    simulation, key = job
    update = {"task_state": "RUNNING", "simulated_primaries": 250, "start_time": "2026-01-31T10:00:00Z"}
    worker_post(worker, simulation, "tasks/0/", update, key)
    first = Task.objects.non_polymorphic().filter(simulation=simulation).values().order_by("task_id")
    first = [{k: v for k, v in row.items() if k != "last_update_time"} for row in first]

    statuses = [worker_post(worker, simulation, "tasks/0/", update, key).status_code for _ in range(5)]

    rows = Task.objects.non_polymorphic().filter(simulation=simulation).values().order_by("task_id")
    assert statuses == [200] * 5
    assert [{k: v for k, v in row.items() if k != "last_update_time"} for row in rows] == first


def test_progress_update_is_two_queries(worker, job, django_assert_num_queries):
    simulation, key = job
    worker_post(worker, simulation, "tasks/0/", {"task_state": "RUNNING"}, key)
    # key lookup, one conditional UPDATE ... RETURNING of the task row (no lock on the simulation row)
    with django_assert_num_queries(2):
        response = worker_post(worker, simulation, "tasks/0/", {"simulated_primaries": 50, "estimated_time": 3}, key)
    assert response.json()["simulated_primaries"] == 50


def test_task_update_uses_a_fixed_number_of_queries(worker, job, django_assert_max_num_queries):
    simulation, key = job
    with django_assert_max_num_queries(9):
        response = worker_post(
            worker, simulation, "tasks/0/", {"task_state": "RUNNING", "simulated_primaries": 5, "celery_id": "c-1"}, key
        )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"task_state": "DONE"}, "task_state"),
        ({"simulated_primaries": -1}, "simulated_primaries"),
        ({"simulated_primaries": "many"}, "simulated_primaries"),
        ({"requested_primaries": 2**70}, "requested_primaries"),
        ({"estimated_time": True}, "estimated_time"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"end_time": 12}, "end_time"),
        ({"celery_id": "x" * 300}, "celery_id"),
    ],
)
def test_bad_task_update_is_400_naming_the_field(worker, job, body, field):
    simulation, key = job

    response = worker_post(worker, simulation, "tasks/0/", body, key)

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert response.json()["message"]


def test_task_update_body_must_be_an_object(worker, job):
    simulation, key = job
    assert worker_post(worker, simulation, "tasks/0/", [1, 2], key).status_code == 400
    response = worker.post(
        f"/api/worker/simulations/{simulation.job_id}/tasks/0/",
        data=b"{",
        content_type="application/json",
        HTTP_X_UPDATE_KEY=key,
    )
    assert response.status_code == 400
    assert "JSON" in response.json()["message"]


def test_unknown_task_is_404(worker, job):
    simulation, key = job
    response = worker_post(worker, simulation, "tasks/7/", {"task_state": "RUNNING"}, key)
    assert response.status_code == 404
    assert response.json()["message"]


def test_wrong_key_and_unknown_job_give_the_same_error(worker, job, submit, other_user):
    simulation, key = job
    other_simulation, other_key = submit(owner=other_user)
    missing = Simulation(job_id="20260101-000000-0123456789abcdef0123456789abcdefDIRECT")

    answers = [
        worker_post(worker, simulation, "tasks/0/", {"task_state": "RUNNING"}, "wrong"),
        worker_post(worker, simulation, "tasks/0/", {"task_state": "RUNNING"}, ""),
        worker_post(worker, simulation, "tasks/0/", {"task_state": "RUNNING"}, other_key),
        worker_post(worker, missing, "tasks/0/", {"task_state": "RUNNING"}, key),
        worker_post(worker, missing, "results/", {"estimators": []}, key),
    ]

    assert {(r.status_code, r.content) for r in answers} == {(403, b'{"message":"invalid job_id or update key"}')}
    assert task_row(simulation, 0).task_state == "PENDING"


def test_user_token_does_not_open_the_worker_channel(api_client, job):
    simulation, _ = job
    response = api_client.post(
        f"/api/worker/simulations/{simulation.job_id}/tasks/0/", {"task_state": "RUNNING"}, format="json"
    )
    assert response.status_code == 403


def test_simulation_update_sets_state_and_end_time_once(worker, job):
    simulation, key = job
    tasks_complete(simulation)

    first = worker_post(worker, simulation, "", {"job_state": "COMPLETED", "end_time": "2026-01-31T12:00:00"}, key)
    again = worker_post(worker, simulation, "", {"job_state": "FAILED", "end_time": "2026-02-01T12:00:00Z"}, key)

    assert first.status_code == again.status_code == 200
    assert again.json() == {"job_id": simulation.job_id, "job_state": "COMPLETED", "end_time": "2026-01-31T12:00:00Z"}


def test_the_channel_cannot_complete_a_job_whose_tasks_run_and_the_owner_cannot_delete_it(worker, job, api_client):
    simulation, key = job
    worker_post(worker, simulation, "tasks/0/", {"task_state": "RUNNING"}, key)

    completed = worker_post(worker, simulation, "", {"job_state": "COMPLETED"}, key)
    running = worker_post(worker, simulation, "", {"job_state": "RUNNING"}, key)

    assert completed.status_code == running.status_code == 409
    assert "once all its tasks have ended" in completed.json()["message"]
    assert "follows from the task states" in running.json()["message"]
    assert api_client.delete(f"/api/simulations/{simulation.job_id}/").status_code == 409
    assert api_client.get(f"/api/simulations/{simulation.job_id}/").json()["job_state"] == "RUNNING"


def test_results_upload_stores_estimators_in_editor_order(worker, submit):
    simulation, key = submit(input_json=editor_project(outputs=("dose_xy", "z_profile")))
    body = {"estimators": [result_estimator(file_name="z_profile_"), result_estimator(file_name="dose_xy_", pages=3)]}

    response = worker_post(worker, simulation, "results/", body, key)

    assert response.status_code == 200
    assert response.json() == {"estimators": 2, "pages": 5}
    estimators = list(Estimator.objects.filter(simulation=simulation))
    assert [(e.name, e.file_name) for e in estimators] == [("dose_xy", "dose_xy_"), ("z_profile", "z_profile_")]
    page = Page.objects.get(estimator=estimators[0], page_number=2)
    assert (page.page_name, page.page_dimension, page.data) == ("DOSE", 1, body["estimators"][1]["pages"][2])


def _results_rows(simulation):
    return sorted(
        (p.estimator.file_name, p.page_number, p.page_name, p.page_dimension, bytes(p.raw_json))
        for p in Page.objects.filter(estimator__simulation=simulation).select_related("estimator")
    )


def test_same_results_upload_five_times_leaves_the_same_rows(worker, job):
    simulation, key = job
    body = {"estimators": [result_estimator(pages=3)]}
    worker_post(worker, simulation, "results/", body, key)
    once = _results_rows(simulation)

    statuses = [worker_post(worker, simulation, "results/", body, key).status_code for _ in range(5)]

    assert statuses == [200] * 5
    assert _results_rows(simulation) == once
    assert Estimator.objects.filter(simulation=simulation).count() == 1


@pytest.mark.parametrize("pages", [1, 60])
def test_results_upload_uses_a_fixed_number_of_queries(worker, job, pages, django_assert_max_num_queries):
    simulation, key = job
    body = {"estimators": [result_estimator(file_name=f"e{n}_", pages=pages) for n in range(3)]}
    with django_assert_max_num_queries(11):  # 10, and the job's stored size (its limit)
        response = worker_post(worker, simulation, "results/", body, key)
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"estimators": "all"},
        {"estimators": [{"name": "x", "pages": [{"dimensions": 5, "metadata": {}}]}]},
        {"estimators": [{"name": "x", "pages": [{"dimensions": 1, "metadata": {"page_number": "first"}}]}]},
        {"estimators": [{"pages": []}]},
        {},
    ],
)
def test_bad_results_upload_is_400_and_stores_nothing(worker, job, body):
    simulation, key = job
    response = worker_post(worker, simulation, "results/", body, key)
    assert response.status_code == 400
    assert response.json()["message"]
    assert not Estimator.objects.filter(simulation=simulation).exists()


def test_oversized_upload_is_413_json(worker, job, settings):
    simulation, key = job
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = worker_post(worker, simulation, "results/", {"estimators": [result_estimator(pages=5)]}, key)
    assert response.status_code == 413
    assert "larger than 1000 bytes" in response.json()["message"]


def test_logfiles_upload_merges_files(worker, job):
    simulation, key = job
    worker_post(worker, simulation, "logfiles/", {"logfiles": {"a.log": "one", "b.log": "two"}}, key)

    response = worker_post(worker, simulation, "logfiles/", {"logfiles": {"b.log": "second"}}, key)

    assert response.status_code == 200
    assert Logfiles.objects.get(simulation=simulation).data == {"a.log": "one", "b.log": "second"}


def test_logfiles_must_map_names_to_text(worker, job):
    simulation, key = job
    response = worker_post(worker, simulation, "logfiles/", {"logfiles": {"a.log": 1}}, key)
    assert response.status_code == 400
    assert response.json()["errors"] == {"logfiles": ["logfiles must map file names to text"]}


# --- real concurrent connections (PostgreSQL) -----------------------------------------------------


def _at_once(calls):
    """Runs the calls in threads released together; each thread has its own client and DB connection."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            results[index] = call(Client())
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_same_results_upload_eight_times_at_once_leaves_the_same_rows(submit):
    simulation, key = submit(ntasks=2)
    body = {"estimators": [result_estimator(file_name="a_", pages=4), result_estimator(file_name="b_", pages=2)]}
    worker_post(Client(), simulation, "results/", body, key)
    once = _results_rows(simulation)

    results = _at_once([lambda c: worker_post(c, simulation, "results/", body, key)] * 8)

    assert [getattr(r, "status_code", r) for r in results] == [200] * 8
    assert _results_rows(simulation) == once
    assert Estimator.objects.filter(simulation=simulation).count() == 2


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_same_task_update_eight_times_at_once_leaves_the_same_rows(submit):
    simulation, key = submit(ntasks=2)
    update = {"task_state": "RUNNING", "simulated_primaries": 250, "start_time": "2026-01-31T10:00:00Z"}

    results = _at_once([lambda c: worker_post(c, simulation, "tasks/0/", update, key)] * 8)

    assert [getattr(r, "status_code", r) for r in results] == [200] * 8
    task = task_row(simulation, 0)
    assert (task.task_state, task.simulated_primaries, task.start_time.isoformat()) == (
        "RUNNING",
        250,
        "2026-01-31T10:00:00+00:00",
    )
    assert Task.objects.filter(simulation=simulation).count() == 2


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_updates_of_one_task_never_lose_progress_nor_go_backwards(submit):
    simulation, key = submit(ntasks=2, primaries=2000)
    updates = [{"task_state": "RUNNING", "simulated_primaries": 100 * n} for n in range(1, 8)]
    updates.insert(3, {"task_state": "PENDING", "simulated_primaries": 1})

    results = _at_once([lambda c, u=u: worker_post(c, simulation, "tasks/0/", u, key) for u in updates])

    assert [getattr(r, "status_code", r) for r in results] == [200] * 8
    task = task_row(simulation, 0)
    assert (task.task_state, task.simulated_primaries) == ("RUNNING", 700)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_task_completions_leave_the_job_state_right(submit):
    simulation, key = submit(ntasks=4, primaries=4000)
    calls = [
        lambda c, n=n: worker_post(c, simulation, f"tasks/{n}/", {"task_state": "COMPLETED"}, key) for n in range(4)
    ]
    calls += [
        lambda c, n=n: worker_post(
            c, simulation, f"tasks/{n}/", {"task_state": "RUNNING", "simulated_primaries": 9}, key
        )
        for n in range(4)
    ]

    results = _at_once(calls)

    assert [getattr(r, "status_code", r) for r in results] == [200] * 8
    tasks = Task.objects.non_polymorphic().filter(simulation=simulation)
    assert {(t.task_state, t.simulated_primaries) for t in tasks} == {("COMPLETED", 1000)}
    assert Simulation.objects.get(pk=simulation.pk).job_state == JobState.MERGING_QUEUED


def test_task_times_with_unusual_offsets_are_stored_in_utc(worker, job):
    simulation, key = job
    response = worker_post(worker, simulation, "tasks/0/", {"start_time": "2026-01-31T10:00:00-22:57"}, key)
    assert response.status_code == 200
    assert response.json()["start_time"] == "2026-02-01T08:57:00Z"
    out_of_range = worker_post(worker, simulation, "tasks/1/", {"start_time": "0001-01-01T00:00:00+23:59"}, key)
    assert out_of_range.status_code == 400


def test_a_body_that_is_not_json_is_415_json(worker, job):
    simulation, key = job
    response = worker.post(
        f"/api/worker/simulations/{simulation.job_id}/tasks/0/",
        data="task_state=RUNNING",
        content_type="application/x-www-form-urlencoded",
        HTTP_X_UPDATE_KEY=key,
    )
    assert response.status_code == 415
    assert response.json()["message"]
