"""Reads of simulations and results for their owner, each in a fixed number of queries; blobs are never
loaded by lists, and results blobs are returned as stored (for splicing into responses)."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Max, Q, QuerySet, Sum
from django.utils import timezone

from yaptide_site.errors import InvalidInput, NotFound

from . import sql
from .choices import UNFINISHED_STATES, JobState
from .execution import reaped_platforms
from .models import Estimator, Input, Logfiles, Simulation, SimulationCount, Task

JOB_ID_PATTERN = re.compile(r"[0-9A-Za-z_-]{1,64}")
LIST_FIELDS = (
    "id",
    "job_id",
    "title",
    "platform",
    "sim_type",
    "input_type",
    "job_state",
    "start_time",
    "end_time",
)
MAX_SELECTION_PARTS = 100
# What a task's status shows, in the API's detail and the admin's inline.
TASK_STATUS_FIELDS = (
    "task_id",
    "task_state",
    "requested_primaries",
    "simulated_primaries",
    "estimated_time",
    "start_time",
    "end_time",
    "last_update_time",
)


def simulation_list(*, user) -> QuerySet:
    """The user's simulations as plain rows (no payloads), newest first and tie-broken by id."""
    return Simulation.objects.non_polymorphic().filter(user=user).order_by("-start_time", "-id").values(*LIST_FIELDS)


@dataclass(frozen=True)
class ListQuery:
    """What a list of simulations is restricted to and ordered by; empty means everything, newest first."""

    job_states: tuple[str, ...] = ()
    sim_types: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    input_types: tuple[str, ...] = ()
    start_after: datetime | None = None
    start_before: datetime | None = None
    search: str = ""
    ordering: tuple[str, ...] = ("-start_time",)  # start_time or end_time, each optionally descending

    @property
    def by_state_only(self) -> bool:
        """Whether the maintained per-state counts give this query's count."""
        return not (self.sim_types or self.platforms or self.input_types or self.search) and (
            self.start_after is None and self.start_before is None
        )


def simulation_rows(*, user, query: ListQuery) -> QuerySet:
    """The user's simulations matching `query`, as plain rows in its order; equal times are ordered by id the
    same way, so the order is total and a reversed read is exactly the reverse."""
    rows = Simulation.objects.non_polymorphic().filter(user=user)
    for name, values in (
        ("job_state", query.job_states),
        ("sim_type", query.sim_types),
        ("platform", query.platforms),
        ("input_type", query.input_types),
    ):
        if values:
            rows = rows.filter(**{f"{name}__in": values})
    if query.start_after is not None:
        rows = rows.filter(start_time__gte=query.start_after)
    if query.start_before is not None:
        rows = rows.filter(start_time__lte=query.start_before)
    if query.search:
        rows = rows.filter(title__icontains=query.search)
    ordering = list(query.ordering) or ["-start_time"]
    return rows.order_by(*ordering, "-id" if ordering[-1].startswith("-") else "id").values(*LIST_FIELDS)


def simulation_count(*, user, query: ListQuery = ListQuery()) -> int:
    """How many of the user's simulations match `query`: a read of the maintained per-state counts (at most 8
    rows, whatever the number of jobs) unless the query filters on more than the job state."""
    if not query.by_state_only:
        return simulation_rows(user=user, query=query).order_by().count()
    counts = SimulationCount.objects.filter(user=user)
    if query.job_states:
        counts = counts.filter(job_state__in=query.job_states)
    return int(counts.aggregate(total=Sum("count"))["total"] or 0)


def simulation_page_after(*, user, query: ListQuery, after: tuple[datetime, int] | None, size: int) -> list[dict]:
    """Keyset paging: the `size` rows that follow the row (start_time, id) `after` in the query's start_time
    order (None: the first rows), in one query whose cost does not depend on how far into the list it is."""
    if len(query.ordering) != 1 or query.ordering[0].lstrip("-") != "start_time":
        raise InvalidInput("cursor paging orders by start_time only", field="ordering")
    rows = simulation_rows(user=user, query=query)
    if after is not None:
        start, pk = after
        if query.ordering[0].startswith("-"):
            rows = rows.filter(Q(start_time__lt=start) | Q(start_time=start, id__lt=pk))
        else:
            rows = rows.filter(Q(start_time__gt=start) | Q(start_time=start, id__gt=pk))
    return list(rows[:size])


def simulation_page(*, user, query: ListQuery, number: int, size: int) -> tuple[list[dict], int]:
    """Rows of page `number` (from 1) of `size` rows, and the count of all matching rows, in two queries.

    A page in the second half is read from the end in the reversed order, so the database skips at most half
    the rows; a page past the end is NotFound (page 1 of an empty list is an empty page).
    """
    count = simulation_count(user=user, query=query)
    if number < 1 or (number > 1 and (number - 1) * size >= count):
        raise NotFound(f"page {number} is past the end of the list ({count} simulations)")
    rows = simulation_rows(user=user, query=query)
    bottom = (number - 1) * size
    top = min(bottom + size, count)
    if bottom >= top:
        return [], count
    if bottom > count // 2:
        page = list(rows.reverse()[count - top : count - bottom])
        page.reverse()
        return page, count
    return list(rows[bottom:top]), count


