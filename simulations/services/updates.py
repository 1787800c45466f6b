"""Task and simulation updates: the state rules of REFERENCE section 2.

Job and task states only move forward (choices.STATE_RANK) and a terminal state is final. An update that can
change the job state locks the simulation row first, then the task row, so the writers that change task states
are serialized and the job state is always derived from committed task states. Progress that keeps the task
state is one conditional UPDATE of the task row (the rules in SQL, sql.task_update_where): concurrent progress
of one task is serialized by that row's own lock, and never waits for the simulation row.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from yaptide_site.errors import Conflict, NotFound

from .. import sql
from ..choices import MERGE_OUTCOME_STATES, MERGING_STATES, STATE_RANK, TERMINAL_STATES, JobState
from ..execution import backend_for, reaped_platforms
from ..models import BatchSimulation, CeleryTask, Simulation, Task
from .results import logfiles_store


@dataclass(frozen=True)
class TaskUpdate:
    """What a worker reports about one task; None means "not sent"."""

    task_state: str | None = None
    requested_primaries: int | None = None
    simulated_primaries: int | None = None
    estimated_time: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    celery_id: str | None = None


def _task_changes(task: Task, update: TaskUpdate, now: datetime) -> dict[str, Any]:
    """The column values the update rules of REFERENCE section 2 give for `task`; empty if terminal."""
    if task.task_state in TERMINAL_STATES:
        return {}
    changes: dict[str, Any] = {"last_update_time": now}
    state = task.task_state
    if update.task_state and STATE_RANK[update.task_state] > STATE_RANK[state]:
        state = changes["task_state"] = update.task_state
    requested = task.requested_primaries
    if update.requested_primaries:
        requested = changes["requested_primaries"] = update.requested_primaries
    if update.simulated_primaries and update.simulated_primaries > task.simulated_primaries:
        changes["simulated_primaries"] = update.simulated_primaries
    if state == JobState.COMPLETED:
        # A completed task simulated what it was asked for; a smaller request sent late never lowers the count.
        changes["simulated_primaries"] = max(requested, changes.get("simulated_primaries", task.simulated_primaries))
    if task.start_time is None and (update.start_time or state == JobState.RUNNING):
        changes["start_time"] = update.start_time or now
    end_time = task.end_time
    if end_time is None and (update.end_time or state in TERMINAL_STATES):
        end_time = changes["end_time"] = update.end_time or now
    if end_time is not None:
        changes["estimated_time"] = None
    elif update.estimated_time is not None:
        changes["estimated_time"] = update.estimated_time
    return changes


def _implied_job_state(*, all_pending: bool, any_unfinished: bool, any_completed: bool) -> str:
    """The job state that its task states imply (REFERENCE section 2, applied on every task update)."""
    if all_pending:
        return JobState.PENDING
    if any_unfinished:
        return JobState.RUNNING
    return JobState.MERGING_QUEUED if any_completed else JobState.FAILED


def _job_state_from_tasks(counts: dict[str, int]) -> str | None:
    """_implied_job_state from the counts of a job's task states; None for a job without tasks."""
    total = sum(counts.values())
    if not total:
        return None
    return _implied_job_state(
        all_pending=counts.get(JobState.PENDING, 0) == total,
        any_unfinished=sum(counts.get(state, 0) for state in TERMINAL_STATES) < total,
        any_completed=counts.get(JobState.COMPLETED, 0) > 0,
    )


def advance_job_state(locked: Simulation, new_state: str | None, now: datetime, end_time: datetime | None = None):
    """Moves a locked simulation forward to `new_state`; setting a terminal state also sets end_time once."""
    if locked.job_state in TERMINAL_STATES or not new_state or STATE_RANK[new_state] <= STATE_RANK[locked.job_state]:
        return {}
    changes: dict[str, Any] = {"job_state": new_state}
    if new_state in TERMINAL_STATES and locked.end_time is None:
        changes["end_time"] = end_time or now
    Simulation.objects.filter(pk=locked.pk).update(**changes)
    return changes


