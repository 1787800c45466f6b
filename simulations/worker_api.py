"""The worker channel: simulation workers and batch jobs report with the simulation's update key.

No user authentication runs here; a request is allowed by its job_id and `X-Update-Key` alone (one
query, constant-time compare). Bodies are validated by small functions, not DRF fields, because a
results upload holds hundreds of thousands of numbers.
"""

import math
from datetime import UTC, datetime
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from yaptide_site.api import error_responses
from yaptide_site.errors import InvalidInput
from yaptide_site.parsers import ORJSONParser, ORJSONRenderer

from . import presenters, selectors
from .choices import JobState
from .models import Simulation
from .serializers import (
    TaskSerializer,
    WorkerLogfilesSerializer,
    WorkerLogfilesStoredSerializer,
    WorkerResultsStoredSerializer,
    WorkerResultsUploadSerializer,
    WorkerSimulationStateSerializer,
    WorkerSimulationUpdateSerializer,
    WorkerTaskUpdateSerializer,
)
from .services import (
    TaskUpdate,
    logfiles_store,
    results_store,
    simulation_apply_update,
    task_apply_update,
    update_key_matches,
)

UPDATE_KEY_HEADER = "HTTP_X_UPDATE_KEY"
DENIED = "invalid job_id or update key"
MAX_BIGINT = 2**63 - 1
MAX_SECONDS = 2**31 - 1
MAX_TEXT = {"job_dir": 1024, "array_id": 64, "collect_id": 64, "celery_id": 255}


class UpdateKeyDenied(exceptions.PermissionDenied):
    default_detail = DENIED


class HasUpdateKey(BasePermission):
    """Allows the request when X-Update-Key matches the simulation named by job_id; sets view.simulation."""

    def has_permission(self, request, view):
        job_id = view.kwargs.get("job_id", "")
        key = request.META.get(UPDATE_KEY_HEADER, "")
        simulation = selectors.simulation_for_worker(job_id)
        # An unknown job and a wrong key answer alike (compare anyway, so both take the same time).
        matches = update_key_matches(simulation=simulation or Simulation(update_key_hash="0" * 64), key=key)
        if simulation is None or not matches:
            raise UpdateKeyDenied()
        view.simulation = simulation
        return True


def _object(data: Any) -> dict:
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    return data


def _time(data: dict, field: str) -> datetime | None:
    value = data.get(field)
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise ValueError
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{field} must be an ISO 8601 time, got {value!r}", field=field) from None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{field} is out of range, got {value!r}", field=field) from None


def _count(data: dict, field: str, maximum: int = MAX_BIGINT) -> int | None:
    value = data.get(field)
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidInput(f"{field} must be a whole number from 0 to {maximum}, got {value!r}", field=field)
    return value


def _seconds(data: dict, field: str) -> int | None:
    value = data.get(field)
    if isinstance(value, float) and math.isfinite(value) and 0 <= value <= MAX_SECONDS:
        return round(value)
    return _count(data, field, MAX_SECONDS)


def _state(data: dict, field: str) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or value.upper() not in JobState.values:
        raise InvalidInput(f"{field} must be one of {', '.join(JobState.values)}, got {value!r}", field=field)
    return value.upper()


def _text(data: dict, field: str) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TEXT[field] or "\x00" in value:
        raise InvalidInput(f"{field} must be a text of 1 to {MAX_TEXT[field]} characters", field=field)
    return value


def task_update_parse(data: Any) -> TaskUpdate:
    """A TaskUpdate from a worker's JSON body; InvalidInput names the bad field."""
    data = _object(data)
    return TaskUpdate(
        task_state=_state(data, "task_state"),
        requested_primaries=_count(data, "requested_primaries"),
        simulated_primaries=_count(data, "simulated_primaries"),
        estimated_time=_seconds(data, "estimated_time"),
        start_time=_time(data, "start_time"),
        end_time=_time(data, "end_time"),
        celery_id=_text(data, "celery_id"),
    )


UPDATE_KEY_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "X-Update-Key",
    "description": "The simulation's update key, given to its workers at dispatch.",
}


class WorkerSchema(AutoSchema):
    """Worker operations declare the update key as their security scheme (it is checked by HasUpdateKey)."""

    def get_auth(self):
        self.registry.register_on_missing(
            ResolvedComponent(
                name="updateKey", type=ResolvedComponent.SECURITY_SCHEMA, object="updateKey", schema=UPDATE_KEY_SCHEME
            )
        )
        return [{"updateKey": []}]


JOB_ID_PARAMETER = OpenApiParameter("job_id", OpenApiTypes.STR, OpenApiParameter.PATH, description="The job id.")
WORKER_ERRORS = error_responses(400, 403, 413, 415)
DENIED_NOTE = "A wrong key and an unknown job_id both answer 403 with the same message."


