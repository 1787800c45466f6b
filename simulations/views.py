"""The owner's simulations: list, submit, detail, cancel, delete, input, logfiles and results."""

import dataclasses

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from yaptide_site.api import error_responses
from yaptide_site.errors import NotFound

from . import http, presenters, selectors
from .choices import TERMINAL_STATES
from .filters import CURSOR_PATTERN, SimulationFilter, list_cursor, list_cursor_parse, list_query_parse
from .models import Simulation
from .serializers import (
    EstimatorListingSerializer,
    EstimatorSerializer,
    InputSerializer,
    LogfilesSerializer,
    ResultsSerializer,
    SimulationDetailSerializer,
    SimulationItemSerializer,
    SubmitSerializer,
)
from .services import simulation_cancel, simulation_delete, simulation_submit


def simulation_detail_body(user, job_id: str) -> dict:
    return presenters.simulation_detail(*selectors.simulation_detail(user=user, job_id=job_id))


class SimulationPagination(PageNumberPagination):
    """Page numbers and sizes of the list (the page itself is read by selectors.simulation_page)."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        """As DRF's, but a page_size that is not a whole number is a 400 (not silently the default)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not raw.strip().lstrip("+-").isdigit():
            raise ValidationError({self.page_size_query_param: [f"a whole number is required, got {raw!r}"]})
        return super().get_page_size(request)


class SimulationFilterBackend(DjangoFilterBackend):
    """Documents the list's parameters (SimulationFilter) in the schema; the list parses them itself
    (filters.list_query_parse), without building django-filter's form on every request."""

    def filter_queryset(self, request, queryset, view):
        return queryset


PAGES_PARAMETER = OpenApiParameter(
    "pages",
    OpenApiTypes.STR,
    description="Page numbers: single numbers and ranges, comma separated, e.g. `0-2,5`. Default: all pages.",
    pattern=selectors.PAGES_PATTERN,
)
JOB_ID_PARAMETER = OpenApiParameter("job_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The job id.")
COMPRESSED = "Compressed (zstd or gzip) when the client accepts it."
CONDITIONAL = "Completed results carry an ETag; If-None-Match answers 304."


