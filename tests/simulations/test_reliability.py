"""Nothing stuck, nothing lost, against real worker processes, Redis and PostgreSQL: a Redis data wipe, a
killed pool process behind a backlog, a finished task delivered twice."""

import pytest
import redis
from django.conf import settings
from django_celery_results.models import TaskResult

from simulations.choices import JobState
from simulations.models import CeleryTask
from yaptide_site.celery import app

from .pipeline_helpers import (
    detail,
    results,
    submit_dummy,
    task_result,
    task_states,
    wait_for_state,
    wait_until,
)

pytestmark = pytest.mark.integration
COMPLETED, FAILED, RUNNING = JobState.COMPLETED, JobState.FAILED, JobState.RUNNING


def test_tasks_whose_messages_a_redis_wipe_lost_are_sent_again_and_the_job_completes(celery_workers, api_client):
    celery_workers.start(concurrency=1, beat=True, TASK_LOST_SECONDS="2", REAPER_INTERVAL_SECONDS="1")
    job_id = submit_dummy(api_client, ntasks=4, dummy={"seconds": 2})
    wait_until(api_client, job_id, lambda body: RUNNING in task_states(body).values(), what="a task running")

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()

    body = wait_for_state(api_client, job_id, COMPLETED, FAILED, timeout=120)
    assert body["job_state"] == COMPLETED
    assert set(task_states(body).values()) == {COMPLETED}
    assert max(CeleryTask.objects.filter(simulation__job_id=job_id).values_list("dispatch_count", flat=True)) > 1


def test_a_killed_task_waiting_behind_a_backlog_longer_than_the_stale_limit_runs_again(celery_workers, api_client):
    worker = celery_workers.start(
        concurrency=1, beat=True, TASK_STALE_SECONDS="3", REAPER_INTERVAL_SECONDS="1", TASK_LEASE_SECONDS="2"
    )
    job_id = submit_dummy(api_client, ntasks=3, dummy={"seconds": 3})
    wait_until(api_client, job_id, lambda body: task_states(body)[0] == RUNNING, what="task 0 running")

    assert worker.kill_pool()  # task 0's message goes back to the queue, behind tasks 1 and 2 (6 s of work)

    body = wait_for_state(api_client, job_id, COMPLETED, FAILED, timeout=120)
    assert body["job_state"] == COMPLETED, detail(api_client, job_id)
    assert set(task_states(body).values()) == {COMPLETED}


def test_a_finished_task_delivered_again_keeps_its_result_and_the_merge_keeps_every_task(celery_workers, api_client):
    celery_workers.start(concurrency=2)
    job_id = submit_dummy(api_client, ntasks=2, dummy={"seconds": 0})
    wait_for_state(api_client, job_id, COMPLETED, FAILED)
    first = CeleryTask.objects.get(simulation__job_id=job_id, task_id=0)
    stored = TaskResult.objects.get(task_id=first.celery_id).result
    merged = results(api_client, job_id)

    app.signature("simulations.run_task").apply_async(
        args=(first.simulation_id, 0), task_id=first.celery_id, queue=settings.CELERY_TASK_DEFAULT_QUEUE
    ).get(timeout=30, propagate=False)
    app.signature("simulations.merge_results").apply_async(
        args=(first.simulation_id,), queue=settings.CELERY_TASK_DEFAULT_QUEUE
    ).get(timeout=30)

    assert TaskResult.objects.get(task_id=first.celery_id).result == stored
    assert task_result(job_id, 0) is not None
    assert detail(api_client, job_id)["job_state"] == COMPLETED
    assert results(api_client, job_id) == merged
