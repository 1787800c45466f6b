"""Celery tasks only: each fetches by id and calls the runner, a service or the execution backend."""

import logging
import time
import traceback

from celery import Task as CeleryTaskBase
from celery import shared_task, states
from celery.exceptions import Ignore
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from . import runner, selectors, services, sql
from .choices import JobState
from .execution.celery import MERGE_RESULTS, RUN_TASK, completed_task_results
from .merge import EstimatorMerger
from .models import Simulation
from .services import TaskClaim, TaskUpdate

logger = logging.getLogger(__name__)


def _simulation(pk: int) -> Simulation | None:
    return Simulation.objects.non_polymorphic().filter(pk=pk).first()


# Seconds before a task whose database was unreachable tries its claim again: 1, 2, 4, ... at most a minute.
CLAIM_RETRY_MAX_SECONDS = 60
# Waits before a finished task tries again to store its result through a database outage (about 5 min).
COMPLETE_RETRY_SECONDS = (1, 2, 4, 8, 15, 30, 60, 60, 60, 60)


def _complete(celery_task: CeleryTaskBase, simulation: Simulation, ordinal: int, estimators: list[dict]) -> None:
    """Stores a task's estimators as its Celery result and marks the task COMPLETED, in one transaction: the merge
    always finds the result of a COMPLETED task, and a task costs one durable commit less. Through a database
    outage it tries again for about five minutes before the error is raised (the task then stays RUNNING until
    the reaper marks it FAILED)."""
    update = TaskUpdate(task_state=JobState.COMPLETED, end_time=timezone.now())
    for wait in (*COMPLETE_RETRY_SECONDS, None):
        try:
            with transaction.atomic():
                celery_task.backend.store_result(
                    celery_task.request.id, estimators, states.SUCCESS, request=celery_task.request
                )
                services.task_apply_update(simulation=simulation, task_id=ordinal, update=update)
            return
        except DatabaseError:
            if wait is None:
                raise
            logger.warning(
                "task %s of simulation %s: database unreachable, storing its result in %s s", ordinal, simulation, wait
            )
            connection.close()
            time.sleep(wait)


# No STARTED state: a second delivery of a finished task would store it over the task's result. The task stores
# its own result (_complete), so Celery stores only failures and retries.
@shared_task(bind=True, name=RUN_TASK, track_started=False, ignore_result=True, store_errors_even_if_ignored=True)
def run_task(self, simulation_pk: int, task_id: int) -> None:
    """Runs one task of a DIRECT job and stores its estimators as the Celery result.

    A run that does not happen (the task or job is gone, done or canceled) raises Ignore, so Celery stores
    nothing: a second delivery of a finished task never overwrites its result. Until the task is claimed,
    a database error retries the message with backoff instead of losing it. A task that sends no progress costs
    7 queries and 2 commits from claim to COMPLETED: the job with its input (one statement), the claim, then one
    transaction of BEGIN, the stored result, the job's lock, one UPDATE that also asks about the other tasks, and
    COMMIT.
    """
    task = None
    try:
        claim = TaskClaim.DONE
        if found := sql.simulation_for_run(simulation_pk):
            simulation, input_row = found
            claim, task = services.task_claim_for_run(
                simulation=simulation,
                task_id=task_id,
                lease_seconds=settings.TASK_LEASE_SECONDS,
                redeliveries=self.request.retries,
            )
    except DatabaseError as exc:
        countdown = min(2**self.request.retries, CLAIM_RETRY_MAX_SECONDS)
        logger.warning(
            "task %s of simulation %s: database unreachable, retrying in %s s", task_id, simulation_pk, countdown
        )
        raise self.retry(exc=exc, countdown=countdown, max_retries=None) from exc
    if claim == TaskClaim.BUSY:
        # Redelivered while the row still looks alive: check again once the lease has run out.
        raise self.retry(countdown=settings.TASK_LEASE_SECONDS, max_retries=None)
    if claim == TaskClaim.DONE:
        raise Ignore()
    estimators = runner.task_run(simulation, task_id, task=task, input_data=input_row.data if input_row else None)
    if estimators is None:  # canceled while it ran
        raise Ignore()
    _complete(self, simulation, task_id, estimators)


