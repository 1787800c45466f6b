"""Celery results, readable: arguments, result and meta decoded (they are stored as base64 zjson), each row
linked to its simulation and task, and the state of the task row next to Celery's own status (a canceled task
returns normally, so Celery calls it SUCCESS)."""

import ast

from celery.utils.serialization import b64decode
from django.contrib import admin
from django.utils.html import format_html
from django_celery_results.models import TaskResult
from kombu.serialization import loads

from yaptide_site.codecs import ZJSON_CONTENT_TYPE

from ..models import CelerySimulation, CeleryTask, Simulation, Task
from .display import admin_time, pretty_json
from .jobs import admin_link

ACCEPT = ["json", "application/json", ZJSON_CONTENT_TYPE]
SIMULATION_TASKS = {"simulations.run_task", "simulations.merge_results"}


def decoded(row: TaskResult, value):
    """A stored field (args, kwargs, result, meta) as the Python value it was; text that is no payload as is."""
    if not value:
        return None
    try:
        raw = b64decode(value) if row.content_encoding == "binary" else value
        return loads(raw, content_type=row.content_type, content_encoding=row.content_encoding, accept=ACCEPT)
    except Exception:  # an old or foreign row: show what is stored
        return value


def call_arguments(row: TaskResult) -> tuple:
    """The task's positional arguments (stored as their repr, e.g. "(12, 3)")."""
    args = decoded(row, row.task_args)
    if isinstance(args, str):
        try:
            args = ast.literal_eval(args)
        except (ValueError, SyntaxError):
            return ()
    return tuple(args) if isinstance(args, list | tuple) else ()


def result_summary(row: TaskResult, result):
    """A task's estimators as names, page numbers and sizes (a result can hold megabytes of values)."""
    if row.task_name == "simulations.run_task" and isinstance(result, list):
        summary = []
        for estimator in result:
            if not isinstance(estimator, dict):
                continue
            pages = [
                {
                    "page": (page.get("metadata") or {}).get("page_number", index),
                    "dimensions": page.get("dimensions"),
                    "values": len((page.get("data") or {}).get("values") or []),
                }
                for index, page in enumerate(estimator.get("pages") or [])
                if isinstance(page, dict)
            ]
            summary.append({"estimator": estimator.get("name"), "pages": pages})
        return summary
    return result


admin.site.unregister(TaskResult)


@admin.register(TaskResult)
class TaskResultAdmin(admin.ModelAdmin):
    """Read-only; a page's simulations and tasks are looked up in two queries for all its rows."""

    list_display = ["task_id", "task_name", "simulation_link", "task_link", "state", "celery_status", "done"]
    list_filter = ["status", "task_name", "date_done", "worker"]
    search_fields = ["task_id", "task_name"]  # and a simulation's job id (get_search_results)
    date_hierarchy = "date_done"
    ordering = ["-date_done", "-id"]
    show_full_result_count = False
    fields = [
        "task_id",
        "task_name",
        "simulation_link",
        "task_link",
        "state",
        "celery_status",
        "worker",
        "created",
        "started",
        "done",
        "arguments",
        "keyword_arguments",
        "result_decoded",
        "meta_decoded",
        "traceback",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        listing = request.resolver_match is not None and request.resolver_match.url_name.endswith("changelist")
        return queryset.defer("result", "meta", "traceback") if listing else queryset

    def get_search_results(self, request, queryset, search_term):
        """A job id finds its tasks' results and its merge's (their ids are on the task and simulation rows)."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        simulation = CelerySimulation.objects.filter(job_id=search_term.strip()).only("id", "merge_id").first()
        if simulation is not None:
            celery_ids = list(CeleryTask.objects.filter(simulation=simulation).values_list("celery_id", flat=True))
            found |= queryset.filter(task_id__in=[*celery_ids, simulation.merge_id])
        return found, may_have_duplicates

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def _link_rows(self, rows: list[TaskResult]) -> None:
        """Sets row.simulation and row.task (for run_task) from the rows' arguments, in two queries."""
        for row in rows:
            args = call_arguments(row) if row.task_name in SIMULATION_TASKS else ()
            row.simulation_pk = args[0] if args and isinstance(args[0], int) else None
            row.ordinal = args[1] if len(args) > 1 and isinstance(args[1], int) else None
        pks = {row.simulation_pk for row in rows if row.simulation_pk is not None}
        simulations = Simulation.objects.non_polymorphic().only("id", "job_id", "job_state", "polymorphic_ctype_id")
        simulations = {s.pk: s for s in simulations.filter(pk__in=pks)}
        tasks = {
            (t.simulation_id, t.task_id): t
            for t in Task.objects.non_polymorphic()
            .filter(simulation_id__in=pks)
            .only("id", "simulation_id", "task_id", "task_state", "polymorphic_ctype_id")
            .filter(task_id__in={row.ordinal for row in rows if row.ordinal is not None})
        }
        for row in rows:
            row.simulation = simulations.get(row.simulation_pk)
            row.task = tasks.get((row.simulation_pk, row.ordinal))
            if row.task is not None and row.simulation is not None:
                row.task.simulation = row.simulation  # named "task 3 of <job id>" without a query

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        self._link_rows(list(changelist.result_list))
        return changelist

    def get_object(self, request, object_id, from_field=None):
        row = super().get_object(request, object_id, from_field)
        if row is not None:
            self._link_rows([row])
        return row

    @admin.display(description="Simulation")
    def simulation_link(self, row):
        simulation = getattr(row, "simulation", None)
        return admin_link(simulation, simulation.job_id) if simulation else "-"

    @admin.display(description="Task")
    def task_link(self, row):
        task = getattr(row, "task", None)
        return admin_link(task, f"task {task.task_id}") if task else "-"

    @admin.display(description="State")
    def state(self, row):
        """The task row's state (for a merge, the simulation's): what really happened."""
        if getattr(row, "task", None) is not None:
            return row.task.task_state
        if row.task_name == "simulations.merge_results" and getattr(row, "simulation", None) is not None:
            return format_html("{} <small>(simulation)</small>", row.simulation.job_state)
        return row.status

    @admin.display(description="Celery status", ordering="status")
    def celery_status(self, row):
        return row.status

    @admin.display(description="Created", ordering="date_created")
    def created(self, row):
        return admin_time(row.date_created)

    @admin.display(description="Started", ordering="date_started")
    def started(self, row):
        return admin_time(row.date_started)

    @admin.display(description="Done", ordering="date_done")
    def done(self, row):
        return admin_time(row.date_done)

    @admin.display(description="Arguments (decoded)")
    def arguments(self, row):
        return pretty_json(list(call_arguments(row)) or decoded(row, row.task_args))

    @admin.display(description="Keyword arguments (decoded)")
    def keyword_arguments(self, row):
        return pretty_json(decoded(row, row.task_kwargs))

    @admin.display(description="Result (decoded; a task's pages as sizes)")
    def result_decoded(self, row):
        return pretty_json(result_summary(row, decoded(row, row.result)))

    @admin.display(description="Meta (decoded)")
    def meta_decoded(self, row):
        return pretty_json(decoded(row, row.meta))
