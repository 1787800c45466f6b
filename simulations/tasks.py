"""Celery tasks only: each fetches by id and calls the runner, a service or the execution backend."""

import logging
import traceback

from celery import Task as CeleryTaskBase
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import runner, selectors, services
from .choices import JobState
from .execution.celery import MERGE_RESULTS, RUN_TASK, completed_task_results
from .merge import EstimatorMerger
from .models import Simulation
from .services import TaskClaim, TaskUpdate

logger = logging.getLogger(__name__)


def _simulation(pk: int) -> Simulation | None:
    return Simulation.objects.non_polymorphic().filter(pk=pk).first()


class SimulationTask(CeleryTaskBase):
    """Marks a task COMPLETED only after Celery has stored its result, so the merge always finds it."""

    def on_success(self, retval, task_id, args, kwargs):
        if retval is None:
            return
        simulation_pk, ordinal = args
        simulation = _simulation(simulation_pk)
        if simulation is not None:
            services.task_apply_update(
                simulation=simulation,
                task_id=ordinal,
                update=TaskUpdate(task_state=JobState.COMPLETED, end_time=timezone.now()),
            )


@shared_task(bind=True, base=SimulationTask, name=RUN_TASK)
def run_task(self, simulation_pk: int, task_id: int) -> list[dict] | None:
    """Runs one task of a DIRECT job; returns its estimators as the Celery result, or None if it did not run."""
    simulation = _simulation(simulation_pk)
    if simulation is None:
        return None
    claim = services.task_claim(
        simulation=simulation,
        task_id=task_id,
        lease_seconds=settings.TASK_LEASE_SECONDS,
        redeliveries=self.request.retries,
    )
    if claim == TaskClaim.BUSY:
        # Redelivered while the row still looks alive: check again once the lease has run out.
        raise self.retry(countdown=settings.TASK_LEASE_SECONDS, max_retries=None)
    if claim == TaskClaim.DONE:
        return None
    return runner.task_run(simulation, task_id)


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
    """Periodic (beat): marks FAILED the RUNNING tasks that sent no update for TASK_STALE_SECONDS, and sends
    again the merge of a job that has waited that long for it (merging twice stores the same results)."""
    stale_seconds = settings.TASK_STALE_SECONDS
    failed = services.tasks_fail_stale(stale_seconds=stale_seconds)
    for job_id, task_id in failed:
        logger.warning("task %s of %s sent no update for %s s: FAILED", task_id, job_id, stale_seconds)
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
