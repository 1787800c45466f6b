"""Every write with a rule: submit, task and simulation updates, results, logfiles, cancel, delete, update keys.

Job and task states only move forward (choices.STATE_RANK) and a terminal state is final. Task
updates and results uploads lock the simulation row first, so concurrent writers of one simulation
are serialized and the job state is always derived from committed task states.
"""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Count, DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from clusters.models import Cluster
from yaptide_site.errors import Conflict, InvalidInput, NotFound

from . import execution
from .choices import (
    CANCELABLE_STATES,
    DELETABLE_STATES,
    STATE_RANK,
    TERMINAL_STATES,
    InputType,
    JobState,
    Platform,
)
from .inputs import count_primaries
from .models import (
    BatchSimulation,
    BatchTask,
    CelerySimulation,
    CeleryTask,
    Estimator,
    Input,
    Logfiles,
    Page,
    Simulation,
    Task,
)
from .payloads import compress_json
from .simulators import SIMULATORS, get_simulator

# --- update keys ----------------------------------------------------------------------------------


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def update_key_issue(*, simulation: Simulation) -> str:
    """Makes a new 256-bit update key, stores only its SHA-256 (revoking the old key) and returns it once."""
    key = secrets.token_urlsafe(32)
    Simulation.objects.filter(pk=simulation.pk).update(update_key_hash=_key_hash(key))
    simulation.update_key_hash = _key_hash(key)
    return key


def update_key_matches(*, simulation: Simulation, key: str) -> bool:
    """Constant-time check of a worker's key against the stored hash."""
    return bool(simulation.update_key_hash) and hmac.compare_digest(simulation.update_key_hash, _key_hash(key or ""))


# --- submit ---------------------------------------------------------------------------------------


def job_id_new(platform: str) -> str:
    """A job id in the reference's format: YYYYmmdd-HHMMSS-<uuid4 hex><DIRECT|BATCH>."""
    return f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex}{platform}"


def _tasks_create(simulation: Simulation, task_class: type[Task], ordinals: range, primaries: int) -> None:
    """Inserts all tasks of a new simulation in two statements (Django cannot bulk-create multi-table children)."""
    content_type = ContentType.objects.get_for_model(task_class, for_concrete_model=False)
    parents = Task.objects.non_polymorphic().bulk_create(
        Task(
            simulation=simulation,
            task_id=n,
            requested_primaries=primaries,
            platform=task_class.PLATFORM,
            polymorphic_ctype=content_type,
        )
        for n in ordinals
    )
    child_fields = [f for f in task_class._meta.local_concrete_fields if not f.primary_key]
    columns = ", ".join([task_class._meta.pk.column, *(f.column for f in child_fields)])
    placeholders = ", ".join(["%s"] * (1 + len(child_fields)))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {task_class._meta.db_table} ({columns}) VALUES ({placeholders})",
            [[parent.pk, *(f.get_default() for f in child_fields)] for parent in parents],
        )