class WorkerView(APIView):
    authentication_classes: list = []
    permission_classes = [HasUpdateKey]
    throttle_classes: list = []
    parser_classes = [ORJSONParser]
    renderer_classes = [ORJSONRenderer]  # machines only: no browsable API to negotiate
    schema = WorkerSchema()
    simulation: Simulation

    def initial(self, request, *args, **kwargs):
        # A method the endpoint does not have is a 405 before the key is looked at (as the schema says).
        if request.method.lower() not in self.http_method_names or not hasattr(self, request.method.lower()):
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)


class WorkerSimulationView(WorkerView):
    @extend_schema(
        summary="Worker: update the simulation",
        description=f"States only move forward; end_time is set once; batch jobs also take job_dir, "
        f"array_id and collect_id. {DENIED_NOTE}",
        parameters=[JOB_ID_PARAMETER],
        request=WorkerSimulationUpdateSerializer,
        responses={200: WorkerSimulationStateSerializer, **WORKER_ERRORS},
        examples=[
            OpenApiExample("merged", value={"job_state": "COMPLETED", "end_time": "2026-01-31T12:00:00Z"}),
            OpenApiExample(
                "batch submitted", value={"job_dir": "/net/scratch/job", "array_id": "123", "collect_id": "124"}
            ),
        ],
        tags=["worker"],
    )
    def post(self, request, job_id: str):
        data = _object(request.data)
        simulation = simulation_apply_update(
            simulation=self.simulation,
            job_state=_state(data, "job_state"),
            end_time=_time(data, "end_time"),
            job_dir=_text(data, "job_dir"),
            array_id=_text(data, "array_id"),
            collect_id=_text(data, "collect_id"),
        )
        return Response(presenters.simulation_state(simulation))


class WorkerTaskView(WorkerView):
    @extend_schema(
        summary="Worker: update one task",
        description="Task rules of REFERENCE section 2: a terminal task never changes, states and primaries never "
        f"move backwards, start/end time are set once. Idempotent. {DENIED_NOTE}",
        parameters=[
            JOB_ID_PARAMETER,
            OpenApiParameter("task_id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Task ordinal."),
        ],
        request=WorkerTaskUpdateSerializer,
        responses={200: TaskSerializer, **error_responses(400, 403, 404, 413, 415)},
        examples=[
            OpenApiExample(
                "progress",
                value={"task_state": "RUNNING", "simulated_primaries": 5000, "estimated_time": 42},
            ),
            OpenApiExample(
                "done",
                value={"task_state": "COMPLETED", "end_time": "2026-01-31T12:00:00.123456"},
            ),
        ],
        tags=["worker"],
    )
    def post(self, request, job_id: str, task_id: int):
        task = task_apply_update(simulation=self.simulation, task_id=task_id, update=task_update_parse(request.data))
        return Response(presenters.task_status(task))


PAGE_EXAMPLE = {
    "metadata": {"page_number": "0", "name": "DOSE", "unit": "MeV/g", "dettyp": "DOSE"},
    "dimensions": 1,
    "data": {"name": "DOSE", "unit": "MeV/g", "values": [1.5, 2.5, 0.5]},
    "axis_dim1": {"name": "Position (Z)", "unit": "cm", "values": [0.5, 1.5, 2.5]},
}


class WorkerResultsView(WorkerView):
    @extend_schema(
        summary="Worker: upload results",
        description="Estimators upserted on (simulation, file_name), pages on (estimator, page_number), in one "
        f"transaction; sending the same results again leaves the same rows. {DENIED_NOTE}",
        parameters=[JOB_ID_PARAMETER],
        request=WorkerResultsUploadSerializer,
        responses={200: WorkerResultsStoredSerializer, **WORKER_ERRORS},
        examples=[
            OpenApiExample(
                "one 1-D estimator",
                value={
                    "estimators": [
                        {
                            "name": "z_profile_",
                            "metadata": {"file_corename": "z_profile_", "page_count": "1", "geotyp": "CYL"},
                            "pages": [PAGE_EXAMPLE],
                        }
                    ]
                },
            )
        ],
        tags=["worker"],
    )
    def post(self, request, job_id: str):
        data = _object(request.data)
        estimators = data.get("estimators")
        if not isinstance(estimators, list):
            raise InvalidInput("estimators must be a list", field="estimators")
        stored = results_store(simulation=self.simulation, estimators=estimators)
        pages = sum(len(e.get("pages") or []) for e in estimators if isinstance(e, dict))
        return Response({"estimators": len(stored), "pages": pages})


class WorkerLogfilesView(WorkerView):
    @extend_schema(
        summary="Worker: upload log files",
        description=f"A file sent again replaces its earlier text. {DENIED_NOTE}",
        parameters=[JOB_ID_PARAMETER],
        request=WorkerLogfilesSerializer,
        responses={200: WorkerLogfilesStoredSerializer, **WORKER_ERRORS},
        examples=[OpenApiExample("simulator log", value={"logfiles": {"shieldhit_0001.log": "NSTAT 1000 ..."}})],
        tags=["worker"],
    )
    def post(self, request, job_id: str):
        data = _object(request.data)
        logfiles_store(simulation=self.simulation, logfiles=data.get("logfiles"))
        return Response({"logfiles": sorted(data["logfiles"])})
