from django.core.management.base import BaseCommand

from accounts.management.commands._helpers import service_errors
from simulations.services import task_remove
from yaptide_site.audit import CHANGE, audit_command

from ._helpers import find_simulation


class Command(BaseCommand):
    help = "Remove task <task_id> of simulation <job_id>; no other simulation's tasks are touched."

    def add_arguments(self, parser):
        parser.add_argument("job_id")
        parser.add_argument("task_id", type=int)

    def handle(self, *args, job_id, task_id, **options):
        simulation = find_simulation(job_id)
        with service_errors():
            message = task_remove(simulation=simulation, task_id=task_id)
        audit_command(command="remove_task", obj=simulation, action=CHANGE, message=f"Removed task {task_id}.")
        self.stdout.write(message)
