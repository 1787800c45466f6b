from django.core.management.base import BaseCommand
from django.db.models import Count

from accounts.models import User

from ._helpers import PROVIDERS, add_provider_argument, format_table


class Command(BaseCommand):
    help = "List users with their auth provider, flags and number of simulations."

    def add_arguments(self, parser):
        add_provider_argument(parser, "only users of this auth provider: local or keycloak")

    def handle(self, *args, provider=None, **options):
        users = (
            User.objects.non_polymorphic().annotate(simulation_count=Count("simulations")).order_by("username", "id")
        )
        if provider:
            users = users.filter(auth_provider=PROVIDERS[provider])
        rows = [
            (u.id, u.username, u.auth_provider, u.is_active, u.is_staff, u.is_superuser, u.simulation_count)
            for u in users
        ]
        headers = ["id", "username", "provider", "active", "staff", "superuser", "simulations"]
        self.stdout.write(format_table(headers, rows))