def simulation_progress(*, simulation_ids: list[int]) -> dict[int, dict[str, int]]:
    """Task count and requested/simulated primaries summed per simulation, in one query."""
    if not simulation_ids:
        return {}
    return {
        row[0]: {"task_count": row[1], "requested_primaries": int(row[2] or 0), "simulated_primaries": int(row[3] or 0)}
        for row in sql.task_progress(simulation_ids)
    }


def simulation_get(*, user, job_id: str) -> Simulation:
    """The user's simulation with this job_id (sql.OWNER_FIELDS loaded, one query); another user's job is NotFound."""
    simulation = sql.simulation_of_owner(user.pk, job_id) if _valid_job_id(job_id) else None
    if simulation is None:
        raise NotFound(f"simulation {job_id} not found")
    return simulation


def simulation_for_worker(job_id: str) -> Simulation | None:
    """The simulation a worker names, with the fields the services need (sql.WORKER_FIELDS, one query)."""
    return sql.simulation_for_worker(job_id) if _valid_job_id(job_id) else None


def _valid_job_id(job_id) -> bool:
    return isinstance(job_id, str) and JOB_ID_PATTERN.fullmatch(job_id) is not None


def merges_stalled(*, stale_seconds: int) -> list[tuple[int, str]]:
    """(pk, platform) of the jobs waiting for a merge whose tasks all ended over `stale_seconds` ago (the merge
    was lost), on the platforms whose merges the reaper watches."""
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    return list(
        Simulation.objects.non_polymorphic()
        .filter(job_state__in=(JobState.MERGING_QUEUED, JobState.MERGING_RUNNING), platform__in=reaped_platforms())
        .annotate(last_update=Max("tasks__last_update_time"))
        .filter(last_update__lt=cutoff)
        .values_list("pk", "platform")
    )


def simulation_detail(*, user, job_id: str) -> tuple[dict, list[dict]]:
    """A simulation row (with its cluster name and progress) and its tasks, in two queries."""
    if not _valid_job_id(job_id):
        raise NotFound(f"simulation {job_id} not found")
    row = (
        Simulation.objects.non_polymorphic()
        .filter(user=user, job_id=job_id)
        .values(*LIST_FIELDS, "batchsimulation__cluster__cluster_name")
        .first()
    )
    if row is None:
        raise NotFound(f"simulation {job_id} not found")
    row["cluster_name"] = row.pop("batchsimulation__cluster__cluster_name")
    tasks = list(
        Task.objects.non_polymorphic().filter(simulation_id=row["id"]).order_by("task_id").values(*TASK_STATUS_FIELDS)
    )
    return row, tasks


def input_blob(*, simulation: Simulation) -> bytes:
    """The stored (compressed) input of a simulation."""
    blob = Input.objects.filter(simulation_id=simulation.pk).values_list("compressed_data", flat=True).first()
    if blob is None:
        raise NotFound(f"simulation {simulation.job_id} has no input")
    return blob


def logfiles_blob(*, simulation: Simulation) -> bytes | None:
    """The stored (compressed) logfiles of a simulation, or None."""
    return Logfiles.objects.filter(simulation_id=simulation.pk).values_list("compressed_data", flat=True).first()


def estimators_listing(*, simulation: Simulation) -> list[dict]:
    """Names of the estimators in editor order, each with its pages' number, name and dimension (one query)."""
    rows = (
        Estimator.objects.filter(simulation_id=simulation.pk)
        .order_by("position", "id", "pages__page_number")
        .values_list("id", "name", "file_name", "pages__page_number", "pages__page_name", "pages__page_dimension")
    )
    estimators: dict[int, dict] = {}
    for estimator_id, name, file_name, number, page_name, dimension in rows:
        estimator = estimators.setdefault(estimator_id, {"name": name, "file_name": file_name, "pages": []})
        if number is not None:
            estimator["pages"].append({"page_number": number, "page_name": page_name, "page_dimension": dimension})
    return list(estimators.values())


@dataclass(frozen=True)
class PageSelection:
    """Page numbers asked for with `pages=0-2,5`: single numbers and inclusive ranges."""

    numbers: tuple[int, ...] = ()
    ranges: tuple[tuple[int, int], ...] = ()

    @property
    def key(self) -> str:
        """A canonical text of the selection (part of the ETag)."""
        parts = [str(n) for n in sorted(set(self.numbers))] + [f"{a}-{b}" for a, b in sorted(set(self.ranges))]
        return ",".join(parts) or "all"

    def as_sql(self, column: str) -> tuple[str, list[int]]:
        """A SQL condition on `column` and its parameters."""
        parts, params = [], []
        if self.numbers:
            parts.append(f"{column} IN ({', '.join(['%s'] * len(self.numbers))})")
            params.extend(self.numbers)
        for low, high in self.ranges:
            parts.append(f"{column} BETWEEN %s AND %s")
            params.extend([low, high])
        return "(" + " OR ".join(parts) + ")", params


