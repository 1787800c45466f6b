"""Celery tasks: run one simulation task, merge a job's results, reap stale tasks. All rules are in services."""

import logging
import tempfile
import time
import traceback
import zlib
from datetime import timedelta
from pathlib import Path

from celery import Task as CeleryTaskBase
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from django_celery_results.models import TaskResult

from . import execution, services
from .choices import TERMINAL_STATES, JobState
from .merge import EstimatorMerger
from .models import CelerySimulation, CeleryTask, Input, Simulation, Task
from .services import TaskClaim, TaskUpdate
from .simulators import get_simulator
from .simulators.base import SimulationCanceled, SimulatorFailed, TaskRun

logger = logging.getLogger(__name__)


def task_seed(job_id: str, task_id: int) -> int:
    """A stable seed per task (CRC-32 of job id and ordinal): a rerun reproduces its task, and tasks of a job differ."""
    return zlib.crc32(f"{job_id}:{task_id}".encode()) & 0x7FFFFFFF


class _Reporter:
    """The simulator's progress and should_stop callbacks, writing through the services.

    Progress is written at most every TASK_HEARTBEAT_SECONDS, and should_stop reads the database about once
    a second; between progress reports it refreshes last_update_time (a heartbeat), so the task's lease holds.
    """

    def __init__(self, simulation: Simulation, task_id: int):
        self.simulation = simulation
        self.task_id = task_id
        self.interval = settings.TASK_HEARTBEAT_SECONDS
        self.last_write = time.monotonic()
        self.last_check = 0.0
        self.pending: TaskUpdate | None = None
        self.stop = False

    def _write(self, update: TaskUpdate) -> None:
        services.task_apply_update(simulation=self.simulation, task_id=self.task_id, update=update)
        self.last_write = time.monotonic()
        self.pending = None

    def progress(self, simulated_primaries: int, estimated_seconds: int | None) -> None:
        self.pending = TaskUpdate(simulated_primaries=simulated_primaries, estimated_time=estimated_seconds)
        if time.monotonic() - self.last_write >= self.interval:
            self._write(self.pending)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self.last_write >= self.interval:
            self._write(self.pending or TaskUpdate())
        if not self.stop and now - self.last_check >= 1.0:
            self.last_check = now
            task_state, job_state = Task.objects.filter(
                simulation_id=self.simulation.pk, task_id=self.task_id
            ).values_list("task_state", "simulation__job_state")[0]
            self.stop = task_state in TERMINAL_STATES or job_state in TERMINAL_STATES
        return self.stop


def _fail(simulation: Simulation, task_id: int, logs: dict[str, str]) -> None:
    services.logfiles_store(
        simulation=simulation, logfiles={f"task_{task_id}/{name}": text for name, text in logs.items()}
    )
    services.task_apply_update(
        simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=JobState.FAILED, end_time=timezone.now())
    )


class SimulationTask(CeleryTaskBase):
    """Marks a task COMPLETED only after Celery has stored its result, so the merge always finds it."""

    def on_success(self, retval, task_id, args, kwargs):
        if retval is None:
            return
        simulation_pk, ordinal = args
        simulation = Simulation.objects.non_polymorphic().filter(pk=simulation_pk).first()
        if simulation is not None:
            services.task_apply_update(
                simulation=simulation,
                task_id=ordinal,
                update=TaskUpdate(task_state=JobState.COMPLETED, end_time=timezone.now()),
            )


@shared_task(bind=True, base=SimulationTask, name="simulations.run_task")
def run_task(self, simulation_pk: int, task_id: int) -> list[dict] | None:
    """Runs one task of a DIRECT job; returns its estimators as the Celery result, or None if it did not run."""
    simulation = Simulation.objects.non_polymorphic().filter(pk=simulation_pk).first()
    if simulation is None:
        return None
    claim = services.task_claim(simulation=simulation, task_id=task_id, lease_seconds=settings.TASK_LEASE_SECONDS)
    if claim == TaskClaim.DONE:
        return None
    if claim == TaskClaim.BUSY:
        # Redelivered while the row still looks alive: check again once the lease has run out.
        raise self.retry(countdown=settings.TASK_LEASE_SECONDS, max_retries=None)
    if claim == TaskClaim.RERUN and self.request.retries > settings.TASK_MAX_RERUNS:
        _fail(
            simulation, task_id, {"worker.log": f"the worker running this task was lost {self.request.retries} times\n"}
        )
        return None
    task = Task.objects.non_polymorphic().get(simulation_id=simulation_pk, task_id=task_id)
    input_data = Input.objects.get(simulation_id=simulation_pk).data
    reporter = _Reporter(simulation, task_id)
    try:
        with tempfile.TemporaryDirectory(prefix=f"yaptide-{simulation.job_id[:15]}-{task_id}-") as workdir:
            run = TaskRun(
                input_data=input_data,
                primaries=task.requested_primaries,
                seed=task_seed(simulation.job_id, task_id),
                workdir=Path(workdir),
                task_id=task_id,
            )
            return get_simulator(simulation.sim_type).run(
                run, progress=reporter.progress, should_stop=reporter.should_stop
            )
    except SimulationCanceled:
        return None
    except SimulatorFailed as exc:
        _fail(simulation, task_id, exc.logs or {"error.log": f"{exc}\n"})
        raise
    except SoftTimeLimitExceeded:
        _fail(simulation, task_id, {"error.log": f"time limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} s exceeded\n"})
        raise
    except Exception:
        _fail(simulation, task_id, {"error.log": traceback.format_exc()})
        raise


