"""A job's life around its tasks: dispatch, merge outcome, cancel, delete, and removing a task.

The execution backend of the job's platform is told after each transaction commits; what follows when it
fails, and which results a canceled job keeps, is decided here.
"""

import logging

from django.db import connection, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from yaptide_site.errors import Conflict, NotFound

from .. import sql
from ..choices import CANCELABLE_STATES, DELETABLE_STATES, TERMINAL_STATES, JobState
from ..execution import DispatchFailed, backend_for
from ..models import Simulation, Task
from .results import logfiles_store, results_store
from .updates import TaskUpdate, simulation_apply_update, task_apply_update

logger = logging.getLogger(__name__)


def simulation_dispatch(*, simulation: Simulation, update_key: str) -> None:
    """Hands a freshly submitted job to its platform (after the submit commits). If the platform does not
    take it, its tasks are FAILED at once with the reason in dispatch.log, rather than left PENDING forever."""
    try:
        backend_for(simulation.platform).dispatch(simulation_id=simulation.pk, update_key=update_key)
    except DispatchFailed as exc:
        logger.error("dispatch of simulation %s failed: %s", simulation.job_id, exc)
        logfiles_store(simulation=simulation, logfiles={"dispatch.log": f"{exc}\n"})
        pending = simulation.tasks.filter(task_state=JobState.PENDING).values_list("task_id", flat=True)
        for task_id in pending:
            task_apply_update(simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=JobState.FAILED))


@transaction.atomic
def simulation_cancel(*, simulation: Simulation) -> Simulation:
    """Marks the job and its unfinished tasks CANCELED at once; workers are told after commit."""
    locked = sql.simulation_locked(simulation.pk)
    if locked.job_state not in CANCELABLE_STATES:
        raise Conflict(f"simulation {locked.job_id} is {locked.job_state} and cannot be canceled")
    now = timezone.now()
    Simulation.objects.filter(pk=locked.pk).update(job_state=JobState.CANCELED, end_time=locked.end_time or now)
    Task.objects.filter(simulation_id=locked.pk).exclude(task_state__in=TERMINAL_STATES).update(
        # end_time is set once: a task that already reported its end keeps it.
        task_state=JobState.CANCELED,
        end_time=Coalesce(F("end_time"), Value(now, output_field=DateTimeField())),
        estimated_time=None,
        last_update_time=now,
    )
    transaction.on_commit(lambda: _stop_canceled(locked))
    return Simulation.objects.get(pk=locked.pk)


@transaction.atomic
def simulation_delete(*, simulation: Simulation) -> None:
    """Deletes a finished simulation with everything it owns; unfinished jobs cannot be deleted."""
    locked = sql.simulation_locked(simulation.pk)
    if locked.job_state not in DELETABLE_STATES:
        raise Conflict(f"simulation {locked.job_id} is {locked.job_state}; only finished simulations can be deleted")
    if connection.vendor == "postgresql":
        # The schema cascades (migration simulations.0002): one statement, no child row read into Python.
        sql.simulation_delete_cascading(locked.pk)
    else:
        # Django's collector: payload rows (pages, logfiles, input) are fast-deleted without being loaded.
        Simulation.objects.non_polymorphic().filter(pk=locked.pk).delete()


@transaction.atomic
def task_remove(*, simulation: Simulation, task_id: int) -> str:
    """Removes task `task_id` of this simulation only. An unfinished task is canceled first (its worker stops,
    and the message says so), and the job state follows as for any task update: removing a running job's last
    unfinished task lets it merge or end instead of leaving it RUNNING forever."""
    locked = sql.simulation_locked(simulation.pk)
    task = sql.task_locked(locked.pk, task_id)
    if task is None:
        raise NotFound(f"simulation {locked.job_id} has no task {task_id}")
    message = f"Removed task {task_id} of {locked.job_id}."
    if task.task_state not in TERMINAL_STATES:
        task_apply_update(simulation=locked, task_id=task_id, update=TaskUpdate(task_state=JobState.CANCELED))
        backend = backend_for(locked.platform)
        transaction.on_commit(lambda: backend.cancel(simulation_id=locked.pk))
        message = f"Canceled and removed task {task_id} of {locked.job_id}."
    # The job state followed the cancel; a task that had already ended leaves the state as it was.
    Task.objects.non_polymorphic().filter(pk=task.pk).delete()
    return message


def _stop_canceled(simulation: Simulation) -> None:
    """After a cancel commits: the platform stops the tasks, and the completed tasks' results are merged."""
    backend = backend_for(simulation.platform)
    backend.cancel(simulation_id=simulation.pk)
    if simulation.tasks.filter(task_state=JobState.COMPLETED).exists():
        backend.merge(simulation_id=simulation.pk)


def simulation_merge_resend(*, simulation_id: int, platform: str) -> None:
    """Starts again the merge of a job that waited too long for it (merging twice stores the same results)."""
    backend_for(platform).merge(simulation_id=simulation_id)


def simulation_merge_start(*, simulation: Simulation) -> bool:
    """Whether the job's merge should run: not for a COMPLETED or FAILED job (a merge sent twice). A job waiting
    for its merge moves to MERGING_RUNNING; a CANCELED job is merged as it is (its completed tasks' results)."""
    state = Simulation.objects.filter(pk=simulation.pk).values_list("job_state", flat=True).first()
    if state in (None, JobState.COMPLETED, JobState.FAILED):
        return False
    simulation_apply_update(simulation=simulation, job_state=JobState.MERGING_RUNNING)
    return True


@transaction.atomic
def simulation_merge_finish(*, simulation: Simulation, estimators: list[dict]) -> None:
    """Stores the merged results; the job ends COMPLETED, or stays CANCELED with its partial results."""
    if estimators:
        results_store(simulation=simulation, estimators=estimators)
    simulation_apply_update(simulation=simulation, job_state=JobState.COMPLETED, end_time=timezone.now())


@transaction.atomic
def simulation_merge_fail(*, simulation: Simulation, log: str) -> None:
    """A merge that raised: its log is kept and the job ends FAILED (a CANCELED job stays CANCELED)."""
    logfiles_store(simulation=simulation, logfiles={"merge.log": log})
    simulation_apply_update(simulation=simulation, job_state=JobState.FAILED, end_time=timezone.now())