@transaction.atomic
def simulation_submit(
    *,
    user,
    sim_type: str,
    input_type: str,
    ntasks: int,
    input_json: dict | None = None,
    input_files: dict[str, str] | None = None,
    title: str = "",
    platform: str = Platform.DIRECT,
    cluster: Cluster | None = None,
    batch_options: dict | None = None,
) -> tuple[Simulation, str]:
    """Creates a PENDING simulation with its input and tasks, and dispatches it after commit.

    Returns the simulation and its update key (shown only here). A DIRECT job whose simulator cannot run
    here (e.g. its executable is missing) is refused with InvalidInput before anything is created. BATCH
    submissions are checked by batch.submission_check first (the API does); batch_options is what it returned.
    """
    if platform == Platform.DIRECT:
        if sim_type not in SIMULATORS:
            raise InvalidInput(f"unknown sim_type {sim_type!r}", field="sim_type")
        get_simulator(sim_type).check_available(
            {"input_type": input_type, "input_json": input_json, "input_files": input_files or {}}
        )
    primaries = count_primaries(
        sim_type=sim_type, input_type=input_type, input_json=input_json, input_files=input_files
    )
    ntasks = min(max(int(ntasks), 1), primaries)
    per_task = primaries // ntasks
    fields = dict(user=user, title=title or "", sim_type=sim_type, input_type=input_type, job_state=JobState.PENDING)
    if platform == Platform.BATCH:
        simulation = BatchSimulation.objects.create(job_id=job_id_new(platform), cluster=cluster, **fields)
        _tasks_create(simulation, BatchTask, range(1, ntasks + 1), per_task)
    else:
        simulation = CelerySimulation.objects.create(job_id=job_id_new(Platform.DIRECT), **fields)
        _tasks_create(simulation, CeleryTask, range(ntasks), per_task)
    payload = {"input_type": input_type, "input_files": input_files or {}, "number_of_all_primaries": primaries}
    if input_type == InputType.EDITOR:
        payload["input_json"] = input_json
    payload["primaries_per_task"] = per_task
    if platform == Platform.BATCH and batch_options is not None:
        payload["batch_options"] = batch_options
    inp = Input(simulation=simulation)
    inp.data = payload
    inp.save()
    key = update_key_issue(simulation=simulation)
    simulation.refresh_from_db(fields=["start_time"])
    transaction.on_commit(lambda: execution.simulation_dispatch(simulation_id=simulation.pk, update_key=key))
    return simulation, key


# --- task and simulation updates ------------------------------------------------------------------


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
        changes["simulated_primaries"] = requested
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


def _job_state_from_tasks(counts: dict[str, int]) -> str | None:
    """The job state that the task states imply (REFERENCE section 2, applied on every task update)."""
    total = sum(counts.values())
    if not total:
        return None
    if counts.get(JobState.PENDING, 0) == total:
        return JobState.PENDING
    if sum(counts.get(state, 0) for state in TERMINAL_STATES) < total:
        return JobState.RUNNING
    if counts.get(JobState.COMPLETED, 0):
        return JobState.MERGING_QUEUED
    return JobState.FAILED


def _fetch_locked(model: type[Simulation] | type[Task], condition: str, params: list):
    """The row of `model`'s own table matching `condition`, locked for the rest of the transaction, or None.

    One plain query: every task update runs this twice, and compiling it with the ORM costs more CPU than
    the database needs to answer it.
    """
    fields = model._meta.concrete_fields
    sql = f"SELECT {', '.join(f.column for f in fields)} FROM {model._meta.db_table} WHERE {condition}"
    if connection.features.has_select_for_update:
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    convert = getattr(connection.ops, "convert_datetimefield_value", None)  # SQLite returns naive times
    if convert is not None:
        row = [
            convert(v, None, connection) if isinstance(f, DateTimeField) else v
            for f, v in zip(fields, row, strict=True)
        ]
    return model.from_db(connection.alias, [f.attname for f in fields], row)


def _lock_simulation(simulation: Simulation) -> Simulation:
    """Locks the simulation row for the rest of the transaction and returns its current state."""
    locked = _fetch_locked(Simulation, "id = %s", [simulation.pk])
    if locked is None:
        raise Simulation.DoesNotExist(f"simulation {simulation.pk} does not exist")
    return locked


def _advance_job_state(locked: Simulation, new_state: str | None, now: datetime, end_time: datetime | None = None):
    """Moves a locked simulation forward to `new_state`; setting a terminal state also sets end_time once."""
    if locked.job_state in TERMINAL_STATES or not new_state or STATE_RANK[new_state] <= STATE_RANK[locked.job_state]:
        return {}
    changes: dict[str, Any] = {"job_state": new_state}
    if new_state in TERMINAL_STATES and locked.end_time is None:
        changes["end_time"] = end_time or now
    Simulation.objects.filter(pk=locked.pk).update(**changes)
    return changes


