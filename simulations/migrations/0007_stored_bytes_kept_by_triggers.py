"""The compressed bytes each simulation stores (input, estimators, pages, logfiles) and their per-user, per-state
sums, kept by triggers on the payload tables and on the simulation table, so that a submit's storage check reads a
few count rows instead of adding up every payload the user has. Every way of writing payloads (services, bulk
import, admin, cascades) keeps them right.

A payload trigger adds its delta to its simulation's stored_bytes; the simulation triggers of migration 0004 now
carry stored_bytes into the counts beside the number of simulations. A page finds its simulation through its
estimator, so an estimator is deleted after its pages (Django's collector does so; deleting the simulation is
always right, as its own row carries its bytes).

SQLite rebuilds a table to add or drop a column and loses its triggers: here the simulation triggers are created
again after the column is added, and 0004's are restored when it is removed."""

from importlib import import_module

from django.db import migrations, models

COUNTS = import_module("simulations.migrations.0004_simulation_counts_kept_by_triggers")
LINEAR_COUNTS = import_module("simulations.migrations.0006_count_update_trigger_linear")
LINEAR, execute_on = LINEAR_COUNTS.LINEAR, LINEAR_COUNTS.execute_on
SIMULATION, COUNT = COUNTS.SIMULATION, COUNTS.COUNT
ESTIMATOR = "simulations_estimator"
# table: the simulation id of one of its rows {row} (the same expression on PostgreSQL and SQLite)
PAYLOADS = {
    "simulations_input": "{row}.simulation_id",
    "simulations_estimator": "{row}.simulation_id",
    "simulations_page": f"(SELECT simulation_id FROM {ESTIMATOR} WHERE id = {{row}}.estimator_id)",
    "simulations_logfiles": "{row}.simulation_id",
}
EVENTS = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows",
          "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}  # fmt: skip

# PostgreSQL: statement-level triggers over the transition tables. Each adds up signed deltas (new rows +, old
# rows -) by group, so one statement of any size writes each count row or simulation row once. Groups that lose
# simulations or only change bytes are updated first (0004's order: a move locks the group it leaves, then the one
# it enters); only groups that gain simulations may insert a count row, so the bytes of a simulation that goes with
# its user (whose count rows are already gone) write nothing.
_NEW = "SELECT user_id, job_state, 1 AS n, stored_bytes AS b FROM new_rows"
_OLD = "SELECT user_id, job_state, -1 AS n, -stored_bytes AS b FROM old_rows"
_DELTAS = (
    "SELECT user_id, job_state, SUM(n) AS n, SUM(b) AS b FROM ({rows}) AS r GROUP BY user_id, job_state "
    "HAVING {having} ORDER BY user_id, job_state"
)


def _count_statements(rows: str, *, removes: bool, adds: bool) -> str:
    statements = []
    if removes:
        deltas = _DELTAS.format(rows=rows, having="SUM(n) < 0 OR (SUM(n) = 0 AND SUM(b) <> 0)")
        statements.append(
            f"UPDATE {COUNT} c SET count = c.count + d.n, stored_bytes = c.stored_bytes + d.b FROM ({deltas}) AS d "
            "WHERE c.user_id = d.user_id AND c.job_state = d.job_state"
        )
    if adds:
        statements.append(
            f"INSERT INTO {COUNT} (user_id, job_state, count, stored_bytes) "
            f"{_DELTAS.format(rows=rows, having='SUM(n) > 0')} ON CONFLICT (user_id, job_state) DO UPDATE "
            f"SET count = {COUNT}.count + EXCLUDED.count, stored_bytes = {COUNT}.stored_bytes + EXCLUDED.stored_bytes"
        )
    return ";\n    ".join(statements)


