"""API-wide plumbing: orjson parsing and rendering, JSON error bodies with a `message`, error schemas."""

import datetime
import decimal
import uuid

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.urls import Resolver404, resolve
from django.utils.functional import Promise
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ServiceError


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "request body is too large"
    default_code = "payload_too_large"


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes")


# orjson encodes at most 254 levels: a deeper body would parse, then fail when stored or answered.
MAX_JSON_DEPTH = 200
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _too_deep(data) -> list | None:
    """The path to a value nested deeper than MAX_JSON_DEPTH, or None; lists of scalars are skipped at C speed."""
    stack = [(data, 0, None)]
    while stack:
        node, depth, trail = stack.pop()
        if depth >= MAX_JSON_DEPTH:
            path = []
            while trail is not None:
                trail, key = trail
                path.append(key)
            return path[::-1]
        if type(node) is list:
            if set(map(type, node)) <= _SCALARS:
                continue
            children = enumerate(node)
        else:
            children = node.items()
        deep_enough = depth + 1 >= MAX_JSON_DEPTH
        for key, child in children:
            kind = type(child)
            if kind is list and not deep_enough and set(map(type, child)) <= _SCALARS:
                continue  # a leaf list (rows of numbers), not worth a trip through the stack
            if kind is dict or kind is list:
                stack.append((child, depth + 1, (trail, key)))
    return None


class ORJSONParser(BaseParser):
    """JSON bodies parsed by orjson in one call (results uploads are megabytes of floats)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        if limit is not None and length > limit:
            raise _too_large()
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise _too_large()
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise exceptions.ParseError(f"JSON parse error: {error}") from None
        if type(data) is dict or type(data) is list:
            path = _too_deep(data)
            if path is not None:
                where = ".".join(map(str, path[:3])) + (".…" if len(path) > 3 else "")
                message = f"JSON nested deeper than {MAX_JSON_DEPTH} levels (at {where})"
                raise exceptions.ValidationError({str(path[0]): [message]} if path else [message])
        return data


def _default(value):
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID | datetime.timedelta):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "__iter__"):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class ORJSONRenderer(BaseRenderer):
    """JSON responses rendered by orjson."""

    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return orjson.dumps(data, default=_default, option=orjson.OPT_NON_STR_KEYS)


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
        exc = _too_large()
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
