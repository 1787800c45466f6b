"""The whole DIRECT pipeline with real Celery worker processes, Redis and PostgreSQL, driven over the HTTP API."""

import pytest
from django_celery_results.models import TaskResult

from simulations.choices import JobState
from simulations.models import CelerySimulation, CeleryTask
from tests.workers import wait_for

from .pipeline_helpers import (
    assert_merged,
    detail,
    logfiles,
    results,
    submit_dummy,
    task_result,
    task_states,
    wait_for_state,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

COMPLETED, FAILED, CANCELED, RUNNING = JobState.COMPLETED, JobState.FAILED, JobState.CANCELED, JobState.RUNNING


def test_job_of_several_tasks_completes_with_the_weighted_average_of_its_task_results(celery_workers, api_client):
    celery_workers.start(concurrency=2)
    job_id = submit_dummy(api_client, ntasks=3, primaries=30_000, dummy={"seconds": 3}, outputs=("z_profile", "dose"))

    running = wait_for_state(api_client, job_id, RUNNING, COMPLETED)
    body = wait_for_state(api_client, job_id, COMPLETED)

    assert running["job_state"] in (RUNNING, COMPLETED)
    assert set(task_states(body).values()) == {COMPLETED}
    assert all(task["simulated_primaries"] == 10_000 and task["end_time"] for task in body["tasks"])
    assert body["end_time"]
    merged = results(api_client, job_id)
    assert [estimator["name"] for estimator in merged] == ["z_profile", "dose"]
    assert_merged(merged, [task_result(job_id, n) for n in range(3)])
    simulation = CelerySimulation.objects.get(job_id=job_id)
    assert TaskResult.objects.filter(task_id=simulation.merge_id, status="SUCCESS").exists()
    assert all(task.celery_id for task in CeleryTask.objects.filter(simulation=simulation))


def test_progress_is_reported_while_a_task_runs(celery_workers, api_client):
    celery_workers.start(concurrency=1)
    job_id = submit_dummy(api_client, ntasks=1, primaries=10_000, dummy={"seconds": 6})

    body = wait_until(
        api_client,
        job_id,
        lambda body: 0 < body["tasks"][0]["simulated_primaries"] < 10_000,
        what="partial progress",
    )

    task = body["tasks"][0]
    assert task["task_state"] == RUNNING and task["start_time"] and task["estimated_time"] is not None
    assert 0 < body["progress"] < 1
    wait_for_state(api_client, job_id, COMPLETED)


def test_a_failed_task_leaves_the_job_completed_with_the_results_of_the_rest(celery_workers, api_client):
    celery_workers.start(concurrency=2)
    job_id = submit_dummy(api_client, ntasks=3, dummy={"seconds": 1, "fail_tasks": [1]})

    body = wait_for_state(api_client, job_id, COMPLETED, FAILED)

    assert body["job_state"] == COMPLETED
    assert task_states(body) == {0: COMPLETED, 1: FAILED, 2: COMPLETED}
    assert "failed on request" in logfiles(api_client, job_id)["task_1/dummy.log"]
    assert_merged(results(api_client, job_id), [task_result(job_id, 0), task_result(job_id, 2)])


def test_a_job_whose_tasks_all_fail_is_failed_with_every_tasks_log(celery_workers, api_client):
    celery_workers.start(concurrency=2)
    job_id = submit_dummy(api_client, ntasks=2, dummy={"seconds": 0.5, "fail_tasks": [0, 1]})

    body = wait_for_state(api_client, job_id, COMPLETED, FAILED)

    assert body["job_state"] == FAILED and body["end_time"]
    assert set(logfiles(api_client, job_id)) >= {"task_0/dummy.log", "task_1/dummy.log"}
    assert results(api_client, job_id) == []


def test_cancel_stops_the_running_task_keeps_partial_results_and_queued_tasks_never_start(celery_workers, api_client):
    celery_workers.start(concurrency=1)
    job_id = submit_dummy(api_client, ntasks=3, dummy={"seconds": [0.5, 120, 120]})
    wait_until(
        api_client,
        job_id,
        lambda body: task_states(body) == {0: COMPLETED, 1: RUNNING, 2: JobState.PENDING},
        what="task 0 done, task 1 running, task 2 queued",
    )

    response = api_client.post(f"/api/simulations/{job_id}/cancel/")

    assert response.status_code == 200 and response.json()["job_state"] == CANCELED
    assert task_states(response.json()) == {0: COMPLETED, 1: CANCELED, 2: CANCELED}
    running = CeleryTask.objects.get(simulation__job_id=job_id, task_id=1)
    queued = CeleryTask.objects.get(simulation__job_id=job_id, task_id=2)
    worker_log = celery_workers.started[0].log_path
    stopped = f"run_task[{running.celery_id}] ignored".encode()
    wait_for(lambda: stopped in worker_log.read_bytes(), timeout=10, what="the running task to stop")
    wait_until(api_client, job_id, lambda body: results(api_client, job_id), timeout=30, what="partial results merged")
    assert_merged(results(api_client, job_id), [task_result(job_id, 0)])
    # Revoked (Redis broadcasts the revoke), or delivered and skipped because its row is CANCELED.
    wait_for(
        lambda: (
            TaskResult.objects.filter(task_id=queued.celery_id).exists()
            or f"run_task[{queued.celery_id}] ignored".encode() in worker_log.read_bytes()
        ),
        timeout=30,
        what="the queued task to be taken off the queue",
    )
    queued.refresh_from_db()
    assert queued.start_time is None
    assert detail(api_client, job_id)["job_state"] == CANCELED


def test_a_task_whose_worker_process_is_killed_mid_run_is_run_again_and_the_job_completes(celery_workers, api_client):
    worker = celery_workers.start(concurrency=2)
    job_id = submit_dummy(api_client, ntasks=2, dummy={"seconds": 4})
    wait_until(
        api_client,
        job_id,
        lambda body: all(t["task_state"] == RUNNING and t["simulated_primaries"] > 0 for t in body["tasks"]),
        what="both tasks running",
    )

    assert worker.kill_pool()

    body = wait_for_state(api_client, job_id, COMPLETED, FAILED, timeout=90)
    assert body["job_state"] == COMPLETED
    assert set(task_states(body).values()) == {COMPLETED}
    assert_merged(results(api_client, job_id), [task_result(job_id, 0), task_result(job_id, 1)])


def test_tasks_of_a_worker_killed_outright_are_failed_by_the_stale_task_reaper(celery_workers, api_client):
    first = celery_workers.start(concurrency=2)
    job_id = submit_dummy(api_client, ntasks=2, dummy={"seconds": 120})
    wait_until(
        api_client,
        job_id,
        lambda body: set(task_states(body).values()) == {RUNNING},
        what="both tasks running",
    )

    first.kill()
    celery_workers.start(concurrency=1, beat=True, TASK_STALE_SECONDS="3", REAPER_INTERVAL_SECONDS="1")

    body = wait_for_state(api_client, job_id, COMPLETED, FAILED, CANCELED, timeout=60)
    assert body["job_state"] == FAILED and body["end_time"]
    logs = logfiles(api_client, job_id)
    assert "sent no update for 3 s" in logs["task_0/reaper.log"]
    assert "task_1/reaper.log" in logs


def test_health_reports_a_running_worker_and_its_absence(celery_workers, client, settings):
    settings.HEALTH_WORKER_CHECK_SECONDS = 0  # ask the workers on every request
    worker = celery_workers.start(concurrency=1)

    response = client.get("/health/")

    assert response.status_code == 200, response.content
    assert response.json()["broker"]["ok"] and response.json()["worker"]["workers"]
    worker.stop()
    response = client.get("/health/")
    assert response.status_code == 503 and response.json()["worker"]["ok"] is False


def test_a_shieldhit_job_runs_the_executable_on_the_workers_and_merges(celery_workers, api_client, settings):
    from tests.simulations.test_simulators_real import FAKES, SHIELDHIT_FILES

    settings.SHIELDHIT_PATH = str(FAKES / "shieldhit")
    celery_workers.start(concurrency=2, SHIELDHIT_PATH=settings.SHIELDHIT_PATH, FAKE_SIM_SECONDS="1")
    body = {"sim_type": "shieldhit", "ntasks": 2, "input_type": "files", "input_files": SHIELDHIT_FILES}
    response = api_client.post("/api/simulations/", body, format="json")
    assert response.status_code == 201, response.content
    job_id = response.json()["job_id"]

    body = wait_for_state(api_client, job_id, COMPLETED, FAILED)

    assert body["job_state"] == COMPLETED, logfiles(api_client, job_id)
    merged = results(api_client, job_id)
    assert merged and all(estimator["pages"] for estimator in merged)
    assert_merged(merged, [task_result(job_id, 0), task_result(job_id, 1)])


def test_a_task_over_the_time_limit_is_failed_with_a_log(celery_workers, api_client):
    # The tasks are registered in the sending process too, as in the web server: its own (long) limits must not
    # travel in the message.
    import simulations.tasks  # noqa: F401

    celery_workers.start(concurrency=1, SIMULATION_TIME_LIMIT_SECONDS="5")
    job_id = submit_dummy(api_client, ntasks=1, dummy={"seconds": 120})

    body = wait_for_state(api_client, job_id, COMPLETED, FAILED, timeout=30)

    assert body["job_state"] == FAILED
    assert "time limit of 3 s exceeded" in logfiles(api_client, job_id)["task_0/error.log"]
