"""API-wide plumbing: JSON error bodies with a `message`, error views and schemas (orjson parsing and rendering
are in yaptide_site/parsers.py, which DRF's settings import before any view exists)."""

import datetime

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ServiceError
from .parsers import too_large


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()), ("", ""))
        text = _first_message(value)
        return text if field in ("non_field_errors", "detail", "") else f"{field}: {text}"
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else ""
    return str(detail)


def exception_handler(exc, context):
    """Turns service errors and DRF errors into `{"message": ..., "errors"?: {...}}` bodies."""
    if isinstance(exc, ServiceError):
        body = {"message": exc.message}
        if exc.field:
            body["errors"] = {exc.field: [exc.message]}
        return Response(body, status=exc.status)
    if isinstance(exc, RequestDataTooBig):
        exc = too_large()
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        if not isinstance(detail, dict):
            detail = {"non_field_errors": detail if isinstance(detail, list) else [detail]}
        response.data = {"message": _first_message(detail), "errors": detail}
    else:
        response.data = {"message": _first_message(detail)}
    return response


class ErrorSerializer(serializers.Serializer):
    """Every error body: a human-readable message, and for invalid input the errors per field."""

    message = serializers.CharField()
    errors = serializers.DictField(child=serializers.JSONField(), required=False)


def error_responses(*statuses: int) -> dict:
    """extend_schema `responses` entries for the given error statuses."""
    return {status: ErrorSerializer for status in statuses}


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """JSON 404 for any /api/ address that names no endpoint."""
    message = f"no API endpoint at {request.path}"
    if not request.path.endswith("/"):
        try:
            resolve(request.path + "/")
        except Resolver404:
            pass
        else:
            message += f"; API paths end with a slash: {request.path}/"
    return JsonResponse({"message": message}, status=404)


def iso_utc(value: datetime.datetime | None) -> str | None:
    """An aware time as ISO 8601 in UTC with a `Z` suffix, as every API response writes times."""
    if value is None:
        return None
    return value.astimezone(datetime.UTC).isoformat()[:-6] + "Z"


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def server_error(request, *args, **kwargs):
    """A 500: JSON with the request id under /api/ (the log line of the traceback carries the same id)."""
    if not _is_api(request):
        return defaults.server_error(request, *args, **kwargs)
    request_id = getattr(request, "request_id", None)
    return JsonResponse(
        {"message": f"internal server error; quote request id {request_id} to report it", "request_id": request_id},
        status=500,
    )


def bad_request(request, exception, *args, **kwargs):
    """A 400 Django raised before any view (e.g. a Host not in DJANGO_ALLOWED_HOSTS): JSON under /api/."""
    if not _is_api(request):
        return defaults.bad_request(request, exception, *args, **kwargs)
    return JsonResponse({"message": "bad request"}, status=400)


def permission_denied(request, exception, *args, **kwargs):
    if not _is_api(request):
        return defaults.permission_denied(request, exception, *args, **kwargs)
    return JsonResponse({"message": str(exception) or "permission denied"}, status=403)


def page_not_found(request, exception, *args, **kwargs):
    if not _is_api(request):
        return defaults.page_not_found(request, exception, *args, **kwargs)
    return JsonResponse({"message": f"no API endpoint at {request.path}"}, status=404)


def csrf_failure(request, reason="", *args, **kwargs):
    """Django's CSRF refusal (the admin's forms): JSON under /api/, Django's page elsewhere."""
    if not _is_api(request):
        return csrf.csrf_failure(request, reason, *args, **kwargs)
    return JsonResponse({"message": f"CSRF check failed: {reason}"}, status=403)