@shared_task(name=MERGE_RESULTS)
def merge_results(simulation_pk: int) -> int:
    """Merges the completed tasks' results into the job's estimators; returns the number of estimators."""
    simulation = _simulation(simulation_pk)
    if simulation is None or not services.simulation_merge_start(simulation=simulation):
        return 0
    try:
        merger = EstimatorMerger()
        for estimators, primaries in completed_task_results(simulation_pk):
            merger.add(estimators, primaries)
        merged = merger.result()
    except Exception:
        services.simulation_merge_fail(simulation=simulation, log=traceback.format_exc())
        raise
    services.simulation_merge_finish(simulation=simulation, estimators=merged)
    return len(merged)


@shared_task(name="simulations.reap_stale_tasks", ignore_result=True)
def reap_stale_tasks() -> int:
    """Periodic (beat): marks FAILED the RUNNING tasks that sent no update for TASK_STALE_SECONDS, sends again
    the PENDING tasks whose messages were lost, and the merge of a job that has waited TASK_STALE_SECONDS for it
    (merging twice stores the same results)."""
    stale_seconds = settings.TASK_STALE_SECONDS
    failed = services.tasks_fail_stale(stale_seconds=stale_seconds)
    for job_id, task_id in failed:
        logger.warning("task %s of %s sent no update for %s s: FAILED", task_id, job_id, stale_seconds)
    for job_id, task_id in services.tasks_redispatch_lost(lost_seconds=settings.TASK_LOST_SECONDS):
        logger.warning("task %s of %s: its message was lost; sent again (or FAILED after too many)", task_id, job_id)
    for simulation_pk, platform in selectors.merges_stalled(stale_seconds=stale_seconds):
        logger.warning("simulation %s waited %s s for its merge: merging again", simulation_pk, stale_seconds)
        services.simulation_merge_resend(simulation_id=simulation_pk, platform=platform)
    return len(failed)


# --- BATCH (Slurm over SSH): glue around simulations.batch --------------------------------------------------------


@shared_task(bind=True, name="simulations.slurm_submit", max_retries=None)
def slurm_submit(self, simulation_pk: int, update_key: str) -> str:
    """Submits a BATCH job; an unreachable cluster is retried with exponential backoff, then the job FAILS."""
    from clusters.ssh import ClusterUnreachable

    from .execution import slurm as batch

    final = self.request.retries >= settings.SLURM_SUBMIT_RETRIES
    try:
        return batch.submit(simulation_id=simulation_pk, update_key=update_key, final_attempt=final)
    except ClusterUnreachable as error:
        countdown = min(settings.SLURM_RETRY_SECONDS * 2**self.request.retries, settings.SLURM_MAX_BACKOFF_SECONDS)
        logger.warning("submit of %s: %s; retry in %s s", simulation_pk, error, countdown)
        raise self.retry(countdown=countdown) from None


@shared_task(bind=True, name="simulations.slurm_cancel", max_retries=None)
def slurm_cancel(self, simulation_pk: int) -> str:
    """scancel of a canceled BATCH job's array and collect job; retried until Slurm no longer lists them."""
    from clusters.ssh import ClusterUnreachable

    from .execution import slurm as batch

    try:
        outcome = batch.cancel(simulation_id=simulation_pk)
    except ClusterUnreachable as error:
        outcome = f"unreachable: {error}"
    if outcome == "waiting" or outcome.startswith("unreachable"):
        if self.request.retries >= settings.SLURM_SUBMIT_RETRIES:
            return outcome
        countdown = min(settings.SLURM_RETRY_SECONDS * 2**self.request.retries, settings.SLURM_MAX_BACKOFF_SECONDS)
        raise self.retry(countdown=countdown)
    return outcome


@shared_task(name="simulations.slurm_reconcile_all")
def slurm_reconcile_all() -> int:
    """Periodic (beat): one reconcile round per (cluster, user) with active batch jobs whose interval is due."""
    from .execution import slurm as batch

    due = batch.pairs_due()
    for cluster_id, user_id in due:
        slurm_reconcile.apply_async(args=(cluster_id, user_id), queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    return len(due)


@shared_task(name="simulations.slurm_reconcile")
def slurm_reconcile(cluster_id: int, user_id: int) -> dict:
    """One reconcile round: one connection, one squeue and one sacct for all of this user's active jobs there."""
    from dataclasses import asdict

    from .execution import slurm as batch

    return asdict(batch.reconcile(cluster_id=cluster_id, user_id=user_id))
