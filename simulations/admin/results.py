"""Admin for the compressed payloads: inputs, estimators, pages and logfiles, decoded and read-only.

Lists never load a payload (blobs are deferred); a page shows its payload decoded only on its own page.
"""

import orjson
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.db.models.functions import Length
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from ..models import Estimator, Input, Logfiles, Page
from .display import logfiles_display, page_display, pretty_json
from .jobs import ReadOnlyInline, admin_link
from .plots import NotPlottable, page_csv, page_png

# An estimator's page shows the plots of this many of its pages (each links to its own page).
ESTIMATOR_PLOTS_SHOWN = 12


def plot_and_downloads(page: Page) -> str:
    """The page's plot (an <img> of its PNG) and links to download it as JSON and CSV."""
    urls = {kind: reverse(f"admin:simulations_page_{kind}", args=[page.pk]) for kind in ("plot", "json", "csv")}
    name = f"page {page.page_number} {page.page_name}".strip()
    downloads = format_html(
        '<p class="downloads">Download: <a href="{}" download>JSON</a> · <a href="{}" download>CSV</a></p>',
        urls["json"],
        urls["csv"],
    )
    if page.page_dimension not in (1, 2):
        return format_html("<p>A {}-D page has no plot.</p>{}", page.page_dimension, downloads)
    return format_html(
        '<figure class="result-plot"><img src="{}" alt="plot of {}" width="800" height="480" '
        'data-page-dimension="{}"></figure>{}',
        urls["plot"],
        name,
        page.page_dimension,
        downloads,
    )


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
    fields = ["simulation_link", "name", "file_name", "position", "plots", "payload"]
    readonly_fields = fields
    inlines = [PageInline]

    class Media:
        css = {"all": ["simulations/admin.css"]}

    @admin.display(description="Plots")
    def plots(self, row):
        pages = list(row.pages.defer("compressed_data").order_by("page_number")[: ESTIMATOR_PLOTS_SHOWN + 1])
        if not pages:
            return "-"
        rows = [
            (admin_link(page, f"page {page.page_number} {page.page_name}".strip()), plot_and_downloads(page))
            for page in pages[:ESTIMATOR_PLOTS_SHOWN]
        ]
        shown = format_html_join("", "<h4>{}</h4>{}", rows)
        if len(pages) > ESTIMATOR_PLOTS_SHOWN:
            shown += format_html(
                "<p>The first {} pages are shown; the rest are listed below.</p>", ESTIMATOR_PLOTS_SHOWN
            )
        return shown

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
    fields = ["simulation_link", "estimator_link", "page_number", "page_name", "page_dimension", "plot", "payload"]
    readonly_fields = fields

    class Media:
        css = {"all": ["simulations/admin.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).defer("estimator__compressed_data")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/plot.png", view(self.plot_view), name="simulations_page_plot"),
            path("<int:pk>/download.json", view(self.json_view), name="simulations_page_json"),
            path("<int:pk>/download.csv", view(self.csv_view), name="simulations_page_csv"),
            *super().get_urls(),
        ]

    def _page(self, request, pk: int) -> Page:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Page.objects.select_related("estimator__simulation"), pk=pk)

    def _file_name(self, page: Page, extension: str) -> str:
        job_id = page.estimator.simulation.job_id
        return f"{job_id}_{page.estimator.name}_page{page.page_number}.{extension}".replace("/", "_")

    def plot_view(self, request, pk: int):
        page = self._page(request, pk)
        try:
            png = page_png(page.data, title=f"{page.estimator.name}, page {page.page_number} {page.page_name}".strip())
        except NotPlottable as error:
            raise Http404(str(error)) from None
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"  # results of a page do not change once stored
        return response

    def json_view(self, request, pk: int):
        page = self._page(request, pk)
        response = HttpResponse(orjson.dumps(page.data), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{self._file_name(page, "json")}"'
        return response

    def csv_view(self, request, pk: int):
        page = self._page(request, pk)
        response = HttpResponse(page_csv(page.data), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self._file_name(page, "csv")}"'
        return response

    @admin.display(description="Plot")
    def plot(self, row):
        return plot_and_downloads(row)

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
