"""Hooks between the services and the Celery workers; each runs after the transaction that called it commits.

Dispatch sends one Celery task per Task row, each with a Celery id recorded on its CeleryTask first. There
is no chord: the task update that ends the last task moves the job to MERGING_QUEUED (services) and enqueues
the merge here, so a restarted worker or broker loses nothing - the job's progress lives in the database.
"""

import logging
import traceback
import uuid

from django.conf import settings
from django.db.models import Case, CharField, Value, When

from .choices import JobState, Platform
from .models import CelerySimulation, CeleryTask, Simulation

logger = logging.getLogger(__name__)


def _can_broadcast() -> bool:
    """The embedded (filesystem) broker has no broadcast, so it cannot carry revoke; Redis can."""
    return not settings.CELERY_BROKER_URL.startswith("filesystem")


def _queue() -> str:
    return settings.CELERY_TASK_DEFAULT_QUEUE


def simulation_dispatch(*, simulation_id: int, update_key: str) -> None:
    """Hands a freshly submitted simulation to its workers; called after the submit transaction commits.

    Workers write through the services directly, so they need no update key (it serves HTTP workers).
    """
    from . import tasks

    simulation = Simulation.objects.non_polymorphic().filter(pk=simulation_id).first()
    if simulation is not None and simulation.platform == Platform.BATCH:
        # SSH happens in a worker, never in the request that submitted.
        tasks.slurm_submit.apply_async(args=(simulation_id, update_key), queue=_queue())
        return
    if simulation is None or simulation.platform != Platform.DIRECT:
        return
    ordinals = list(
        CeleryTask.objects.filter(simulation_id=simulation_id).order_by("task_id").values_list("pk", "task_id")
    )
    celery_ids = {pk: uuid.uuid4().hex for pk, _ in ordinals}
    CeleryTask.objects.filter(pk__in=celery_ids).update(
        celery_id=Case(*(When(pk=pk, then=Value(cid)) for pk, cid in celery_ids.items()), output_field=CharField())
    )
    try:
        for pk, task_id in ordinals:
            # No time limits in the message: the worker that runs the simulation applies its own settings.
            tasks.run_task.apply_async(
                args=(simulation_id, task_id),
                task_id=celery_ids[pk],
                queue=_queue(),
                time_limit=None,
                soft_time_limit=None,
            )
    except Exception:
        # The broker is unreachable: fail the tasks now rather than leave a job PENDING forever.
        logger.exception("dispatch of simulation %s failed", simulation.job_id)
        _fail_unsent(simulation, traceback.format_exc())


def _fail_unsent(simulation: Simulation, log: str) -> None:
    from .services import TaskUpdate, logfiles_store, task_apply_update

    logfiles_store(simulation=simulation, logfiles={"dispatch.log": log})
    for task_id in simulation.tasks.filter(task_state=JobState.PENDING).values_list("task_id", flat=True):
        task_apply_update(simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=JobState.FAILED))


def simulation_merge_queued(*, simulation_id: int) -> None:
    """Enqueues the merge of a job's completed tasks, recording its Celery id as merge_id first."""
    from . import tasks

    merge_id = uuid.uuid4().hex
    CelerySimulation.objects.filter(pk=simulation_id).update(merge_id=merge_id)
    tasks.merge_results.apply_async(args=(simulation_id,), task_id=merge_id, queue=_queue())


def simulation_revoke(*, simulation_id: int) -> None:
    """Tells the workers of a canceled simulation to stop; called after the cancel transaction commits.

    Workers poll the database and stop on their own within about a second (queued tasks never start), so
    the revoke is only a best-effort extra. Results of the tasks that completed are merged and kept.
    """
    simulation = Simulation.objects.non_polymorphic().filter(pk=simulation_id).first()
    if simulation is not None and simulation.platform == Platform.BATCH:
        from . import tasks

        tasks.slurm_cancel.apply_async(args=(simulation_id,), queue=_queue())
        return
    if simulation is None or simulation.platform != Platform.DIRECT:
        return
    if _can_broadcast():
        from yaptide_site.celery import app

        celery_ids = list(
            CeleryTask.objects.filter(simulation_id=simulation_id, task_state=JobState.CANCELED)
            .exclude(celery_id="")
            .values_list("celery_id", flat=True)
        )
        try:
            if celery_ids:
                app.control.revoke(celery_ids)
        except Exception:
            logger.warning("revoke of simulation %s failed; workers stop by polling", simulation.job_id, exc_info=True)
    if simulation.tasks.filter(task_state=JobState.COMPLETED).exists():
        simulation_merge_queued(simulation_id=simulation_id)