@transaction.atomic
def task_apply_update(*, simulation: Simulation, task_id: int, update: TaskUpdate) -> Task:
    """Applies a worker's task update under the task rules and moves the job state along with it.

    An update to a terminal task changes nothing; states and primaries never move backwards.
    """
    locked = _lock_simulation(simulation)
    task = _fetch_locked(Task, "simulation_id = %s AND task_id = %s", [simulation.pk, task_id])
    if task is None:
        raise NotFound(f"simulation {simulation.job_id} has no task {task_id}")
    now = timezone.now()
    changes = _task_changes(task, update, now)
    if not changes:
        return task
    fields = [Task._meta.get_field(name) for name in changes]
    with connection.cursor() as cursor:  # the hot statement of every progress report, without ORM compilation
        cursor.execute(
            f"UPDATE {Task._meta.db_table} SET {', '.join(f'{f.column} = %s' for f in fields)} WHERE id = %s",
            [f.get_db_prep_value(changes[f.name], connection) for f in fields] + [task.pk],
        )
    for name, value in changes.items():
        setattr(task, name, value)
    if update.celery_id is not None and task.platform == Platform.DIRECT:
        CeleryTask.objects.filter(pk=task.pk).update(celery_id=update.celery_id)
    if "task_state" in changes and locked.job_state not in TERMINAL_STATES:
        counts = dict(
            Task.objects.filter(simulation_id=simulation.pk)
            .values_list("task_state")
            .annotate(n=Count("id"))
            .order_by()
        )
        moved = _advance_job_state(locked, _job_state_from_tasks(counts), now)
        if moved.get("job_state") == JobState.MERGING_QUEUED and locked.platform == Platform.DIRECT:
            # The merge is enqueued by the one update that finished the last task; the state is in the database.
            transaction.on_commit(lambda: execution.simulation_merge_queued(simulation_id=locked.pk))
    return task


class TaskClaim:
    """What task_claim tells a worker about to run a task."""

    RUN = "run"  # the task was PENDING and is now RUNNING here
    RERUN = "rerun"  # the task was RUNNING, but its worker was lost (no update within the lease): run it again
    BUSY = "busy"  # another worker updated it within the lease: do not run it twice at the same time
    DONE = "done"  # the task or its job is terminal (finished, failed or canceled): nothing to do


@transaction.atomic
def task_claim(*, simulation: Simulation, task_id: int, lease_seconds: int) -> str:
    """Lets exactly one worker run a task at a time (a TaskClaim value); RUN and RERUN mark it RUNNING now."""
    locked = _lock_simulation(simulation)
    try:
        task = Task.objects.non_polymorphic().select_for_update().get(simulation_id=simulation.pk, task_id=task_id)
    except Task.DoesNotExist:
        return TaskClaim.DONE
    if locked.job_state in TERMINAL_STATES or task.task_state in TERMINAL_STATES:
        return TaskClaim.DONE
    claim = TaskClaim.RUN
    if task.task_state != JobState.PENDING:
        if task.last_update_time > timezone.now() - timedelta(seconds=lease_seconds):
            return TaskClaim.BUSY
        claim = TaskClaim.RERUN
    task_apply_update(simulation=locked, task_id=task_id, update=TaskUpdate(task_state=JobState.RUNNING))
    return claim