def _task_results(simulation_pk: int):
    """(estimators, simulated primaries) of each COMPLETED task, read one task result at a time."""
    from yaptide_site.celery import app

    completed = dict(
        CeleryTask.objects.filter(simulation_id=simulation_pk, task_state=JobState.COMPLETED)
        .exclude(celery_id="")
        .values_list("celery_id", "simulated_primaries")
    )
    for celery_id in completed:
        row = TaskResult.objects.filter(task_id=celery_id, status="SUCCESS").first()
        if row is not None and row.result:
            yield app.backend.decode_content(row, row.result), completed[celery_id]


@shared_task(bind=True, name="simulations.merge_results")
def merge_results(self, simulation_pk: int) -> int:
    """Merges the completed tasks' results into the job's estimators; returns the number of estimators.

    A MERGING_QUEUED job ends COMPLETED; a canceled one keeps its partial results and stays CANCELED.
    """
    simulation = Simulation.objects.non_polymorphic().filter(pk=simulation_pk).first()
    if simulation is None or simulation.job_state in (JobState.COMPLETED, JobState.FAILED):
        return 0
    canceled = simulation.job_state == JobState.CANCELED
    if not canceled:
        services.simulation_apply_update(simulation=simulation, job_state=JobState.MERGING_RUNNING)
    try:
        merger = EstimatorMerger()
        for estimators, primaries in _task_results(simulation_pk):
            merger.add(estimators, primaries)
        merged = merger.result()
        if merged:
            services.results_store(simulation=simulation, estimators=merged)
    except Exception:
        services.logfiles_store(simulation=simulation, logfiles={"merge.log": traceback.format_exc()})
        services.simulation_apply_update(simulation=simulation, job_state=JobState.FAILED, end_time=timezone.now())
        raise
    if not canceled:
        services.simulation_apply_update(simulation=simulation, job_state=JobState.COMPLETED, end_time=timezone.now())
    return len(merged)


def _merges_stalled(stale_seconds: int) -> list[int]:
    """DIRECT jobs waiting for a merge whose tasks all ended over `stale_seconds` ago (the merge was lost)."""
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    return list(
        CelerySimulation.objects.filter(job_state__in=(JobState.MERGING_QUEUED, JobState.MERGING_RUNNING))
        .annotate(last_update=Max("tasks__last_update_time"))
        .filter(last_update__lt=cutoff)
        .values_list("pk", flat=True)
    )


@shared_task(name="simulations.reap_stale_tasks")
def reap_stale_tasks() -> int:
    """Periodic (beat): marks FAILED the RUNNING tasks that sent no update for TASK_STALE_SECONDS, and sends
    again the merge of a job that has waited that long for it (merging twice stores the same results)."""
    stale_seconds = settings.TASK_STALE_SECONDS
    failed = services.tasks_fail_stale(stale_seconds=stale_seconds)
    for job_id, task_id in failed:
        logger.warning("task %s of %s sent no update for %s s: FAILED", task_id, job_id, stale_seconds)
    for simulation_pk in _merges_stalled(stale_seconds):
        logger.warning("simulation %s waited %s s for its merge: merging again", simulation_pk, stale_seconds)
        execution.simulation_merge_queued(simulation_id=simulation_pk)
    return len(failed)


# --- BATCH (Slurm over SSH): glue around simulations.batch --------------------------------------------------------


@shared_task(bind=True, name="simulations.slurm_submit", max_retries=None)
def slurm_submit(self, simulation_pk: int, update_key: str) -> str:
    """Submits a BATCH job; an unreachable cluster is retried with exponential backoff, then the job FAILS."""
    from clusters.ssh import ClusterUnreachable

    from . import batch

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

    from . import batch

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
    from . import batch

    due = batch.pairs_due()
    for cluster_id, user_id in due:
        slurm_reconcile.apply_async(args=(cluster_id, user_id), queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    return len(due)


@shared_task(name="simulations.slurm_reconcile")
def slurm_reconcile(cluster_id: int, user_id: int) -> dict:
    """One reconcile round: one connection, one squeue and one sacct for all of this user's active jobs there."""
    from dataclasses import asdict

    from . import batch

    return asdict(batch.reconcile(cluster_id=cluster_id, user_id=user_id))
