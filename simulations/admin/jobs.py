"""Admin for simulations and tasks: polymorphic lists, read-only pages with inlines, actions that call services."""

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.html import format_html, format_html_join
from polymorphic.admin import PolymorphicChildModelAdmin, PolymorphicParentModelAdmin

from accounts.models import User
from yaptide_site.audit import CHANGE, DELETION, audit
from yaptide_site.errors import ServiceError

from ..choices import DELETABLE_STATES, TERMINAL_STATES, JobState
from ..models import (
    BatchSimulation,
    BatchTask,
    CelerySimulation,
    CeleryTask,
    Estimator,
    Input,
    Logfiles,
    Simulation,
    Task,
)
from ..selectors import TASK_STATUS_FIELDS, simulations_finished_before
from ..services import simulation_cancel, simulation_delete, task_remove, update_key_issue
from .display import admin_time, byte_size, duration_text, logfiles_display, pretty_json
from .queries import storage_by_user, storage_parts, task_counts


def admin_link(obj, label=None) -> str:
    """A link to the admin page of `obj` (polymorphic parents send it on to the child's page)."""
    if obj is None:
        return "-"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label if label is not None else str(obj))


def simulations_link_for(user) -> str:
    """A link to the simulation list filtered to the user's simulations, with their count."""
    url = reverse("admin:simulations_simulation_changelist") + f"?user__id__exact={user.pk}"
    return format_html('<a href="{}">{}</a>', url, user.simulation_count)


def child_type(obj) -> str:
    """The verbose name of a polymorphic row's child class, from the cached content types (no query per row)."""
    model = ContentType.objects.get_for_id(obj.polymorphic_ctype_id).model_class()
    return model._meta.verbose_name if model else "?"


