"""On PostgreSQL, make the database cascade deletes of a simulation to everything it owns.

Django 5.2 cannot declare ON DELETE CASCADE, so the foreign keys that Django created are re-created
with it. Deleting a simulation is then one statement, with no child row read into Python. On SQLite
Django's own collector does the cascade.
"""

from django.db import migrations

CASCADES = [
    ("simulations_celerysimulation", "simulation_ptr_id", "simulations_simulation"),
    ("simulations_batchsimulation", "simulation_ptr_id", "simulations_simulation"),
    ("simulations_task", "simulation_id", "simulations_simulation"),
    ("simulations_celerytask", "task_ptr_id", "simulations_task"),
    ("simulations_batchtask", "task_ptr_id", "simulations_task"),
    ("simulations_input", "simulation_id", "simulations_simulation"),
    ("simulations_estimator", "simulation_id", "simulations_simulation"),
    ("simulations_page", "estimator_id", "simulations_estimator"),
    ("simulations_logfiles", "simulation_id", "simulations_simulation"),
]


def _recreate_foreign_keys(schema_editor, on_delete: str):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table, column, target in CASCADES:
            constraints = connection.introspection.get_constraints(cursor, table)
            for name, info in constraints.items():
                if info["foreign_key"] and info["columns"] == [column]:
                    schema_editor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
            schema_editor.execute(
                f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{column}_fk" FOREIGN KEY ("{column}") '
                f'REFERENCES "{target}" ("id") {on_delete} DEFERRABLE INITIALLY DEFERRED'
            )


def cascade(apps, schema_editor):
    _recreate_foreign_keys(schema_editor, "ON DELETE CASCADE")


def no_cascade(apps, schema_editor):
    _recreate_foreign_keys(schema_editor, "")


class Migration(migrations.Migration):
    dependencies = [("simulations", "0001_initial")]

    operations = [migrations.RunPython(cascade, no_cascade)]
