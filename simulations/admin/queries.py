"""The admin's reads of more than one line: a page of simulations' task counts, and stored bytes per
simulation and per user. Each is one query; subqueries in a list run only for the rows shown."""

from django.db.models import Count, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Length

from accounts.models import User

from ..choices import JobState
from ..models import Estimator, Input, Logfiles, Page, Simulation, Task


def task_counts(simulation_ids: list[int]) -> dict[int, dict]:
    """Tasks done, failed and in all, and requested / simulated primaries, per simulation: one query."""
    rows = (
        Task.objects.non_polymorphic()
        .filter(simulation_id__in=simulation_ids)
        .order_by()
        .values("simulation_id")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(task_state=JobState.COMPLETED)),
            failed=Count("id", filter=Q(task_state=JobState.FAILED)),
            requested=Sum("requested_primaries"),
            simulated=Sum("simulated_primaries"),
        )
    )
    return {row.pop("simulation_id"): row for row in rows}


def _stored(queryset, outer: str):
    """Bytes of the compressed payloads of `queryset` rows that belong to the outer simulation (0 if none)."""
    sizes = (
        queryset.filter(**{outer: OuterRef("pk")}).order_by().values(outer).annotate(n=Sum(Length("compressed_data")))
    )
    return Coalesce(Subquery(sizes.values("n")), Value(0))


def storage_parts(to: str = "simulation") -> dict:
    """Stored bytes of the input, results (estimators and pages) and logs of a simulation (or, with
    to="simulation__user", of all of a user's simulations)."""
    return {
        "input_bytes": _stored(Input.objects.all(), to),
        "results_bytes": _stored(Estimator.objects.all(), to) + _stored(Page.objects.all(), f"estimator__{to}"),
        "logs_bytes": _stored(Logfiles.objects.all(), to),
    }


STORAGE_ORDERINGS = {"total_bytes", "input_bytes", "results_bytes", "logs_bytes", "simulation_count", "username"}


def storage_by_user(ordering: str):
    """Every user who owns a simulation, with the stored bytes of their simulations, in one query."""
    field = ordering.lstrip("-")
    parts = storage_parts("simulation__user")
    users = (
        User.objects.non_polymorphic()
        .filter(pk__in=Simulation.objects.values("user_id"))
        .annotate(simulation_count=Subquery(_count_simulations()), **parts)
        .annotate(total_bytes=F("input_bytes") + F("results_bytes") + F("logs_bytes"))
    )
    return users.order_by(ordering if field in STORAGE_ORDERINGS else "-total_bytes", "username", "pk")


def _count_simulations():
    return (
        Simulation.objects.non_polymorphic()
        .filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(n=Count("id"))
        .values("n")
    )
