from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.management.commands._helpers import service_errors
from simulations.choices import TERMINAL_STATES
from simulations.services import simulation_cancel, simulation_delete
from yaptide_site.audit import CHANGE, DELETION, audit_command

from ._helpers import find_simulation


class Command(BaseCommand):
    help = (
        "Delete a finished simulation with its tasks, input, results and logs. An unfinished one is refused "
        "unless --cancel is given, which cancels it first."
    )

    def add_arguments(self, parser):
        parser.add_argument("job_id")
        parser.add_argument("--cancel", action="store_true", help="cancel the simulation first if it is unfinished")

    def handle(self, *args, job_id, cancel, **options):
        simulation = find_simulation(job_id)
        with service_errors():
            if cancel and simulation.job_state not in TERMINAL_STATES:
                simulation = simulation_cancel(simulation=simulation)
                audit_command(command="remove_simulation", obj=simulation, action=CHANGE, message="Canceled.")
                self.stdout.write(f"Canceled {simulation.job_id}.")
            with transaction.atomic():  # the entry is kept only if the simulation is gone
                audit_command(command="remove_simulation", obj=simulation, action=DELETION, message="Deleted.")
                simulation_delete(simulation=simulation)
        self.stdout.write(f"Removed simulation {job_id}.")
