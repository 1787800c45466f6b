"""Filters, search and ordering of a user's simulation list (query parameters)."""

import re
from datetime import UTC, datetime, timedelta

import django_filters
from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import IsoDateTimeField, MultipleChoiceField

from yaptide_site.errors import InvalidInput

from .choices import InputType, JobState, Platform, SimType
from .models import Simulation
from .selectors import ListQuery


class CommaMultipleChoiceField(MultipleChoiceField):
    """Several values as repeated parameters or one comma-separated list, in any letter case."""

    def __init__(self, *args, normalize=str.upper, **kwargs):
        self.normalize = normalize
        super().__init__(*args, **kwargs)

    def to_python(self, value):
        values = super().to_python(value)
        return [self.normalize(part.strip()) for item in values for part in item.split(",") if part.strip()]


class CommaMultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    field_class = CommaMultipleChoiceField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, converted to UTC (any offset a client sends stays out of SQL)."""

    def to_python(self, value):
        if isinstance(value, str) and not value.strip():
            # Present but empty (`start_before=`): a mistake, not "no filter" (leave the parameter out for that).
            raise forms.ValidationError("an ISO 8601 time is required, not an empty value", code="invalid")
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("time out of range", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class TieBrokenOrderingFilter(django_filters.OrderingFilter):
    """start_time or end_time, ascending or descending; equal times are ordered by id the same way."""

    def filter(self, qs, value):
        if value in EMPTY_VALUES:
            return qs
        ordering = [self.get_ordering_value(param) for param in value]
        return qs.order_by(*ordering, "-id" if ordering[-1].startswith("-") else "id")


class SimulationFilter(django_filters.FilterSet):
    job_state = CommaMultipleChoiceFilter(
        choices=JobState.choices, help_text="One or more job states: repeat the parameter or separate with commas."
    )
    sim_type = CommaMultipleChoiceFilter(choices=SimType.choices, normalize=str.lower, help_text="Simulator(s).")
    platform = CommaMultipleChoiceFilter(choices=Platform.choices, help_text="DIRECT or BATCH.")
    input_type = CommaMultipleChoiceFilter(choices=InputType.choices, help_text="EDITOR or FILES.")
    start_after = UtcIsoDateTimeFilter(
        field_name="start_time", lookup_expr="gte", help_text="Submitted at or after this ISO 8601 time."
    )
    start_before = UtcIsoDateTimeFilter(
        field_name="start_time", lookup_expr="lte", help_text="Submitted at or before this ISO 8601 time."
    )
    search = django_filters.CharFilter(
        field_name="title", lookup_expr="icontains", max_length=255, help_text="Part of the title."
    )
    ordering = TieBrokenOrderingFilter(
        fields=(("start_time", "start_time"), ("end_time", "end_time")),
        help_text="start_time, -start_time (default), end_time or -end_time.",
    )

    class Meta:
        model = Simulation
        fields: list[str] = []


# The list's parameters parsed by hand: SimulationFilter above documents them (the OpenAPI schema), but building
# its form on every request cost more than the rest of the list.
_CHOICES = {
    "job_state": ({c.value for c in JobState}, str.upper),
    "sim_type": ({c.value for c in SimType}, str.lower),
    "platform": ({c.value for c in Platform}, str.upper),
    "input_type": ({c.value for c in InputType}, str.upper),
}
_ORDERINGS = {"start_time", "-start_time", "end_time", "-end_time"}
LIST_PARAMETERS = frozenset({*_CHOICES, "start_after", "start_before", "search", "ordering", "cursor"})


def _choices(params, name: str) -> tuple[str, ...]:
    allowed, normalize = _CHOICES[name]
    values = [normalize(part.strip()) for item in params.getlist(name) for part in item.split(",") if part.strip()]
    for value in values:
        if value not in allowed:
            raise InvalidInput(
                f"{name}: select a valid choice; {value} is not one of the available choices", field=name
            )
    return tuple(dict.fromkeys(values))


def _time(params, name: str) -> datetime | None:
    if name not in params:
        return None
    text = (params.get(name) or "").strip()
    if not text:
        # Present but empty (`start_before=`): a mistake, not "no filter" (leave the parameter out for that).
        raise InvalidInput(f"{name}: enter a valid ISO 8601 date/time (or leave the parameter out)", field=name)
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        raise InvalidInput(f"{name}: enter a valid ISO 8601 date/time", field=name)
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{name}: time out of range", field=name) from None


def list_query_parse(params) -> ListQuery:
    """The ListQuery of a list request's query parameters (SimulationFilter's names and rules); InvalidInput
    names the parameter that is wrong."""
    if not LIST_PARAMETERS.intersection(params):
        return ListQuery()
    search = (params.get("search") or "").strip()
    if len(search) > 255:
        raise InvalidInput("search: at most 255 characters", field="search")
    ordering = tuple(part.strip() for item in params.getlist("ordering") for part in item.split(",") if part.strip())
    for value in ordering:
        if value not in _ORDERINGS:
            raise InvalidInput(f"ordering: {value} is not one of {', '.join(sorted(_ORDERINGS))}", field="ordering")
    return ListQuery(
        job_states=_choices(params, "job_state"),
        sim_types=_choices(params, "sim_type"),
        platforms=_choices(params, "platform"),
        input_types=_choices(params, "input_type"),
        start_after=_time(params, "start_after"),
        start_before=_time(params, "start_before"),
        search=search,
        ordering=ordering or ListQuery.ordering,
    )


CURSOR_PATTERN = r"^(\d{1,16}_\d{1,18})?$"  # start time in microseconds since 1970 (UTC), "_", id
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def list_cursor(row: dict) -> str:
    """The keyset cursor of a list row: its start time (microseconds since 1970, UTC) and id."""
    return f"{(row['start_time'] - _EPOCH) // _MICROSECOND}_{row['id']}"


def list_cursor_parse(text: str) -> tuple[datetime, int] | None:
    """The (start_time, id) of a cursor (CURSOR_PATTERN); None for an empty one (the first page)."""
    if not re.fullmatch(CURSOR_PATTERN, text):
        raise InvalidInput("cursor: the `next` link's cursor, or empty for the first page", field="cursor")
    if not text:
        return None
    start, pk = text.split("_")
    return _EPOCH + int(start) * _MICROSECOND, int(pk)
