from pathlib import Path

from django.core.management.base import BaseCommand

from accounts.management.commands._helpers import service_errors
from clusters.services import SSH_FIELDS, cluster_create
from yaptide_site.audit import ADDITION, audit_command


class Command(BaseCommand):
    help = (
        "Add an HPC (Slurm) cluster that batch simulations can run on; its name must be unique. Host keys are "
        "pinned from a file (known_hosts lines or public keys): connections never trust a key on first use."
    )

    def add_arguments(self, parser):
        parser.add_argument("cluster_name")
        parser.add_argument("--host", dest="ssh_host", help="SSH host of the login node")
        parser.add_argument("--port", dest="ssh_port", type=int, help="SSH port (default 22)")
        parser.add_argument("--host-keys-file", help="file of the login node's host keys (known_hosts format)")
        parser.add_argument("--prelude", help="shell lines run before Slurm commands and in job scripts")
        parser.add_argument("--scratch", help="shell expression of the folder for job folders (default $SCRATCH)")
        parser.add_argument("--sbatch-options", dest="sbatch_options", help="sbatch options for every job")
        parser.add_argument("--poll-seconds", dest="poll_seconds", type=int, help="reconciler interval (>= 10)")
        parser.add_argument("--max-channels", dest="max_channels", type=int, help="SSH channels per connection")
        parser.add_argument("--callback-url", dest="callback_url", help="backend URL as compute nodes reach it")

    def handle(self, *args, cluster_name, host_keys_file=None, **options):
        settings = {name: options.get(name) for name in SSH_FIELDS if name != "host_keys"}
        if host_keys_file:
            settings["host_keys"] = Path(host_keys_file).read_text()
        with service_errors():
            cluster = cluster_create(cluster_name=cluster_name, **settings)
        audit_command(command="add_cluster", obj=cluster, action=ADDITION, message="Added cluster.")
        self.stdout.write(f"Added cluster {cluster.cluster_name!r} (id {cluster.pk}).")
