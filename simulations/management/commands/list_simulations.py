from django.core.management.base import BaseCommand

from accounts.management.commands._helpers import PROVIDERS, add_provider_argument, format_table
from simulations.models import Simulation


class Command(BaseCommand):
    help = "List simulations, newest first, optionally of one user (--user) and/or one auth provider (--provider)."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="only simulations of users with this username")
        add_provider_argument(parser, "only simulations of users of this auth provider: local or keycloak")

    def handle(self, *args, user=None, provider=None, **options):
        simulations = Simulation.objects.non_polymorphic().select_related("user").order_by("-start_time", "-id")
        if user:
            simulations = simulations.filter(user__username=user)
        if provider:
            simulations = simulations.filter(user__auth_provider=PROVIDERS[provider])
        headers = ["job_id", "user", "provider", "platform", "sim_type", "state", "start_time", "title"]
        rows = [
            (
                s.job_id,
                s.user.username,
                s.user.auth_provider,
                s.platform,
                s.sim_type,
                s.job_state,
                s.start_time.isoformat(timespec="seconds"),
                s.title,
            )
            for s in simulations
        ]
        self.stdout.write(format_table(headers, rows))
