"""The old routes' plumbing: a DRF view base with cookie-only authentication and `{"message"}` errors."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.views import APIView

from yaptide_site.api import _first_message
from yaptide_site.errors import ServiceError
from yaptide_site.parsers import ORJSONParser, ORJSONRenderer

from .auth import NO_TOKEN, AccessCookieAuthentication
from .envelope import answer

logger = logging.getLogger(__name__)


class CompatError(Exception):
    """An answer of the old API that is not a success: its status and `message`, plus content keys."""

    def __init__(self, status: int, message: str, **content):
        super().__init__(message)
        self.status = status
        self.message = message
        self.content = content


class JSONOnly(BaseContentNegotiation):
    """Bodies must be sent as JSON, and every answer is JSON whatever the Accept header says (the old API never
    negotiated). Requiring `Content-Type: application/json` also keeps the cookie-authenticated routes out of
    reach of another site's forms, which can only send form or text bodies."""

    def select_parser(self, request, parsers):
        return parsers[0] if request.content_type.split(";")[0].strip().lower() == "application/json" else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def exception_handler(exc, context):
    """Every error as the old API writes it: `{"message": ...}`, never HTML."""
    if isinstance(exc, CompatError):
        return answer(exc.message, exc.status, **exc.content)
    if isinstance(exc, ServiceError):
        return answer(exc.message, exc.status)
    if isinstance(exc, exceptions.NotAuthenticated):
        return answer(NO_TOKEN, 401)
    if isinstance(exc, exceptions.AuthenticationFailed):
        return answer(str(exc.detail), 403)
    if isinstance(exc, Http404):
        return answer("Not found", 404)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return answer(f"Method {context['request'].method} is not allowed here", 405)
    if isinstance(exc, exceptions.UnsupportedMediaType):
        return answer("Send the body as JSON (Content-Type: application/json)", 415)
    if isinstance(exc, RequestDataTooBig):
        return answer(f"Request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes", 413)
    if isinstance(exc, exceptions.APIException):
        response = answer(_first_message(exc.detail), exc.status_code)
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response["Retry-After"] = str(int(exc.wait))
        return response
    # A bug: logged with its traceback, and still a JSON body (the UI parses every error body as JSON).
    logger.error("error in %s", context["request"].path, exc_info=exc)
    return answer("Internal server error", 500)


class CompatView(APIView):
    """An old route: the `access_token` cookie only, JSON in and out, the old API's errors."""

    authentication_classes = [AccessCookieAuthentication]
    permission_classes = [IsAuthenticated]
    parser_classes = [ORJSONParser]
    renderer_classes = [ORJSONRenderer]
    content_negotiation_class = JSONOnly
    schema = None  # the old API is not part of /api/'s OpenAPI schema (README: Using the yaptide browser UI)

    def get_exception_handler(self):
        return exception_handler

    def initial(self, request, *args, **kwargs):
        # The method first, as Flask does: a wrong method is a 405 whether or not a cookie came along.
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise exceptions.MethodNotAllowed(request.method)
        super().initial(request, *args, **kwargs)

    def get_authenticate_header(self, request):
        return AccessCookieAuthentication().authenticate_header(request)


class PublicCompatView(CompatView):
    """An old route that needs no sign-in."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


def json_body(request) -> dict:
    """The request's JSON object; anything else is a 400."""
    data = request.data
    if not isinstance(data, dict) or not data:
        raise CompatError(400, "No JSON in body")
    return data


def missing_keys(data: dict, required: set[str]) -> None:
    """The old API's 400 for absent keys: `Missing keys in JSON payload: {'a', 'b'}`."""
    missing = required - set(data)
    if missing:
        raise CompatError(400, f"Missing keys in JSON payload: {missing}")
