from django.core.management.base import BaseCommand

from simulations.services import update_key_issue

from ._helpers import find_simulation


class Command(BaseCommand):
    help = (
        "Issue a new update key for simulation <job_id> and print it once (only its hash is stored). "
        "The old key stops working at once, so give the new one to the simulation's workers."
    )

    def add_arguments(self, parser):
        parser.add_argument("job_id")

    def handle(self, *args, job_id, **options):
        key = update_key_issue(simulation=find_simulation(job_id))
        self.stdout.write(key)