def tasks_fail_stale(*, stale_seconds: int) -> list[tuple[str, int]]:
    """Marks FAILED every RUNNING task with no update for `stale_seconds`, with a log saying so.

    The job state follows as for any task update (a merge of the rest, or FAILED). Returns (job_id, task_id)
    of the tasks it failed. Staleness is checked again under the lock, so a task that just reported survives.
    """
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    # Batch tasks are left to the Slurm reconciler, which asks the cluster instead of guessing from silence.
    candidates = Task.objects.non_polymorphic().filter(
        task_state=JobState.RUNNING, last_update_time__lt=cutoff, platform=Platform.DIRECT
    )
    failed = []
    for simulation_pk, task_id in candidates.values_list("simulation_id", "task_id"):
        with transaction.atomic():
            locked = _lock_simulation(Simulation(pk=simulation_pk))
            task = Task.objects.non_polymorphic().select_for_update().get(simulation_id=simulation_pk, task_id=task_id)
            if task.task_state != JobState.RUNNING or task.last_update_time >= cutoff:
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
    """Applies a worker's simulation update: nothing changes a terminal job, states only move forward,
    end_time is set once; batch jobs also take job_dir, array_id and collect_id."""
    locked = _lock_simulation(simulation)
    if locked.job_state in TERMINAL_STATES:
        return Simulation.objects.get(pk=simulation.pk)
    now = timezone.now()
    changes = _advance_job_state(locked, job_state, now, end_time)
    if end_time is not None and locked.end_time is None and "end_time" not in changes:
        Simulation.objects.filter(pk=locked.pk).update(end_time=end_time)
    if locked.platform == Platform.BATCH:
        batch_fields = {"job_dir": job_dir, "array_id": array_id, "collect_id": collect_id}
        batch_fields = {name: value for name, value in batch_fields.items() if value is not None}
        if batch_fields:
            BatchSimulation.objects.filter(pk=locked.pk).update(**batch_fields)
    return Simulation.objects.get(pk=simulation.pk)


# --- results and logfiles -------------------------------------------------------------------------


def _editor_output_names(simulation: Simulation) -> list[str]:
    if simulation.input_type != InputType.EDITOR:
        return []
    inp = Input.objects.filter(simulation_id=simulation.pk).first()
    project = (inp.data or {}).get("input_json") or {} if inp else {}
    outputs = (project.get("scoringManager") or {}).get("outputs") or []
    return [output.get("name", "") for output in outputs if isinstance(output, dict)]


def _estimator_position(names: list[str], name: str, file_name: str, fallback: int) -> tuple[int, str]:
    """Position and name of an estimator: the editor output it belongs to, else after all outputs."""
    for position, output_name in enumerate(names):
        if output_name in (name, file_name, file_name.rstrip("_")):
            return position, output_name
    return len(names) + fallback, name


def _validated_estimator(estimator: Any, index: int) -> tuple[str, str, dict, list]:
    where = f"estimators[{index}]"
    if not isinstance(estimator, dict):
        raise InvalidInput(f"{where} must be an object")
    metadata = estimator.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise InvalidInput(f"{where}.metadata must be an object")
    name = estimator.get("name") or metadata.get("file_corename")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"{where}.name is missing")
    file_name = metadata.get("file_corename") or name
    pages = estimator.get("pages")
    if not isinstance(pages, list):
        raise InvalidInput(f"{where}.pages must be a list")
    return name, str(file_name), metadata, pages


def _validated_page(page: Any, where: str, fallback_number: int) -> tuple[int, str, int]:
    if not isinstance(page, dict):
        raise InvalidInput(f"{where} must be an object")
    metadata = page.get("metadata") or {}
    dimensions = page.get("dimensions")
    if not isinstance(metadata, dict) or dimensions not in (0, 1, 2):
        raise InvalidInput(f"{where} needs metadata and dimensions 0, 1 or 2")
    try:
        number = int(metadata.get("page_number", fallback_number))
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}.metadata.page_number must be a number") from None
    if number < 0:
        raise InvalidInput(f"{where}.metadata.page_number must not be negative")
    name = metadata.get("name") or (page.get("data") or {}).get("name") or ""
    return number, str(name), dimensions


