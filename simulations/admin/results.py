"""Admin for the compressed payloads: inputs, estimators, pages and logfiles, decoded and read-only.

Lists never load a payload (blobs are deferred); a page shows its payload decoded only on its own page.
"""

from django.contrib import admin
from django.db.models import Count
from django.db.models.functions import Length

from ..models import Estimator, Input, Logfiles, Page
from .display import logfiles_display, page_display, pretty_json
from .jobs import ReadOnlyInline, admin_link


class PayloadAdmin(admin.ModelAdmin):
    """View-only: results and logs are written by workers through the services, never edited by hand."""

    show_full_result_count = False
    list_select_related = ["simulation"]
    search_fields = ["simulation__job_id"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("compressed_data").annotate(stored_bytes=Length("compressed_data"))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Simulation", ordering="simulation__job_id")
    def simulation_link(self, row):
        return admin_link(row.simulation, row.simulation.job_id)

    @admin.display(description="Stored bytes", ordering="stored_bytes")
    def stored_bytes(self, row):
        return getattr(row, "stored_bytes", None)


@admin.register(Input)
class InputAdmin(PayloadAdmin):
    list_display = ["__str__", "simulation_link", "stored_bytes"]
    fields = ["simulation_link", "payload"]
    readonly_fields = fields

    @admin.display(description="Input (decoded)")
    def payload(self, row):
        return pretty_json(row.data)


class PageInline(ReadOnlyInline, admin.TabularInline):
    model = Page
    fields = ["page_number", "page_name", "page_dimension"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("compressed_data")


@admin.register(Estimator)
class EstimatorAdmin(PayloadAdmin):
    list_display = ["name", "file_name", "simulation_link", "position", "page_count", "stored_bytes"]
    search_fields = ["simulation__job_id", "name", "file_name"]
    fields = ["simulation_link", "name", "file_name", "position", "payload"]
    readonly_fields = fields
    inlines = [PageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(page_count=Count("pages"))

    @admin.display(description="Pages", ordering="page_count")
    def page_count(self, row):
        return row.page_count

    @admin.display(description="Metadata (decoded)")
    def payload(self, row):
        return pretty_json(row.data)


@admin.register(Page)
class PageAdmin(PayloadAdmin):
    list_display = ["__str__", "estimator_link", "simulation_link", "page_number", "page_name", "page_dimension"]
    list_filter = ["page_dimension"]
    list_select_related = ["estimator__simulation"]
    search_fields = ["estimator__simulation__job_id", "estimator__name", "page_name"]
    fields = ["simulation_link", "estimator_link", "page_number", "page_name", "page_dimension", "payload"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("estimator__compressed_data")

    @admin.display(description="Estimator", ordering="estimator__name")
    def estimator_link(self, row):
        return admin_link(row.estimator, row.estimator.name)

    @admin.display(description="Simulation", ordering="estimator__simulation__job_id")
    def simulation_link(self, row):
        simulation = row.estimator.simulation
        return admin_link(simulation, simulation.job_id)

    @admin.display(description="Page (decoded)")
    def payload(self, row):
        return page_display(row.data)


@admin.register(Logfiles)
class LogfilesAdmin(PayloadAdmin):
    list_display = ["__str__", "simulation_link", "stored_bytes"]
    fields = ["simulation_link", "payload"]
    readonly_fields = fields

    @admin.display(description="Log files (decoded)")
    def payload(self, row):
        return logfiles_display(row.data)
