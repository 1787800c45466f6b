"""Every hand-written statement of the simulations app.

These are the hot paths of the benchmark (a task update, the worker and owner lookups, results reads): each
runs on every request of its kind, and compiling such small statements with the ORM costs more CPU than the
database spends answering them. Everything else goes through the ORM.
"""

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from yaptide_site.db import fetch_all, fetch_model, select_sql, to_model

from .models import Estimator, Input, Page, Simulation, Task

_SIMULATION = Simulation._meta.db_table
_ESTIMATOR = Estimator._meta.db_table
_INPUT = Input._meta.db_table
_PAGE = Page._meta.db_table
_TASK = Task._meta.db_table
_TERMINAL = ("COMPLETED", "FAILED", "CANCELED")  # choices.TERMINAL_STATES (choices imports nothing from here)
_UNFINISHED = ("UNKNOWN", "PENDING", "RUNNING")  # the task states before a terminal one

WORKER_FIELDS = ("id", "job_id", "platform", "input_type", "job_state", "update_key_hash")
OWNER_FIELDS = ("id", "job_id", "platform", "input_type", "job_state", "results_version")
# In the model's field order, as to_model wants.
RUN_FIELDS = ("id", "job_id", "platform", "input_type", "sim_type", "job_state")
_WORKER_SQL = f"SELECT {', '.join(WORKER_FIELDS)} FROM {_SIMULATION} WHERE job_id = %s"
_RUN_SQL = (
    f"SELECT {', '.join(f's.{name}' for name in RUN_FIELDS)}, i.compressed_data FROM {_SIMULATION} s "
    f"LEFT JOIN {_INPUT} i ON i.simulation_id = s.id WHERE s.id = %s"
)
_OWNER_SQL = f"SELECT {', '.join(OWNER_FIELDS)} FROM {_SIMULATION} WHERE user_id = %s AND job_id = %s"
_PAGES_SQL = (
    f"SELECT e.id, e.name, e.file_name, e.compressed_data, p.compressed_data FROM {_ESTIMATOR} e "
    f"JOIN {_PAGE} p ON p.estimator_id = e.id WHERE e.simulation_id = %s AND (e.name = %s OR e.file_name = %s)"
)
_RESULTS_SQL = (
    f"SELECT e.id, e.name, e.file_name, e.compressed_data, p.compressed_data FROM {_ESTIMATOR} e "
    f"LEFT JOIN {_PAGE} p ON p.estimator_id = e.id WHERE e.simulation_id = %s ORDER BY e.position, e.id, p.page_number"
)


def simulation_locked(pk: int) -> Simulation:
    """The simulation row (its own table's columns), locked for the rest of the transaction."""
    locked = fetch_model(Simulation, select_sql(Simulation, "id = %s", lock=True), [pk])
    if locked is None:
        raise Simulation.DoesNotExist(f"simulation {pk} does not exist")
    return locked


def task_locked(simulation_pk: int, task_id: int) -> Task | None:
    """Task `task_id` of a simulation (its own table's columns), locked for the rest of the transaction."""
    return fetch_model(
        Task, select_sql(Task, "simulation_id = %s AND task_id = %s", lock=True), [simulation_pk, task_id]
    )


def task_update(pk: int, changes: dict[str, Any]) -> None:
    """One UPDATE of a task row's own columns: the statement of every progress report."""
    fields = [Task._meta.get_field(name) for name in changes]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_TASK} SET {', '.join(f'{field.column} = %s' for field in fields)} WHERE id = %s",
            [field.get_db_prep_value(changes[field.name], connection) for field in fields] + [pk],
        )


def _greater(a: str, b: str) -> str:
    """The larger of two SQL expressions (GREATEST on PostgreSQL, MAX on SQLite: one text for both)."""
    return f"CASE WHEN {a} >= {b} THEN {a} ELSE {b} END"


def _in(column: str, values: Collection[str]) -> tuple[str, list]:
    values = sorted(values)
    if not values:
        return "1 = 0", []
    return f"{column} IN ({', '.join(['%s'] * len(values))})", values


