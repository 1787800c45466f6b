from django.core.management.base import BaseCommand
from django.db.models import Count

from accounts.management.commands._helpers import format_table
from clusters.models import Cluster


class Command(BaseCommand):
    help = "List HPC clusters with the number of batch simulations on each."

    def handle(self, *args, **options):
        clusters = Cluster.objects.annotate(simulation_count=Count("simulations")).order_by("cluster_name")
        rows = [(c.id, c.cluster_name, c.simulation_count) for c in clusters]
        self.stdout.write(format_table(["id", "cluster_name", "simulations"], rows))
