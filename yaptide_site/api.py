"""API-wide error handling: every error body is JSON with a human-readable `message`."""

from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ServiceError


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
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"message": _first_message(detail), "errors": detail}
    else:
        response.data = {"message": _first_message(detail)}
    return response