def job_state_advance(locked: Simulation, new_state: str | None, now: datetime) -> None:
    """advance_job_state, where the one move to MERGING_QUEUED also starts the merge after commit (the state is
    in the database, so a lost merge is sent again by the reaper)."""
    moved = advance_job_state(locked, new_state, now)
    if moved.get("job_state") == JobState.MERGING_QUEUED:
        backend = backend_for(locked.platform)
        transaction.on_commit(lambda: backend.merge(simulation_id=locked.pk))


def job_state_derive(locked: Simulation, now: datetime) -> None:
    """Moves a locked, unfinished job to the state its tasks imply, counted here."""
    if locked.job_state in TERMINAL_STATES:
        return
    counts = dict(
        Task.objects.filter(simulation_id=locked.pk).values_list("task_state").annotate(n=Count("id")).order_by()
    )
    job_state_advance(locked, _job_state_from_tasks(counts), now)


# For each state an update may send: the task states it leaves unchanged (same or higher rank, not final).
_KEPT_BY = {
    sent: frozenset(s for s, rank in STATE_RANK.items() if rank >= STATE_RANK[sent] and s not in TERMINAL_STATES)
    for sent in STATE_RANK
}
_NOT_STARTED = frozenset({JobState.UNKNOWN, JobState.PENDING})
_UNFINISHED = frozenset(STATE_RANK) - TERMINAL_STATES


def _sql_fields(update: TaskUpdate) -> dict[str, Any]:
    return {
        "requested": update.requested_primaries,
        "simulated": update.simulated_primaries,
        "estimated": update.estimated_time,
        "start_time": update.start_time,
        "end_time": update.end_time,
    }


def _store_celery_id(task: Task, update: TaskUpdate) -> None:
    if update.celery_id is not None:  # only a Celery task has the column; for others this updates no row
        CeleryTask.objects.filter(pk=task.pk).update(celery_id=update.celery_id)


def _task_start(
    simulation: Simulation, task_id: int, update: TaskUpdate, now: datetime, *, from_states, job_not_in=()
) -> Task | None:
    """Moves a task that has not started to RUNNING, and its job with it (a running task means a running job):
    the job row is locked only while the job has not started, by the first of its tasks to start."""

    def start_task() -> Task | None:
        return sql.task_update_where(
            simulation.pk,
            task_id,
            from_states=from_states,
            to_state=JobState.RUNNING,
            now=now,
            job_not_in=job_not_in,
            **_sql_fields(update),
        )

    if STATE_RANK[simulation.__dict__.get("job_state") or JobState.UNKNOWN] >= STATE_RANK[JobState.RUNNING]:
        return start_task()  # the job has started (states never go back): one statement, no transaction
    with transaction.atomic():
        started = sql.simulation_start(simulation.pk)
        task = start_task()
        if task is None and started:
            transaction.set_rollback(True)  # the job starts with its task, not without it
        return task


def _task_end(simulation: Simulation, task_id: int, update: TaskUpdate, now: datetime) -> Task | None:
    """Ends an unfinished task (a final state) under the job's lock, and derives the job state; None when the
    task had already ended or does not exist. Inside a caller's transaction it takes no savepoint (an error
    here rolls that transaction back)."""
    with transaction.atomic(savepoint=False):
        locked = sql.simulation_locked(simulation.pk)
        task = sql.task_update_where(
            simulation.pk,
            task_id,
            from_states=_UNFINISHED,
            to_state=update.task_state,
            terminal=True,
            now=now,
            ask_others=True,
            **_sql_fields(update),
        )
        if task is not None:
            _store_celery_id(task, update)
            new_state = _implied_job_state(
                all_pending=False,  # this task has just ended
                any_unfinished=task.others_unfinished,
                any_completed=task.others_completed or task.task_state == JobState.COMPLETED,
            )
            job_state_advance(locked, new_state, now)
        return task


