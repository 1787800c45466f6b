"""PostgreSQL: the count trigger on simulation updates adds up per-(user, state) deltas of its transition tables
(+1 for each new row, -1 for each old one) instead of joining old rows to new ones by id, a join that the planner
ran as a nested loop over two unindexed tuplestores: one UPDATE of 20,000 simulations took 24 s, of 100,000 now
0.4 s. Rows whose user and state did not change add up to 0 and write nothing. SQLite's row-level triggers stay."""

from importlib import import_module

from django.db import migrations

COUNTS = import_module("simulations.migrations.0004_simulation_counts_kept_by_triggers")
COUNT = COUNTS.COUNT

_DELTAS = (
    "SELECT user_id, job_state, SUM(n) AS n FROM (SELECT user_id, job_state, 1 AS n FROM new_rows UNION ALL "
    "SELECT user_id, job_state, -1 FROM old_rows) AS r GROUP BY user_id, job_state HAVING SUM(n) {sign} 0 "
    "ORDER BY user_id, job_state"
)
# As in 0004, the groups that lose simulations are updated first, and only those that gain one insert a row.
LINEAR = f"""CREATE OR REPLACE FUNCTION simulations_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {COUNT} c SET count = c.count + d.n FROM ({_DELTAS.format(sign="<")}) AS d
    WHERE c.user_id = d.user_id AND c.job_state = d.job_state;
    INSERT INTO {COUNT} (user_id, job_state, count) {_DELTAS.format(sign=">")}
    ON CONFLICT (user_id, job_state) DO UPDATE SET count = {COUNT}.count + EXCLUDED.count;
    RETURN NULL;
END $$"""
QUADRATIC = COUNTS.POSTGRESQL[2].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def execute_on(postgresql: list[str], sqlite: list[str]):
    """A RunPython function running these statements on PostgreSQL, or those on SQLite."""

    def run(apps, schema_editor):
        for statement in postgresql if schema_editor.connection.vendor == "postgresql" else sqlite:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("simulations", "0005_task_simulation_state_index")]

    operations = [migrations.RunPython(execute_on([LINEAR], []), execute_on([QUADRATIC], []))]