def task_update_where(
    simulation_pk: int,
    task_id: int,
    *,
    from_states: Collection[str],
    to_state: str | None,
    now: datetime,
    requested: int | None = None,
    simulated: int | None = None,
    estimated: int | None = None,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    terminal: bool = False,
    job_not_in: Collection[str] = (),
    ask_others: bool = False,
) -> Task | None:
    """One conditional UPDATE ... RETURNING of a task in one of `from_states`: the task rules of
    services.updates._task_changes written in SQL, so the row is read and written in one round trip.

    `to_state` (None keeps the state; `terminal` says whether it is final) replaces the state; primaries never
    go backwards (a COMPLETED task simulated at least what it was asked for); start and end time are set once
    (RUNNING sets the start, a final state the end); an ended task has no estimated time. With `job_not_in`,
    a task whose job is in one of those states is not touched. With `ask_others` the task also carries
    `others_unfinished` and `others_completed`: whether another task of the job is unfinished, and whether
    another has COMPLETED (two probes of the index task_simulation_state, however many tasks the job has).
    None when no row matched.
    """
    field = Task._meta.get_field
    prep = {name: field(name).get_db_prep_value for name in ("start_time", "end_time", "last_update_time")}
    sets: list[str] = ["last_update_time = %s"]
    params: list[Any] = [prep["last_update_time"](now, connection)]
    new_requested = "requested_primaries"
    if requested:
        sets.append("requested_primaries = %s")
        params.append(requested)
        new_requested, requested_params = "%s", [requested]
    else:
        requested_params = []
    new_simulated, simulated_params = "simulated_primaries", []
    if simulated:
        new_simulated, simulated_params = _greater("simulated_primaries", "%s"), [simulated, simulated]
    if to_state == "COMPLETED":
        sets.append(f"simulated_primaries = {_greater(new_requested, new_simulated)}")
        params += requested_params + simulated_params + requested_params + simulated_params
    elif simulated:
        sets.append(f"simulated_primaries = {new_simulated}")
        params += simulated_params
    if to_state is not None:
        sets.append("task_state = %s")
        params.append(to_state)
    if start_time is not None:
        sets.append("start_time = COALESCE(start_time, %s)")
        params.append(prep["start_time"](start_time, connection))
    elif to_state == "RUNNING":
        sets.append("start_time = COALESCE(start_time, %s)")
        params.append(prep["start_time"](now, connection))
    elif to_state is None:
        sets.append("start_time = CASE WHEN start_time IS NULL AND task_state = 'RUNNING' THEN %s ELSE start_time END")
        params.append(prep["start_time"](now, connection))
    if end_time is not None or terminal:
        sets.append("end_time = COALESCE(end_time, %s)")
        params.append(prep["end_time"](end_time or now, connection))
        sets.append("estimated_time = NULL")
    elif estimated is not None:
        sets.append("estimated_time = CASE WHEN end_time IS NULL THEN %s END")
        params.append(estimated)
    else:
        sets.append("estimated_time = CASE WHEN end_time IS NULL THEN estimated_time END")
    state_condition, state_params = _in("task_state", from_states)
    where = f"simulation_id = %s AND task_id = %s AND {state_condition}"
    params += [simulation_pk, task_id, *state_params]
    if job_not_in:
        job_condition, job_params = _in("job_state", job_not_in)
        where += f" AND NOT EXISTS (SELECT 1 FROM {_SIMULATION} WHERE id = %s AND {job_condition})"
        params += [simulation_pk, *job_params]
    attnames = [f.attname for f in Task._meta.concrete_fields]
    columns = ", ".join(f.column for f in Task._meta.concrete_fields)
    returning, returning_params = "", []
    if ask_others:
        # The job's other tasks, asked in the same statement (this row is left out, so its change cannot matter).
        unfinished, unfinished_params = _in("task_state", _UNFINISHED)
        others = f"SELECT 1 FROM {_TASK} WHERE simulation_id = %s AND task_id <> %s"
        returning = f", EXISTS ({others} AND {unfinished}), EXISTS ({others} AND task_state = 'COMPLETED')"
        returning_params = [simulation_pk, task_id, *unfinished_params, simulation_pk, task_id]
    rows = fetch_all(
        f"UPDATE {_TASK} SET {', '.join(sets)} WHERE {where} RETURNING {columns}{returning}",
        params + returning_params,
    )
    if not rows:
        return None
    task = to_model(Task, attnames, rows[0][: len(attnames)])
    if ask_others:
        task.others_unfinished, task.others_completed = (bool(flag) for flag in rows[0][len(attnames) :])
    return task