def task_apply_update(*, simulation: Simulation, task_id: int, update: TaskUpdate) -> Task:
    """Applies a worker's task update under the task rules and moves the job state along with it.

    An update to a terminal task changes nothing; states and primaries never move backwards. An update that
    leaves the task state as it is (progress, a heartbeat) is one conditional UPDATE of the task row and takes
    no lock on the simulation row; one that ends a task locks the simulation row first, then the task row.
    """
    now = timezone.now()
    sent = update.task_state
    if sent not in TERMINAL_STATES:
        task = sql.task_update_where(
            simulation.pk,
            task_id,
            from_states=_KEPT_BY[sent or JobState.UNKNOWN],
            to_state=None,
            now=now,
            **_sql_fields(update),
        )
        if task is None and sent == JobState.RUNNING:
            task = _task_start(simulation, task_id, update, now, from_states=_NOT_STARTED)
        if task is not None:
            _store_celery_id(task, update)
            return task
    elif (task := _task_end(simulation, task_id, update, now)) is not None:
        return task
    # Rare: the task had ended, does not exist, or moves to another unfinished state.
    return _task_apply_locked(simulation=simulation, task_id=task_id, update=update)


@transaction.atomic
def _task_apply_locked(*, simulation: Simulation, task_id: int, update: TaskUpdate) -> Task:
    """task_apply_update under the simulation's lock, then the task's: the rules in Python (_task_changes)."""
    locked = sql.simulation_locked(simulation.pk)
    task = sql.task_locked(simulation.pk, task_id)
    if task is None:
        raise NotFound(f"simulation {simulation.job_id} has no task {task_id}")
    now = timezone.now()
    changes = _task_changes(task, update, now)
    if not changes:
        return task
    sql.task_update(task.pk, changes)
    for name, value in changes.items():
        setattr(task, name, value)
    _store_celery_id(task, update)
    if "task_state" in changes:
        job_state_derive(locked, now)
    return task


@transaction.atomic
def task_fail(*, simulation: Simulation, task_id: int, logs: dict[str, str]) -> Task:
    """Marks a task FAILED now, keeping `logs` under task_<id>/ in the job's logfiles."""
    logfiles_store(simulation=simulation, logfiles={f"task_{task_id}/{name}": text for name, text in logs.items()})
    return task_apply_update(
        simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=JobState.FAILED, end_time=timezone.now())
    )


class TaskClaim:
    """What task_claim tells a worker about to run a task."""

    RUN = "run"  # the task was PENDING and is now RUNNING here
    RERUN = "rerun"  # the task was RUNNING, but its worker was lost (no update within the lease): run it again
    BUSY = "busy"  # another worker updated it within the lease: do not run it twice at the same time
    DONE = "done"  # the task or its job is terminal (finished, failed, canceled, or given up): nothing to do


def task_claim_for_run(
    *, simulation: Simulation, task_id: int, lease_seconds: int, redeliveries: int = 0
) -> tuple[str, Task | None]:
    """task_claim, with the claimed task (RUN) as the claim left it; a PENDING task of an unfinished job is
    claimed in one conditional UPDATE, without locking the simulation row once the job has started."""
    now = timezone.now()
    task = _task_start(
        simulation,
        task_id,
        TaskUpdate(task_state=JobState.RUNNING),
        now,
        from_states={JobState.PENDING},
        job_not_in=TERMINAL_STATES,
    )
    if task is not None:
        return TaskClaim.RUN, task
    return _task_claim_locked(
        simulation=simulation, task_id=task_id, lease_seconds=lease_seconds, redeliveries=redeliveries
    ), None


