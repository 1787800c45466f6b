"""django-celery-results' database backend, storing a task's result in one statement.

The stock backend runs get_or_create (a SELECT, then an INSERT in a transaction: four round trips) for every
result; here it is one INSERT ... ON CONFLICT (task_id) DO UPDATE, on PostgreSQL and SQLite alike.
"""

from celery import states
from django.db import connections, router
from django.utils import timezone
from django_celery_results.backends.database import DatabaseBackend
from django_celery_results.models import TaskResult

_STORED = (
    "task_id",
    "status",
    "result",
    "traceback",
    "meta",
    "content_type",
    "content_encoding",
    "periodic_task_name",
    "task_name",
    "task_args",
    "task_kwargs",
    "worker",
    "date_done",
)


class ResultBackend(DatabaseBackend):
    def _store_result(self, task_id, result, status, traceback=None, request=None, using=None):
        if status == states.STARTED:  # not tracked (CELERY_TASK_TRACK_STARTED is off); the stock path if it is
            return super()._store_result(task_id, result, status, traceback, request, using)
        content_type, content_encoding, result = self.encode_content(result)
        _, _, meta = self.encode_content(
            {**self._get_meta_from_request(request), "children": self.current_task_children(request)}
        )
        values = {
            "task_id": task_id,
            "status": status,
            "result": result,
            "traceback": traceback,
            "meta": meta,
            "content_type": content_type,
            "content_encoding": content_encoding,
            **self._get_extended_properties(request, traceback),
            "date_done": timezone.now(),
        }
        alias = using or router.db_for_write(TaskResult)
        connection = connections[alias]
        fields = [TaskResult._meta.get_field(name) for name in _STORED]
        columns = [connection.ops.quote_name(field.column) for field in fields]
        created = connection.ops.quote_name(TaskResult._meta.get_field("date_created").column)
        updates = ", ".join(f"{column} = excluded.{column}" for column in columns[1:])
        params = [field.get_db_prep_save(values[field.name], connection) for field in fields]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {connection.ops.quote_name(TaskResult._meta.db_table)} ({', '.join(columns)}, {created}) "
                f"VALUES ({', '.join(['%s'] * len(columns))}, %s) ON CONFLICT ({columns[0]}) DO UPDATE SET {updates}",
                [*params, params[-1]],
            )
        return result