class ReadOnlyInline:
    """An inline that only shows rows, each with a link to its own admin page."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TaskInline(ReadOnlyInline, admin.TabularInline):
    model = Task
    fields = list(TASK_STATUS_FIELDS)
    readonly_fields = fields
    ordering = ["task_id"]

    def get_queryset(self, request):
        return super().get_queryset(request).non_polymorphic()


class EstimatorInline(ReadOnlyInline, admin.TabularInline):
    model = Estimator
    fields = ["name", "file_name", "position", "page_count"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("compressed_data").annotate(page_count=Count("pages"))

    @admin.display(description="Pages")
    def page_count(self, estimator):
        return estimator.page_count


class InputInline(ReadOnlyInline, admin.StackedInline):
    model = Input
    fields = ["payload"]
    readonly_fields = fields
    classes = ["collapse"]

    @admin.display(description="Input (decoded)")
    def payload(self, row):
        return pretty_json(row.data)


class LogfilesInline(ReadOnlyInline, admin.StackedInline):
    model = Logfiles
    fields = ["payload"]
    readonly_fields = fields
    verbose_name_plural = "logfiles"

    @admin.display(description="Log files (decoded)")
    def payload(self, row):
        return logfiles_display(row.data)


class OwnerFilter(admin.RelatedOnlyFieldListFilter):
    """Filter by user, listing only users who own simulations, in one query whatever their kind."""

    def field_choices(self, field, request, model_admin):
        owners = model_admin.get_queryset(request).values("user_id")
        users = User.objects.non_polymorphic().filter(pk__in=owners).order_by("username", "auth_provider")
        return [
            (pk, f"{name} ({provider})") for pk, name, provider in users.values_list("pk", "username", "auth_provider")
        ]


SIMULATION_FIELDS = [
    "job_id",
    "title",
    "user_link",
    "platform",
    "sim_type",
    "input_type",
    "job_state",
    "start_time",
    "end_time",
    "update_key",
    "results_version",
    "storage",
]


STORAGE_LABELS = [("input", "input"), ("results", "results"), ("logs", "logs")]


class SimulationChildAdmin(PolymorphicChildModelAdmin):
    """The page of one simulation: its fields read-only (title aside), and its tasks, results and logs inline."""

    base_model = Simulation
    inlines = [InputInline, TaskInline, EstimatorInline, LogfilesInline]
    own_fields: list[str] = []

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": SIMULATION_FIELDS}), (self.model._meta.verbose_name, {"fields": self.own_fields})]

    def get_readonly_fields(self, request, obj=None):
        return [name for name in SIMULATION_FIELDS + self.own_fields if name != "title"]

    def has_add_permission(self, request):
        return False  # simulations are made by submitting them

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.job_state in DELETABLE_STATES)

    def delete_model(self, request, obj):
        simulation_delete(simulation=obj)

    def get_deleted_objects(self, objs, request):
        deleted, counts, _, protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), protected  # what a simulation owns goes with it; payloads have no own delete

    @admin.display(description="User")
    def user_link(self, simulation):
        return admin_link(simulation.user)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(**storage_parts())

    @admin.display(description="Stored bytes")
    def storage(self, simulation):
        parts = [(label, getattr(simulation, f"{key}_bytes", None)) for key, label in STORAGE_LABELS]
        return format_html_join(", ", "{} {}", ((label, byte_size(value)) for label, value in parts))

    @admin.display(description="Update key")
    def update_key(self, simulation):
        return "set (only its SHA-256 is stored)" if simulation.update_key_hash else "not set"


@admin.register(CelerySimulation)
class CelerySimulationAdmin(SimulationChildAdmin):
    own_fields = ["merge_id"]


@admin.register(BatchSimulation)
class BatchSimulationAdmin(SimulationChildAdmin):
    own_fields = ["cluster_link", "job_dir", "array_id", "collect_id"]

    @admin.display(description="Cluster")
    def cluster_link(self, simulation):
        return admin_link(simulation.cluster)


@admin.register(Simulation)
class SimulationAdmin(PolymorphicParentModelAdmin):
    """All simulations: a fixed number of queries per page (no child rows, no payloads, user joined)."""

    base_model = Simulation
    child_models = [CelerySimulation, BatchSimulation]
    list_display = [
        "job_id",
        "short_title",
        "user",
        "kind",
        "state",
        "progress",
        "tasks",
        "started",
        "duration",
        "stored",
    ]
    list_filter = [
        "job_state",
        "platform",
        "sim_type",
        "input_type",
        ("user", OwnerFilter),
        "start_time",
    ]
    search_fields = ["job_id", "title", "user__username"]
    list_select_related = ["user"]
    show_full_result_count = False
    ordering = ["-start_time", "-id"]
    actions = ["cancel_simulations", "delete_finished_simulations", "delete_old_simulations", "issue_update_keys"]

    class Media:
        css = {"all": ["simulations/admin.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).non_polymorphic()

    def get_urls(self):
        urls = [path("storage/", self.admin_site.admin_view(self.storage_view), name="simulations_storage_by_user")]
        return urls + super().get_urls()

    def storage_view(self, request):
        """Who fills the disk: stored bytes of each user's simulations, sortable by each column."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        ordering = request.GET.get("o", "-total_bytes")
        rows = [
            {
                "user": user,
                "simulations": simulations_link_for(user),
                **{key: byte_size(getattr(user, key)) for key in ("input_bytes", "results_bytes", "logs_bytes")},
                "total": byte_size(user.total_bytes),
            }
            for user in storage_by_user(ordering)[:500]
        ]
        columns = [
            ("username", "User"),
            ("simulation_count", "Simulations"),
            ("input_bytes", "Input"),
            ("results_bytes", "Results"),
            ("logs_bytes", "Logs"),
            ("total_bytes", "Total"),
        ]
        headers = [
            {
                "label": label,
                "url": f"?o={'' if ordering == '-' + key else '-'}{key}",
                "sorted": ordering.lstrip("-") == key,
            }
            for key, label in columns
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": "Stored bytes by user",
            "opts": self.model._meta,
            "headers": headers,
            "rows": rows,
        }
        return TemplateResponse(request, "admin/simulations/simulation/storage_by_user.html", context)

    def get_changelist_instance(self, request):
        """The shown page's task counts and primaries come in one query for all its rows."""
        changelist = super().get_changelist_instance(request)
        rows = list(changelist.result_list)
        counts = task_counts([row.pk for row in rows])
        for row in rows:
            row.task_counts = counts.get(row.pk, {"total": 0, "done": 0, "failed": 0, "requested": 0, "simulated": 0})
        return changelist

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deleting goes through simulation_delete, which refuses unfinished jobs
        return actions

    def has_add_permission(self, request):
        return False

    def lookup_allowed(self, lookup, value, request=None):
        # The cluster list links here with its batch simulations.
        return lookup == "batchsimulation__cluster__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description="Title", ordering="title")
    def short_title(self, simulation):
        title = simulation.title
        return title if len(title) <= 40 else format_html('<span title="{}">{}…</span>', title, title[:39])

    @admin.display(description="Kind", ordering="platform")
    def kind(self, simulation):
        return f"{simulation.sim_type}, {child_type(simulation)}"

    @admin.display(description="State", ordering="job_state")
    def state(self, simulation):
        counts = simulation.task_counts
        if simulation.job_state == JobState.COMPLETED and counts["failed"]:
            return format_html(
                '{} <span class="failed-tasks" title="{} of {} tasks failed">⚠ {} failed</span>',
                simulation.job_state,
                counts["failed"],
                counts["total"],
                counts["failed"],
            )
        return simulation.job_state

    @admin.display(description="Progress (primaries)")
    def progress(self, simulation):
        counts = simulation.task_counts
        requested, simulated = counts["requested"] or 0, counts["simulated"] or 0
        percent = 100 * simulated // requested if requested else 0
        return format_html(
            '<progress value="{}" max="100"></progress> <span class="primaries">{} / {} ({}%)</span>',
            percent,
            f"{simulated:,}",
            f"{requested:,}",
            percent,
        )

    @admin.display(description="Tasks done / failed / all")
    def tasks(self, simulation):
        counts = simulation.task_counts
        return f"{counts['done']} / {counts['failed']} / {counts['total']}"

    @admin.display(description="Started", ordering="start_time")
    def started(self, simulation):
        return admin_time(simulation.start_time)

    @admin.display(description="Duration")
    def duration(self, simulation):
        if simulation.start_time is None:
            return "-"
        if simulation.end_time is not None:
            return duration_text((simulation.end_time - simulation.start_time).total_seconds())
        if simulation.job_state in TERMINAL_STATES:
            return "-"
        return format_html(
            "{} <small>(running)</small>", duration_text((timezone.now() - simulation.start_time).total_seconds())
        )

    @admin.display(description="Stored", ordering="stored_bytes")
    def stored(self, simulation):
        return byte_size(simulation.stored_bytes)

    @admin.action(description="Cancel selected simulations", permissions=["change"])
    def cancel_simulations(self, request, queryset):
        canceled, refused = [], []
        for simulation in queryset:
            try:
                simulation_cancel(simulation=simulation)
                audit(user=request.user, obj=simulation, action=CHANGE, message="Canceled (admin action).")
                canceled.append(simulation.job_id)
            except ServiceError as error:
                refused.append(error.message)
        if canceled:
            self.message_user(request, f"Canceled {len(canceled)} simulation(s).", messages.SUCCESS)
        for message in refused:
            self.message_user(request, f"Not canceled: {message}", messages.WARNING)

    @admin.action(description="Delete selected finished simulations", permissions=["delete"])
    def delete_finished_simulations(self, request, queryset):
        simulations = list(queryset.select_related(None).only("id", "job_id", "job_state", "polymorphic_ctype_id"))
        return self._delete_finished(request, simulations, "delete_finished_simulations")

    @admin.action(description="Delete selected finished simulations older than N days", permissions=["delete"])
    def delete_old_simulations(self, request, queryset):
        """Asks for N on the confirmation page; of the selected rows, those finished over N days ago go."""
        raw = request.POST.get("days", "")
        days = int(raw) if raw.isdigit() else None
        if days is None:
            if raw:
                self.message_user(request, f"Days must be a whole number, not {raw!r}.", messages.ERROR)
            context = {
                **self.admin_site.each_context(request),
                "title": "Delete finished simulations older than how many days?",
                "opts": self.model._meta,
                "selected": queryset.values_list("pk", flat=True),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "action": "delete_old_simulations",
                "select_across": request.POST.get("select_across", "0"),
            }
            return TemplateResponse(request, "admin/simulations/simulation/delete_old_days.html", context)
        cutoff = timezone.now() - timedelta(days=days)
        old = list(
            simulations_finished_before(cutoff=cutoff, queryset=queryset.select_related(None)).only(
                "id", "job_id", "job_state", "polymorphic_ctype_id"
            )
        )
        if not old:
            self.message_user(request, f"No selected simulation finished more than {days} days ago.", messages.INFO)
            return None
        return self._delete_finished(request, old, "delete_old_simulations", days=days)

    def _delete_finished(self, request, simulations, action, **extra):
        finished = [s for s in simulations if s.job_state in DELETABLE_STATES]
        unfinished = [s for s in simulations if s.job_state not in DELETABLE_STATES]
        if request.POST.get("post") != "yes" and finished:
            context = {
                **self.admin_site.each_context(request),
                "title": "Delete finished simulations?",
                "opts": self.model._meta,
                "finished": finished,
                "unfinished": unfinished,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "action": action,
                **extra,
            }
            return TemplateResponse(request, "admin/simulations/simulation/delete_finished_confirmation.html", context)
        deleted = 0
        for simulation in finished:
            try:
                with transaction.atomic():  # the entry is kept only if the simulation is gone
                    audit(user=request.user, obj=simulation, action=DELETION, message="Deleted (admin action).")
                    simulation_delete(simulation=simulation)
                deleted += 1
            except ServiceError as error:  # its state changed since the confirmation page
                unfinished.append(simulation)
                self.message_user(request, f"Not deleted: {error.message}", messages.WARNING)
        if deleted:
            self.message_user(request, f"Deleted {deleted} finished simulation(s).", messages.SUCCESS)
        if unfinished:
            names = ", ".join(f"{s.job_id} ({s.job_state})" for s in unfinished)
            self.message_user(request, f"Not deleted, not finished (cancel them first): {names}", messages.WARNING)

    @admin.action(description="Issue a new update key (the old one stops working)", permissions=["change"])
    def issue_update_keys(self, request, queryset):
        """Shows the new keys on the page it answers with, never in the (readable) messages cookie; not cached."""
        issued = []
        for simulation in queryset:
            issued.append((simulation, update_key_issue(simulation=simulation)))
            audit(user=request.user, obj=simulation, action=CHANGE, message="Issued a new update key (admin action).")
        context = {
            **self.admin_site.each_context(request),
            "title": "New update keys",
            "opts": self.model._meta,
            "issued": issued,
        }
        response = TemplateResponse(request, "admin/simulations/simulation/new_update_keys.html", context)
        patch_cache_control(response, no_store=True)
        return response