def task_claim(*, simulation: Simulation, task_id: int, lease_seconds: int, redeliveries: int = 0) -> str:
    """Lets exactly one worker run a task at a time (a TaskClaim value); RUN and RERUN mark it RUNNING now.

    A task whose worker was lost more than TASK_MAX_RERUNS times (`redeliveries` of its message) is FAILED
    with a log saying so, and the claim is DONE.
    """
    claim, _task = task_claim_for_run(
        simulation=simulation, task_id=task_id, lease_seconds=lease_seconds, redeliveries=redeliveries
    )
    return claim


@transaction.atomic
def _task_claim_locked(*, simulation: Simulation, task_id: int, lease_seconds: int, redeliveries: int) -> str:
    """The claim of a task that is not PENDING (or of a finished job), under the simulation's and task's locks."""
    locked = sql.simulation_locked(simulation.pk)
    task = sql.task_locked(simulation.pk, task_id)
    if task is None or locked.job_state in TERMINAL_STATES or task.task_state in TERMINAL_STATES:
        return TaskClaim.DONE
    claim = TaskClaim.RUN
    if task.task_state != JobState.PENDING:
        if task.last_update_time > timezone.now() - timedelta(seconds=lease_seconds):
            return TaskClaim.BUSY
        claim = TaskClaim.RERUN
    if claim == TaskClaim.RERUN and redeliveries > settings.TASK_MAX_RERUNS:
        log = f"the worker running this task was lost {redeliveries} times\n"
        task_fail(simulation=locked, task_id=task_id, logs={"worker.log": log})
        return TaskClaim.DONE
    task_apply_update(simulation=locked, task_id=task_id, update=TaskUpdate(task_state=JobState.RUNNING))
    return claim


def _silent_tasks(state: str, cutoff) -> dict[str, list[tuple[int, int, int]]]:
    """(pk, simulation pk, task_id) of the tasks in `state` with no update since `cutoff`, by platform."""
    found: dict[str, list[tuple[int, int, int]]] = {}
    rows = (
        Task.objects.non_polymorphic()
        .filter(task_state=state, last_update_time__lt=cutoff, platform__in=reaped_platforms())
        .exclude(simulation__job_state__in=TERMINAL_STATES)
        .values_list("platform", "pk", "simulation_id", "task_id")
    )
    for platform, *row in rows:
        found.setdefault(platform, []).append(tuple(row))
    return found


def tasks_fail_stale(*, stale_seconds: int) -> list[tuple[str, int]]:
    """Marks FAILED every RUNNING task with no update for `stale_seconds`, with a log saying so.

    Only platforms whose backend leaves staleness to the reaper are looked at (Slurm has its reconciler). A
    task whose message waits in the broker again (its worker was killed and the message requeued, behind a
    backlog) is left to run again. The job state follows as for any task update. Returns (job_id, task_id)
    of the tasks it failed. Staleness is checked again under the lock, so a task that just reported survives.
    """
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    candidates = []
    for platform, rows in _silent_tasks(JobState.RUNNING, cutoff).items():
        view = backend_for(platform).in_broker([pk for pk, _, _ in rows])
        candidates += [(sim, task_id) for pk, sim, task_id in rows if view is None or pk not in view.waiting]
    failed = []
    for simulation_pk, task_id in candidates:
        with transaction.atomic():
            locked = sql.simulation_locked(simulation_pk)
            task = sql.task_locked(simulation_pk, task_id)
            if task is None or task.task_state != JobState.RUNNING or task.last_update_time >= cutoff:
                continue
            message = f"task {task_id} sent no update for {stale_seconds} s (worker lost?) and was marked FAILED\n"
            logfiles_store(simulation=locked, logfiles={f"task_{task_id}/reaper.log": message})
            task_apply_update(simulation=locked, task_id=task_id, update=TaskUpdate(task_state=JobState.FAILED))
            failed.append((locked.job_id, task_id))
    return failed


