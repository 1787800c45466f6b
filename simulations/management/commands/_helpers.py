"""Finding a simulation by job id for the operator commands."""

from django.core.management.base import CommandError

from simulations.models import Simulation


def find_simulation(job_id: str) -> Simulation:
    try:
        return Simulation.objects.non_polymorphic().get(job_id=job_id)
    except Simulation.DoesNotExist:
        raise CommandError(f"no simulation with job id {job_id!r}") from None