@transaction.atomic
def results_store(*, simulation: Simulation, estimators: list[dict]) -> list[Estimator]:
    """Upserts estimators on (simulation, file_name) and pages on (estimator, page_number) in one transaction.

    Sending the same results again leaves the same rows. Uses a fixed number of queries for any size.
    """
    if not isinstance(estimators, list):
        raise InvalidInput("estimators must be a list", field="estimators")
    _lock_simulation(simulation)
    names = _editor_output_names(simulation)
    estimator_rows: dict[str, Estimator] = {}
    page_rows: dict[tuple[str, int], tuple[int, str, int, bytes]] = {}
    for index, estimator in enumerate(estimators):
        name, file_name, metadata, pages = _validated_estimator(estimator, index)
        position, name = _estimator_position(names, name, file_name, index)
        row = Estimator(simulation_id=simulation.pk, name=name, file_name=file_name, position=position)
        row.data = metadata
        estimator_rows[file_name] = row
        for page_index, page in enumerate(pages):
            number, page_name, dimension = _validated_page(page, f"estimators[{index}].pages[{page_index}]", page_index)
            page_rows[(file_name, number)] = (number, page_name, dimension, compress_json(orjson.dumps(page)))
    if not estimator_rows:
        return []
    Simulation.objects.filter(pk=simulation.pk).update(results_version=F("results_version") + 1)
    Estimator.objects.bulk_create(
        sorted(estimator_rows.values(), key=lambda row: row.file_name),
        update_conflicts=True,
        unique_fields=["simulation", "file_name"],
        update_fields=["name", "position", "compressed_data"],
    )
    ids = dict(
        Estimator.objects.filter(simulation_id=simulation.pk, file_name__in=estimator_rows).values_list(
            "file_name", "id"
        )
    )
    pages = [
        Page(estimator_id=ids[file_name], page_number=number, page_name=name, page_dimension=dim, compressed_data=blob)
        for (file_name, _), (number, name, dim, blob) in sorted(page_rows.items())
    ]
    if pages:
        Page.objects.bulk_create(
            pages,
            update_conflicts=True,
            unique_fields=["estimator", "page_number"],
            update_fields=["page_name", "page_dimension", "compressed_data"],
        )
    return list(Estimator.objects.filter(pk__in=ids.values()).defer("compressed_data"))


@transaction.atomic
def logfiles_store(*, simulation: Simulation, logfiles: dict[str, str]) -> Logfiles:
    """Adds log files to a simulation's logfiles (a file sent again replaces its earlier text)."""
    if not isinstance(logfiles, dict) or not all(isinstance(v, str) for v in logfiles.values()):
        raise InvalidInput("logfiles must map file names to text", field="logfiles")
    _lock_simulation(simulation)
    row, _ = Logfiles.objects.get_or_create(simulation_id=simulation.pk)
    row.data = {**(row.data or {}), **logfiles}
    row.save(update_fields=["compressed_data"])
    return row


# --- cancel, delete, remove -----------------------------------------------------------------------


@transaction.atomic
def simulation_cancel(*, simulation: Simulation) -> Simulation:
    """Marks the job and its unfinished tasks CANCELED at once; workers are told after commit."""
    locked = _lock_simulation(simulation)
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
    transaction.on_commit(lambda: execution.simulation_revoke(simulation_id=locked.pk))
    return Simulation.objects.get(pk=locked.pk)


@transaction.atomic
def simulation_delete(*, simulation: Simulation) -> None:
    """Deletes a finished simulation with everything it owns; unfinished jobs cannot be deleted."""
    locked = _lock_simulation(simulation)
    if locked.job_state not in DELETABLE_STATES:
        raise Conflict(f"simulation {locked.job_id} is {locked.job_state}; only finished simulations can be deleted")
    if connection.vendor == "postgresql":
        # The schema cascades (migration simulations.0002): one statement, no child row read into Python.
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Simulation._meta.db_table} WHERE id = %s", [locked.pk])
    else:
        # Django's collector: payload rows (pages, logfiles, input) are fast-deleted without being loaded.
        Simulation.objects.non_polymorphic().filter(pk=locked.pk).delete()


@transaction.atomic
def task_remove(*, simulation: Simulation, task_id: int) -> None:
    """Removes task `task_id` of this simulation only."""
    deleted, _ = Task.objects.non_polymorphic().filter(simulation_id=simulation.pk, task_id=task_id).delete()
    if not deleted:
        raise NotFound(f"simulation {simulation.job_id} has no task {task_id}")
