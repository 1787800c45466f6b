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
LINEAR = import_module("simulations.migrations.0006_count_update_trigger_linear").LINEAR
SIMULATION, COUNT = COUNTS.SIMULATION, COUNTS.COUNT
ESTIMATOR = "simulations_estimator"
# table: (the simulation id of a row t, the join that finds it)
PAYLOADS = {
    "simulations_input": ("t.simulation_id", ""),
    "simulations_estimator": ("t.simulation_id", ""),
    "simulations_page": ("e.simulation_id", f" JOIN {ESTIMATOR} e ON e.id = t.estimator_id"),
    "simulations_logfiles": ("t.simulation_id", ""),
}
EVENTS = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows",
          "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}  # fmt: skip

# PostgreSQL: statement-level triggers over the transition tables. Each adds up signed deltas (new rows +, old
# rows -) by group, so one statement of any size writes each count row or simulation row once.
_NEW = "SELECT user_id, job_state, 1 AS n, stored_bytes AS b FROM new_rows"
_OLD = "SELECT user_id, job_state, -1 AS n, -stored_bytes AS b FROM old_rows"


def _count_function(name: str, rows: str) -> str:
    return f"""CREATE OR REPLACE FUNCTION simulations_count_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {COUNT} (user_id, job_state, count, stored_bytes)
    SELECT user_id, job_state, SUM(n), SUM(b) FROM ({rows}) AS r GROUP BY user_id, job_state
    HAVING SUM(n) <> 0 OR SUM(b) <> 0 ORDER BY user_id, job_state
    ON CONFLICT (user_id, job_state) DO UPDATE
    SET count = {COUNT}.count + EXCLUDED.count, stored_bytes = {COUNT}.stored_bytes + EXCLUDED.stored_bytes;
    RETURN NULL;
END $$"""


def _bytes_function(table: str) -> str:
    owner, join = PAYLOADS[table]
    size = "COALESCE(octet_length(t.compressed_data), 0)"
    new = f"SELECT {owner} AS simulation_id, {size} AS b FROM new_rows t{join}"
    old = f"SELECT {owner} AS simulation_id, -{size} AS b FROM old_rows t{join}"
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
    _count_function("inserted", _NEW),
    _count_function("deleted", _OLD),
    _count_function("updated", f"{_NEW} UNION ALL {_OLD}"),
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
_CHANGED = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in ("job_state", "user_id", "stored_bytes"))


def _sqlite_bytes(table: str, row: str, sign: str) -> str:
    owner = f"{row}.simulation_id"
    if table == "simulations_page":
        owner = f"(SELECT simulation_id FROM {ESTIMATOR} WHERE id = {row}.estimator_id)"
    return (
        f"UPDATE {SIMULATION} SET stored_bytes = stored_bytes {sign} COALESCE(length({row}.compressed_data), 0) "
        f"WHERE id = {owner}"
    )


SIMULATION_TRIGGERS = ("simulations_count_insert", "simulations_count_delete", "simulations_count_update")
SQLITE = [
    *(f"DROP TRIGGER IF EXISTS {name}" for name in SIMULATION_TRIGGERS),
    f"CREATE TRIGGER simulations_count_insert AFTER INSERT ON {SIMULATION} BEGIN {_ADD}; END",
    f"CREATE TRIGGER simulations_count_delete AFTER DELETE ON {SIMULATION} BEGIN {_REMOVE}; END",
    f"CREATE TRIGGER simulations_count_update AFTER UPDATE OF job_state, user_id, stored_bytes ON {SIMULATION} "
    f"WHEN {_CHANGED} BEGIN {_REMOVE}; {_ADD}; END",
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
    f"SELECT {owner} AS simulation_id, COALESCE(LENGTH(t.compressed_data), 0) AS b FROM {table} t{join}"
    for table, (owner, join) in PAYLOADS.items()
)
BACKFILL = (
    f"UPDATE {SIMULATION} SET stored_bytes = d.b FROM (SELECT simulation_id, SUM(b) AS b FROM ({_SIZES}) AS r "
    f"GROUP BY simulation_id) AS d WHERE {SIMULATION}.id = d.simulation_id AND d.b <> 0"
)


def create_triggers(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for statement in [*(POSTGRESQL if postgresql else SQLITE), BACKFILL]:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor):
    postgresql = schema_editor.connection.vendor == "postgresql"
    for statement in POSTGRESQL_REVERSE if postgresql else SQLITE_REVERSE:
        schema_editor.execute(statement, params=None)


def restore_sqlite_count_triggers(apps, schema_editor):
    """After stored_bytes is dropped again (SQLite rebuilt the table without triggers): 0004's triggers."""
    if schema_editor.connection.vendor == "sqlite":
        for statement in COUNTS.SQLITE:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("simulations", "0006_count_update_trigger_linear")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_count_triggers),
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
        migrations.RunPython(create_triggers, drop_triggers),
    ]
