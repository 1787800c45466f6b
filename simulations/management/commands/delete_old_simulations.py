from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from simulations.selectors import simulations_finished_before
from simulations.services import simulation_delete
from yaptide_site.audit import DELETION, audit_command
from yaptide_site.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Delete the finished simulations (COMPLETED, FAILED, CANCELED) that ended more than --days days ago, "
        "with their tasks, input, results and logs. Lists them and asks first; --yes skips the question, "
        "--dry-run only lists. Unfinished simulations are never touched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True, help="age in days since the simulation ended")
        parser.add_argument("--user", help="only this user's simulations (username)")
        parser.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, days, user, dry_run, yes, **options):
        if days < 0:
            raise CommandError("--days must be 0 or more")
        old = simulations_finished_before(cutoff=timezone.now() - timedelta(days=days))
        if user:
            old = old.filter(user__username=user)
        old = list(old.only("id", "job_id", "job_state", "end_time", "start_time", "polymorphic_ctype_id"))
        for simulation in old:
            self.stdout.write(
                f"{simulation.job_id} {simulation.job_state} ended {simulation.ended:%Y-%m-%d %H:%M:%S %Z}"
            )
        if not old:
            self.stdout.write(f"No finished simulation ended more than {days} days ago.")
            return
        if dry_run:
            self.stdout.write(f"Would delete {len(old)} simulation(s) (--dry-run).")
            return
        if not yes:
            answer = input(f"Delete these {len(old)} simulation(s) and everything they own? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("nothing deleted")
        deleted = 0
        for simulation in old:
            try:
                with transaction.atomic():
                    message = f"Deleted (finished more than {days} days ago)."
                    audit_command(command="delete_old_simulations", obj=simulation, action=DELETION, message=message)
                    simulation_delete(simulation=simulation)
                deleted += 1
            except ServiceError as error:
                self.stderr.write(f"Not deleted: {error.message}")
        self.stdout.write(f"Deleted {deleted} finished simulation(s) older than {days} days.")