@transaction.atomic
def simulation_apply_update(
    *,
    simulation: Simulation,
    job_state: str | None = None,
    end_time: datetime | None = None,
    job_dir: str | None = None,
    array_id: str | None = None,
    collect_id: str | None = None,
) -> Simulation:
    """Applies a simulation update from the merge step: nothing changes a terminal job, states only move
    forward, end_time is set once; batch jobs also take job_dir, array_id and collect_id (other jobs have no
    such columns).

    The states that follow from the task states are derived, never set: a job_state other than
    MERGING_RUNNING, COMPLETED or FAILED, or one sent before all the job's tasks ended, is a Conflict.
    Returns the simulation row as it now is (the columns of its own table).
    """
    locked = sql.simulation_locked(simulation.pk)
    if locked.job_state in TERMINAL_STATES:
        return locked
    if job_state is not None and job_state not in MERGE_OUTCOME_STATES:
        raise Conflict(f"job_state {job_state} follows from the task states and cannot be set", field="job_state")
    if job_state is not None and locked.job_state not in MERGING_STATES:
        raise Conflict(
            f"simulation {locked.job_id} is {locked.job_state}: job_state {job_state} can only be set once all "
            "its tasks have ended",
            field="job_state",
        )
    now = timezone.now()
    changes = advance_job_state(locked, job_state, now, end_time)
    if end_time is not None and locked.end_time is None and "end_time" not in changes:
        Simulation.objects.filter(pk=locked.pk).update(end_time=end_time)
        changes["end_time"] = end_time
    batch_fields = {"job_dir": job_dir, "array_id": array_id, "collect_id": collect_id}
    batch_fields = {name: value for name, value in batch_fields.items() if value is not None}
    if batch_fields:
        BatchSimulation.objects.filter(pk=locked.pk).update(**batch_fields)
    for name, value in changes.items():
        setattr(locked, name, value)
    return locked


def tasks_redispatch_lost(*, lost_seconds: int) -> list[tuple[str, int]]:
    """Sends again the PENDING tasks whose messages the broker lost (a wiped Redis, a worker that took the
    message and failed before claiming it), once nothing was heard of them for `lost_seconds`.

    A task is lost only if the broker holds its message neither in a queue nor at a worker, so a long backlog
    is never sent twice. After TASK_MAX_RERUNS resends a task is FAILED with a log saying why. Returns
    (job_id, task_id) of the tasks resent or failed.
    """
    cutoff = timezone.now() - timedelta(seconds=lost_seconds)
    handled = []
    for platform, rows in _silent_tasks(JobState.PENDING, cutoff).items():
        backend = backend_for(platform)
        view = backend.in_broker([pk for pk, _, _ in rows])
        if view is None:
            continue  # the broker cannot tell what it holds
        lost: dict[int, list[int]] = {}
        for pk, simulation_pk, task_id in rows:
            if pk not in view.waiting and pk not in view.taken:
                lost.setdefault(simulation_pk, []).append(task_id)
        for simulation_pk, task_ids in lost.items():
            handled += _redispatch(backend, simulation_pk, task_ids, cutoff)
    return handled


@transaction.atomic
def _redispatch(backend, simulation_pk: int, task_ids: list[int], cutoff) -> list[tuple[str, int]]:
    locked = sql.simulation_locked(simulation_pk)
    if locked.job_state in TERMINAL_STATES:
        return []
    resend, handled = [], []
    for task_id in task_ids:
        task = sql.task_locked(simulation_pk, task_id)
        if task is None or task.task_state != JobState.PENDING or task.last_update_time >= cutoff:
            continue
        if task.dispatch_count > settings.TASK_MAX_RERUNS:
            log = f"the message of this task was lost {task.dispatch_count} times; it was not sent again\n"
            task_fail(simulation=locked, task_id=task_id, logs={"dispatch.log": log})
        else:
            sql.task_update(task.pk, {"dispatch_count": task.dispatch_count + 1, "last_update_time": timezone.now()})
            resend.append(task_id)
        handled.append((locked.job_id, task_id))
    if resend:
        transaction.on_commit(lambda: backend.redispatch(simulation_id=simulation_pk, task_ids=resend))
    return handled
