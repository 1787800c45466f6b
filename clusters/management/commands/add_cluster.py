from django.core.management.base import BaseCommand

from accounts.management.commands._helpers import service_errors
from clusters.services import cluster_create
from yaptide_site.audit import ADDITION, audit_command


class Command(BaseCommand):
    help = "Add an HPC (Slurm) cluster that batch simulations can run on; its name must be unique."

    def add_arguments(self, parser):
        parser.add_argument("cluster_name")

    def handle(self, *args, cluster_name, **options):
        with service_errors():
            cluster = cluster_create(cluster_name=cluster_name)
        audit_command(command="add_cluster", obj=cluster, action=ADDITION, message="Added cluster.")
        self.stdout.write(f"Added cluster {cluster.cluster_name!r} (id {cluster.pk}).")
