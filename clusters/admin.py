from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from .models import Cluster


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    """HPC clusters; the name is unique (the form says so before the database does)."""

    list_display = ["cluster_name", "simulations"]
    search_fields = ["cluster_name"]
    ordering = ["cluster_name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(simulation_count=Count("simulations"))

    @admin.display(description="Batch simulations", ordering="simulation_count")
    def simulations(self, cluster):
        url = reverse("admin:simulations_simulation_changelist") + f"?batchsimulation__cluster__id__exact={cluster.pk}"
        return format_html('<a href="{}">{}</a>', url, cluster.simulation_count)
