from django.core.management.base import BaseCommand

from simulations.services import update_key_issue
from yaptide_site.audit import CHANGE, audit_command

from ._helpers import find_simulation


class Command(BaseCommand):
    help = (
        "Issue a new update key for simulation <job_id> and print it once (only its hash is stored). "
        "The old key stops working at once, so give the new one to the simulation's workers."
    )

    def add_arguments(self, parser):
        parser.add_argument("job_id")

    def handle(self, *args, job_id, **options):
        simulation = find_simulation(job_id)
        key = update_key_issue(simulation=simulation)
        audit_command(command="issue_update_key", obj=simulation, action=CHANGE, message="Issued a new update key.")
        self.stdout.write(key)