def simulation_start(pk: int) -> bool:
    """Moves a job that has not started (UNKNOWN or PENDING) to RUNNING in one conditional UPDATE; whether it
    moved. Only the first task to start a job locks its row; later ones match nothing."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {_SIMULATION} SET job_state = 'RUNNING' WHERE id = %s AND job_state IN ('UNKNOWN', 'PENDING')",
            [pk],
        )
        return cursor.rowcount > 0


def simulation_delete_cascading(pk: int) -> None:
    """Deletes a simulation in one statement; the schema cascades to everything it owns (PostgreSQL only)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_SIMULATION} WHERE id = %s", [pk])


def simulation_for_worker(job_id: str) -> Simulation | None:
    """The simulation a worker names, with WORKER_FIELDS loaded."""
    return fetch_model(Simulation, _WORKER_SQL, [job_id], WORKER_FIELDS)


def simulation_for_run(pk: int) -> tuple[Simulation, Input | None] | None:
    """The simulation a task runs in (RUN_FIELDS loaded) and its input, in one statement; None if it is gone."""
    rows = fetch_all(_RUN_SQL, [pk])
    if not rows:
        return None
    *fields, blob = rows[0]
    simulation = to_model(Simulation, RUN_FIELDS, fields)
    return simulation, None if blob is None else Input(simulation=simulation, compressed_data=blob)


def simulation_of_owner(user_id: int, job_id: str) -> Simulation | None:
    """The user's simulation with this job_id, with OWNER_FIELDS loaded."""
    return fetch_model(Simulation, _OWNER_SQL, [user_id, job_id], OWNER_FIELDS)


def task_progress(simulation_ids: Sequence[int]) -> list[tuple]:
    """(simulation_id, task count, requested primaries, simulated primaries) per simulation."""
    return fetch_all(
        f"SELECT simulation_id, COUNT(*), SUM(requested_primaries), SUM(simulated_primaries) FROM {_TASK} "
        f"WHERE simulation_id IN ({', '.join(['%s'] * len(simulation_ids))}) GROUP BY simulation_id",
        list(simulation_ids),
    )


def estimator_pages(simulation_pk: int, name: str, condition: str = "", params: Sequence = ()) -> list[tuple]:
    """(estimator id, name, file name, metadata blob, page blob) of the estimators named `name` (by name or file
    name), their pages ordered, restricted by a condition on `p.page_number` if one is given."""
    sql = f"{_PAGES_SQL} AND {condition}" if condition else _PAGES_SQL
    return fetch_all(f"{sql} ORDER BY e.id, p.page_number", [simulation_pk, name, name, *params])


def results_rows(simulation_pk: int) -> list[tuple]:
    """(estimator id, name, file name, metadata blob, page blob or None) of every estimator, in editor order."""
    return fetch_all(_RESULTS_SQL, [simulation_pk])


def results_rows_stream(simulation_pk: int, batch_bytes: int = 2 * 1024 * 1024) -> Iterator[tuple]:
    """The rows of results_rows from one statement (a server-side cursor on PostgreSQL), fetched about
    `batch_bytes` of page blobs at a time, so a whole job's results never sit in memory at once. Closing the
    iterator closes the cursor."""
    cursor = connection.chunked_cursor()
    try:
        cursor.execute(_RESULTS_SQL, [simulation_pk])
        batch = 2
        while rows := cursor.fetchmany(batch):
            yield from rows
            row_bytes = sum(len(row[4] or b"") + len(row[3] or b"") for row in rows) / len(rows)
            batch = max(1, min(512, int(batch_bytes / max(row_bytes, 1))))
    finally:
        cursor.close()


def result_page_sizes(simulation_pk: int) -> list[tuple[str, int, int]]:
    """(estimator file name, page number, stored bytes) of every page of a simulation."""
    return fetch_all(
        f"SELECT e.file_name, p.page_number, LENGTH(p.compressed_data) FROM {_PAGE} p "
        f"JOIN {_ESTIMATOR} e ON e.id = p.estimator_id WHERE e.simulation_id = %s",
        [simulation_pk],
    )