_PAGE_RANGE = r"[ \t]*[0-9]{1,9}[ \t]*(-[ \t]*[0-9]{1,9}[ \t]*)?"
# The `pages` parameter, as the API schema states it and the parser checks it (the same pattern, searched the
# same way): at most MAX_SELECTION_PARTS comma-separated numbers or ranges, spaces and tabs around them.
PAGES_PATTERN = rf"^{_PAGE_RANGE}(,{_PAGE_RANGE}){{0,{MAX_SELECTION_PARTS - 1}}}$"
_PAGES_RE = re.compile(PAGES_PATTERN)


def page_selection_parse(text: str | None) -> PageSelection | None:
    """Parses `0-2,5` (a range given high to low means the same pages); None means all pages. Raises InvalidInput
    on anything PAGES_PATTERN does not allow (an empty value too: leave the parameter out for all pages)."""
    if text is None:
        return None
    if not _PAGES_RE.search(text):
        raise InvalidInput(
            f"pages: {text.strip()[:100]!r} is not page numbers and ranges like 0-2,5 (at most "
            f"{MAX_SELECTION_PARTS} parts)",
            field="pages",
        )
    numbers: list[int] = []
    ranges: list[tuple[int, int]] = []
    for part in text.rstrip("\n").split(","):
        low, _, high = part.partition("-")
        if not high:
            numbers.append(int(low))
        else:
            ranges.append(tuple(sorted((int(low), int(high)))))
    return PageSelection(tuple(numbers), tuple(ranges))


def estimator_with_pages(
    *, simulation: Simulation, name: str, selection: PageSelection | None
) -> tuple[dict, list[bytes]]:
    """One estimator (by name, else file name) with the stored blobs of the selected pages (one query)."""
    if "\x00" in name:
        raise NotFound(f"simulation {simulation.job_id} has no estimator {name!r}")
    condition, selected = selection.as_sql("p.page_number") if selection is not None else ("", [])
    rows = sql.estimator_pages(simulation.pk, name, condition, selected)
    if not rows:
        # Rare: no estimator of that name, or none of its pages selected, or an estimator without pages.
        estimator = (
            Estimator.objects.filter(Q(name=name) | Q(file_name=name), simulation_id=simulation.pk)
            .values("id", "name", "file_name", "compressed_data")
            .first()
        )
        if estimator is None:
            raise NotFound(f"simulation {simulation.job_id} has no estimator {name!r}")
        if selection is not None:
            raise NotFound(f"estimator {estimator['name']!r} has no page in {selection.key}")
        return estimator, []
    chosen = next((row for row in rows if row[1] == name), rows[0])
    estimator = {"id": chosen[0], "name": chosen[1], "file_name": chosen[2], "compressed_data": chosen[3]}
    return estimator, [row[4] for row in rows if row[0] == chosen[0]]


def results_stream(*, simulation: Simulation):
    """Every estimator's rows (estimator id, name, file name, metadata blob, page blob) in editor order, fetched
    as they are read (one query): for streaming a whole job's results (simulations.http)."""
    return sql.results_rows_stream(simulation.pk)


def results_all(*, simulation: Simulation) -> list[tuple[dict, list[bytes]]]:
    """Every estimator in editor order with the stored blobs of all its pages (one query)."""
    rows = sql.results_rows(simulation.pk)
    estimators: dict[int, tuple[dict, list[bytes]]] = {}
    for estimator_id, name, file_name, metadata, blob in rows:
        if estimator_id not in estimators:
            estimators[estimator_id] = ({"name": name, "file_name": file_name, "compressed_data": metadata}, [])
        if blob is not None:
            estimators[estimator_id][1].append(blob)
    return list(estimators.values())


def simulations_finished_before(*, cutoff, queryset=None) -> QuerySet:
    """Finished simulations that ended (or, without an end time, started) before `cutoff`, oldest first."""
    from django.db.models.functions import Coalesce

    from .choices import DELETABLE_STATES

    rows = Simulation.objects.non_polymorphic() if queryset is None else queryset
    return (
        rows.filter(job_state__in=DELETABLE_STATES)
        .annotate(ended=Coalesce("end_time", "start_time"))
        .filter(ended__lt=cutoff)
        .order_by("ended", "id")
    )


def user_usage(*, user_id: int) -> dict[str, int]:
    """What counts against a user's limits: unfinished jobs, their tasks, and the stored (compressed) bytes of all
    their jobs' inputs, results and logs (two queries: the kept counts, and the unfinished jobs' tasks)."""
    kept = SimulationCount.objects.filter(user_id=user_id).aggregate(
        unfinished=Sum("count", filter=Q(job_state__in=UNFINISHED_STATES)), stored=Sum("stored_bytes")
    )
    # A list of the unfinished states (not "not finished") lets PostgreSQL find them by the job_state index.
    unfinished = Simulation.objects.non_polymorphic().filter(user_id=user_id, job_state__in=sorted(UNFINISHED_STATES))
    return {
        "unfinished_jobs": kept["unfinished"] or 0,
        "unfinished_tasks": Task.objects.non_polymorphic().filter(simulation__in=unfinished.values("pk")).count(),
        "stored_bytes": kept["stored"] or 0,
    }