def _count_function(name: str, body: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION simulations_count_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {body};
    RETURN NULL;
END $$"""


def _bytes_function(table: str) -> str:
    owner = PAYLOADS[table].format(row="t")
    size = "COALESCE(octet_length(t.compressed_data), 0)"
    new = f"SELECT {owner} AS simulation_id, {size} AS b FROM new_rows t"
    old = f"SELECT {owner} AS simulation_id, -{size} AS b FROM old_rows t"
    add = (
        f"UPDATE {SIMULATION} s SET stored_bytes = s.stored_bytes + d.b FROM (SELECT simulation_id, SUM(b) AS b "
        "FROM ({rows}) AS r GROUP BY simulation_id HAVING SUM(b) <> 0 ORDER BY simulation_id) AS d "
        "WHERE s.id = d.simulation_id"
    )
    return f"""CREATE FUNCTION {table}_bytes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN {add.format(rows=new)};
    ELSIF TG_OP = 'DELETE' THEN {add.format(rows=old)};
    ELSE {add.format(rows=f"{new} UNION ALL {old}")};
    END IF;
    RETURN NULL;
END $$"""


POSTGRESQL = [
    _count_function("inserted", _count_statements(_NEW, removes=False, adds=True)),
    _count_function("deleted", _count_statements(_OLD, removes=True, adds=False)),
    _count_function("updated", _count_statements(f"{_NEW} UNION ALL {_OLD}", removes=True, adds=True)),
    *(_bytes_function(table) for table in PAYLOADS),
    *(
        f"CREATE TRIGGER {table}_bytes_{event.lower()} AFTER {event} ON {table} REFERENCING {tables} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_bytes()"
        for table in PAYLOADS
        for event, tables in EVENTS.items()
    ),
]
POSTGRESQL_REVERSE = [
    *(f"DROP TRIGGER {table}_bytes_{event.lower()} ON {table}" for table in PAYLOADS for event in EVENTS),
    *(f"DROP FUNCTION {table}_bytes()" for table in PAYLOADS),
    *(statement.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1) for statement in COUNTS.POSTGRESQL[:2]),
    LINEAR,
]

# SQLite (embedded, one writer): row-level triggers.
_ADD = (
    f"INSERT INTO {COUNT} (user_id, job_state, count, stored_bytes) VALUES (NEW.user_id, NEW.job_state, 1, "
    f"NEW.stored_bytes) ON CONFLICT (user_id, job_state) DO UPDATE SET count = {COUNT}.count + 1, "
    f"stored_bytes = {COUNT}.stored_bytes + excluded.stored_bytes"
)
_REMOVE = (
    f"UPDATE {COUNT} SET count = count - 1, stored_bytes = stored_bytes - OLD.stored_bytes "
    "WHERE user_id = OLD.user_id AND job_state = OLD.job_state"
)
_MOVED = "OLD.job_state IS NOT NEW.job_state OR OLD.user_id IS NOT NEW.user_id"
_BYTES = (
    f"UPDATE {COUNT} SET stored_bytes = stored_bytes + NEW.stored_bytes - OLD.stored_bytes "
    "WHERE user_id = NEW.user_id AND job_state = NEW.job_state"
)


def _sqlite_bytes(table: str, row: str, sign: str) -> str:
    return (
        f"UPDATE {SIMULATION} SET stored_bytes = stored_bytes {sign} COALESCE(length({row}.compressed_data), 0) "
        f"WHERE id = {PAYLOADS[table].format(row=row)}"
    )


SIMULATION_TRIGGERS = (
    "simulations_count_insert",
    "simulations_count_delete",
    "simulations_count_update",
    "simulations_count_bytes",
)
SQLITE = [
    *(f"DROP TRIGGER IF EXISTS {name}" for name in SIMULATION_TRIGGERS),
    f"CREATE TRIGGER simulations_count_insert AFTER INSERT ON {SIMULATION} BEGIN {_ADD}; END",
    f"CREATE TRIGGER simulations_count_delete AFTER DELETE ON {SIMULATION} BEGIN {_REMOVE}; END",
    f"CREATE TRIGGER simulations_count_update AFTER UPDATE OF job_state, user_id, stored_bytes ON {SIMULATION} "
    f"WHEN {_MOVED} BEGIN {_REMOVE}; {_ADD}; END",
    f"CREATE TRIGGER simulations_count_bytes AFTER UPDATE OF stored_bytes ON {SIMULATION} "
    f"WHEN NOT ({_MOVED}) AND OLD.stored_bytes IS NOT NEW.stored_bytes BEGIN {_BYTES}; END",
    *(
        statement
        for table in PAYLOADS
        for statement in (
            f"CREATE TRIGGER {table}_bytes_insert AFTER INSERT ON {table} "
            f"BEGIN {_sqlite_bytes(table, 'NEW', '+')}; END",
            f"CREATE TRIGGER {table}_bytes_delete AFTER DELETE ON {table} "
            f"BEGIN {_sqlite_bytes(table, 'OLD', '-')}; END",
            f"CREATE TRIGGER {table}_bytes_update AFTER UPDATE OF compressed_data ON {table} "
            f"BEGIN {_sqlite_bytes(table, 'OLD', '-')}; {_sqlite_bytes(table, 'NEW', '+')}; END",
        )
    ),
]
SQLITE_REVERSE = [
    *(f"DROP TRIGGER {name}" for name in SIMULATION_TRIGGERS),
    *(f"DROP TRIGGER {table}_bytes_{event.lower()}" for table in PAYLOADS for event in EVENTS),
]

# Existing payloads counted once; the simulation update trigger carries the figures into the counts.
_SIZES = " UNION ALL ".join(
    f"SELECT {owner.format(row='t')} AS simulation_id, COALESCE(LENGTH(t.compressed_data), 0) AS b FROM {table} t"
    for table, owner in PAYLOADS.items()
)
BACKFILL = (
    f"UPDATE {SIMULATION} SET stored_bytes = d.b FROM (SELECT simulation_id, SUM(b) AS b FROM ({_SIZES}) AS r "
    f"GROUP BY simulation_id) AS d WHERE {SIMULATION}.id = d.simulation_id AND d.b <> 0"
)


class Migration(migrations.Migration):
    dependencies = [("simulations", "0006_count_update_trigger_linear")]

    operations = [
        # Undone last: SQLite rebuilt the simulation table without stored_bytes, and without triggers.
        migrations.RunPython(migrations.RunPython.noop, execute_on([], COUNTS.SQLITE)),
        migrations.AddField(
            model_name="simulation",
            name="stored_bytes",
            field=models.BigIntegerField(
                db_default=0,
                editable=False,
                help_text="Compressed bytes of its input, results and logs, kept by database triggers.",
            ),
        ),
        migrations.AddField(
            model_name="simulationcount",
            name="stored_bytes",
            field=models.BigIntegerField(db_default=0, help_text="The stored_bytes of these simulations, summed."),
        ),
        migrations.RunPython(
            execute_on([*POSTGRESQL, BACKFILL], [*SQLITE, BACKFILL]), execute_on(POSTGRESQL_REVERSE, SQLITE_REVERSE)
        ),
    ]
