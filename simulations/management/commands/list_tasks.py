from django.core.management.base import BaseCommand

from accounts.management.commands._helpers import format_table
from simulations.models import CeleryTask, Task

from ._helpers import find_simulation


class Command(BaseCommand):
    help = "List the tasks of one simulation with their state, primaries and times."

    def add_arguments(self, parser):
        parser.add_argument("job_id")

    def handle(self, *args, job_id, **options):
        simulation = find_simulation(job_id)
        tasks = Task.objects.filter(simulation=simulation).order_by("task_id")
        headers = ["task_id", "state", "requested", "simulated", "estimated_s", "start_time", "end_time", "celery_id"]
        rows = [
            (
                t.task_id,
                t.task_state,
                t.requested_primaries,
                t.simulated_primaries,
                t.estimated_time,
                t.start_time and t.start_time.isoformat(timespec="seconds"),
                t.end_time and t.end_time.isoformat(timespec="seconds"),
                t.celery_id if isinstance(t, CeleryTask) else None,
            )
            for t in tasks
        ]
        self.stdout.write(f"{simulation.job_id} ({simulation.job_state}), {len(rows)} task(s)")
        self.stdout.write(format_table(headers, rows))