class TaskChildAdmin(PolymorphicChildModelAdmin):
    """The page of one task, read-only; removing it goes through simulations.services.task_remove."""

    base_model = Task
    own_fields: list[str] = []
    task_fields = ["simulation_link", "task_id", "platform", *TASK_STATUS_FIELDS[1:]]

    def get_fieldsets(self, request, obj=None):
        return [(None, {"fields": self.task_fields}), (self.model._meta.verbose_name, {"fields": self.own_fields})]

    def get_readonly_fields(self, request, obj=None):
        return self.task_fields + self.own_fields

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        task_remove(simulation=obj.simulation, task_id=obj.task_id)

    @admin.display(description="Simulation")
    def simulation_link(self, task):
        return admin_link(task.simulation)


@admin.register(CeleryTask)
class CeleryTaskAdmin(TaskChildAdmin):
    own_fields = ["celery_id"]


@admin.register(BatchTask)
class BatchTaskAdmin(TaskChildAdmin):
    pass


@admin.register(Task)
class TaskAdmin(PolymorphicParentModelAdmin):
    """All tasks, with their simulation's job id; a fixed number of queries per page."""

    base_model = Task
    child_models = [CeleryTask, BatchTask]
    list_display = [
        "__str__",
        "simulation_job_id",
        "task_id",
        "task_type",
        "task_state",
        "requested_primaries",
        "simulated_primaries",
        "estimated_time",
        "start_time",
        "end_time",
        "last_update_time",
    ]
    list_filter = ["task_state", "platform"]
    search_fields = ["simulation__job_id"]
    list_select_related = ["simulation"]
    show_full_result_count = False
    ordering = ["-simulation_id", "task_id"]

    def get_queryset(self, request):
        return super().get_queryset(request).non_polymorphic()

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_add_permission(self, request):
        return False

    @admin.display(description="Job id", ordering="simulation__job_id")
    def simulation_job_id(self, task):
        return task.simulation.job_id

    @admin.display(description="Type", ordering="platform")
    def task_type(self, task):
        return child_type(task)
