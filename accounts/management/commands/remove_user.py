from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.services import user_remove
from simulations.choices import TERMINAL_STATES
from yaptide_site.audit import DELETION, audit_command

from ._helpers import add_provider_argument, find_user, service_errors


class Command(BaseCommand):
    help = (
        "Remove a user together with all their simulations: unfinished simulations are canceled first, "
        "then every simulation of the user (with its tasks, input, results and logs) is deleted with the user."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        add_provider_argument(parser, "needed only when a local and a Keycloak user share the name")

    def handle(self, *args, username, provider, **options):
        user = find_user(username, provider)
        simulations = user.simulations.all()
        total = simulations.count()
        unfinished = simulations.exclude(job_state__in=TERMINAL_STATES).count()
        message = f"Deleted {user} and {total} simulation(s), {unfinished} canceled first."
        with service_errors(), transaction.atomic():  # the entry is kept only if the user is gone
            audit_command(command="remove_user", obj=user, action=DELETION, message=message)
            user_remove(user=user)
        self.stdout.write(f"Removed {user} and {total} simulation(s), {unfinished} of them canceled first.")