@extend_schema_view(
    list=extend_schema(
        summary="List my simulations",
        description="Newest first, paginated (page_size at most 100). With `cursor` (empty for the first page) "
        "the pages are keyset pages ordered by start_time (in the direction `ordering` gives it, other keys are "
        "ignored): `next` carries the cursor of the last row, and a page costs the same at any depth.",
        parameters=[
            OpenApiParameter(
                "cursor",
                OpenApiTypes.STR,
                description="Keyset paging: empty for the first page, then the cursor of `next`.",
                pattern=CURSOR_PATTERN,
            )
        ],
        responses={200: SimulationItemSerializer(many=True), **error_responses(400, 401, 404)},
    ),
    create=extend_schema(
        summary="Submit a simulation",
        request=SubmitSerializer,
        responses={201: SimulationDetailSerializer, **error_responses(400, 401, 413, 415)},
    ),
    retrieve=extend_schema(
        summary="A simulation and its tasks",
        parameters=[JOB_ID_PARAMETER],
        responses={200: SimulationDetailSerializer, **error_responses(401, 404)},
    ),
    destroy=extend_schema(
        summary="Delete a finished simulation",
        parameters=[JOB_ID_PARAMETER],
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 404, 409)},
    ),
)
class SimulationViewSet(viewsets.GenericViewSet):
    lookup_field = "job_id"
    lookup_value_regex = "[^/]+"
    pagination_class = SimulationPagination
    filter_backends = [SimulationFilterBackend]
    filterset_class = SimulationFilter
    serializer_class = SimulationItemSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Simulation.objects.none()
        return selectors.simulation_list(user=self.request.user)

    def list(self, request):
        query = list_query_parse(request.query_params)
        pagination = self.paginator
        size = pagination.get_page_size(request)
        if "cursor" in request.query_params:
            return self._list_after(request, query, size)
        number = request.query_params.get(pagination.page_query_param) or "1"
        if not number.isdigit():
            raise NotFound(f"page {number!r} is not a page number")
        rows, count = selectors.simulation_page(user=request.user, query=query, number=int(number), size=size)
        progress = selectors.simulation_progress(simulation_ids=[row["id"] for row in rows])
        url = request.build_absolute_uri()
        number = int(number)
        previous = None
        if number > 1:
            previous = replace_query_param(url, "page", number - 1) if number > 2 else remove_query_param(url, "page")
        return Response(
            {
                "count": count,
                "next": replace_query_param(url, "page", number + 1) if number * size < count else None,
                "previous": previous,
                "results": [presenters.simulation_item(row, progress.get(row["id"])) for row in rows],
            }
        )

    def _list_after(self, request, query, size: int) -> Response:
        """Keyset paging (`cursor`, empty for the first page): `next` carries the cursor of the page's last row,
        so following it costs the same at any depth; `count` is the maintained count."""
        after = list_cursor_parse(request.query_params.get("cursor") or "")
        # Keyset pages follow start_time, in the direction `ordering` gives it (newest first by default).
        by_start = [key for key in query.ordering if key.lstrip("-") == "start_time"] or ["-start_time"]
        query = dataclasses.replace(query, ordering=(by_start[0],))
        rows = selectors.simulation_page_after(user=request.user, query=query, after=after, size=size)
        progress = selectors.simulation_progress(simulation_ids=[row["id"] for row in rows])
        url = request.build_absolute_uri()
        last = rows[-1] if len(rows) == size else None
        return Response(
            {
                "count": selectors.simulation_count(user=request.user, query=query),
                "next": replace_query_param(url, "cursor", list_cursor(last)) if last else None,
                "previous": None,
                "results": [presenters.simulation_item(row, progress.get(row["id"])) for row in rows],
            }
        )

    def create(self, request):
        serializer = SubmitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        simulation, _update_key = simulation_submit(user=request.user, **serializer.validated_data)
        return Response(simulation_detail_body(request.user, simulation.job_id), status=status.HTTP_201_CREATED)

    def retrieve(self, request, job_id: str):
        return Response(simulation_detail_body(request.user, job_id))

    def destroy(self, request, job_id: str):
        simulation_delete(simulation=selectors.simulation_get(user=request.user, job_id=job_id))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Cancel a simulation",
        request=None,
        parameters=[JOB_ID_PARAMETER],
        responses={200: SimulationDetailSerializer, **error_responses(401, 404, 409)},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, job_id: str):
        simulation_cancel(simulation=selectors.simulation_get(user=request.user, job_id=job_id))
        return Response(simulation_detail_body(request.user, job_id))

    @extend_schema(
        summary="The input of a simulation",
        description=COMPRESSED,
        parameters=[JOB_ID_PARAMETER],
        responses={
            200: InputSerializer,
            304: OpenApiResponse(description="Not modified."),
            **error_responses(401, 404),
        },
    )
    @action(detail=True, methods=["get"], url_path="input")
    def input(self, request, job_id: str):
        simulation = selectors.simulation_get(user=request.user, job_id=job_id)
        etag = http.etag_for(simulation.job_id, "input")
        return http.not_modified(request, etag) or http.json_response(
            request, [http.Stored(selectors.input_blob(simulation=simulation))], etag=etag
        )

    @extend_schema(
        summary="The log files of a simulation",
        description=COMPRESSED,
        parameters=[JOB_ID_PARAMETER],
        responses={200: LogfilesSerializer, **error_responses(401, 404)},
    )
    @action(detail=True, methods=["get"])
    def logfiles(self, request, job_id: str):
        simulation = selectors.simulation_get(user=request.user, job_id=job_id)
        parts = http.wrapped_parts(b'{"logfiles":', selectors.logfiles_blob(simulation=simulation), b"}")
        return http.json_response(request, parts)

    @extend_schema(
        summary="The estimators of a simulation and their pages",
        description="Names only, with each page's number, name and dimension: a client fetches what it shows.",
        parameters=[JOB_ID_PARAMETER],
        responses={200: EstimatorListingSerializer, **error_responses(401, 404)},
    )
    @action(detail=True, methods=["get"])
    def estimators(self, request, job_id: str):
        simulation = selectors.simulation_get(user=request.user, job_id=job_id)
        return Response(presenters.estimators_listing(selectors.estimators_listing(simulation=simulation)))

    def _results_etag(self, simulation, selection_key: str) -> str | None:
        if simulation.job_state not in TERMINAL_STATES:
            return None
        return http.etag_for(simulation.job_id, simulation.results_version, selection_key)

    @extend_schema(
        operation_id="simulations_estimator_retrieve",
        summary="One estimator with all or some of its pages",
        description=f"`name` is the estimator's name or file name. {COMPRESSED} {CONDITIONAL}",
        parameters=[
            JOB_ID_PARAMETER,
            OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, description="Estimator name."),
            PAGES_PARAMETER,
        ],
        responses={
            200: EstimatorSerializer,
            304: OpenApiResponse(description="Not modified."),
            **error_responses(400, 401, 404),
        },
    )
    @action(detail=True, methods=["get"], url_path=r"estimators/(?P<name>[^/]+)", url_name="estimator")
    def estimator(self, request, job_id: str, name: str):
        selection = selectors.page_selection_parse(request.query_params.get("pages"))
        simulation = selectors.simulation_get(user=request.user, job_id=job_id)
        etag = self._results_etag(simulation, f"estimator:{name}:{selection.key if selection else 'all'}")
        cached = http.not_modified(request, etag) or http.cached(request, etag)
        if cached:
            return cached
        estimator, blobs = selectors.estimator_with_pages(simulation=simulation, name=name, selection=selection)
        return http.json_response(request, http.estimator_parts(estimator, blobs), etag=etag)

    @extend_schema(
        summary="All results of a simulation",
        description=f"Every estimator with all its pages. {COMPRESSED} {CONDITIONAL}",
        parameters=[JOB_ID_PARAMETER],
        responses={
            200: ResultsSerializer,
            304: OpenApiResponse(description="Not modified."),
            **error_responses(401, 404),
        },
    )
    @action(detail=True, methods=["get"])
    def results(self, request, job_id: str):
        simulation = selectors.simulation_get(user=request.user, job_id=job_id)
        etag = self._results_etag(simulation, "all")
        cached = http.not_modified(request, etag) or http.cached(request, etag)
        if cached:
            return cached
        rows = selectors.results_stream(simulation=simulation)
        return http.json_response_streamed(request, http.results_parts_stream(rows), etag=etag)
