from django import forms
from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from yaptide_site.errors import InvalidInput

from .models import Cluster
from .services import cluster_settings_check


class ClusterForm(forms.ModelForm):
    """Checks host keys and sbatch options as cluster_create does, so the admin cannot store unusable settings."""

    callback_url = forms.URLField(required=False, assume_scheme="https", help_text=Cluster.callback_url.field.help_text)

    class Meta:
        model = Cluster
        fields = [
            "cluster_name",
            "ssh_host",
            "ssh_port",
            "host_keys",
            "max_channels",
            "prelude",
            "scratch",
            "sbatch_options",
            "poll_seconds",
            "callback_url",
        ]
        widgets = {"prelude": forms.Textarea(attrs={"rows": 3}), "host_keys": forms.Textarea(attrs={"rows": 3})}

    def clean(self):
        cleaned = super().clean()
        try:
            cluster_settings_check(**cleaned)
        except InvalidInput as error:
            self.add_error(error.field if error.field in self.fields else None, error.message)
        return cleaned


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    """HPC clusters; the name is unique (the form says so before the database does)."""

    form = ClusterForm
    list_display = ["cluster_name", "ssh_host", "ssh_port", "simulations"]
    search_fields = ["cluster_name", "ssh_host"]
    ordering = ["cluster_name"]
    fieldsets = [
        (None, {"fields": ["cluster_name"]}),
        ("SSH", {"fields": ["ssh_host", "ssh_port", "host_keys", "max_channels"]}),
        ("Slurm", {"fields": ["prelude", "scratch", "sbatch_options", "poll_seconds", "callback_url"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(simulation_count=Count("simulations"))

    @admin.display(description="Batch simulations", ordering="simulation_count")
    def simulations(self, cluster):
        url = reverse("admin:simulations_simulation_changelist") + f"?batchsimulation__cluster__id__exact={cluster.pk}"
        return format_html('<a href="{}">{}</a>', url, cluster.simulation_count)
