"""Request ids in responses and log lines, the security headers every response carries, health checks of kept
database connections only after they sat idle, and the message storage built only when a view uses it."""

import contextvars
import logging
import re
import uuid

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.utils.functional import SimpleLazyObject, empty

from .connections import connections_mark_used, connections_skip_recent_checks

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept when it looks like one; anything else is replaced, so a client cannot forge log lines.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# Responses that carry tokens or who the user is must never be stored by a browser or a proxy cache.
NO_STORE_PREFIXES = ("/api/auth/",)


def current_request_id() -> str:
    """The id of the request this code runs for, or "-" outside a request (Celery, commands)."""
    return _request_id.get()


class RecentConnectionsMiddleware:
    """A database connection that served a request less than HEALTH_CHECK_AFTER_IDLE_SECONDS ago is not
    health-checked again (yaptide_site.connections); one that sat idle longer is."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        connections_skip_recent_checks()
        response = self.get_response(request)
        connections_mark_used()
        return response


class LazyMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware with the message storage built when a view or template first uses it: the API
    never does, and building it (a cookie signer and a session store) was 4% of a task update's server CPU."""

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response  # never used: nothing to store
        return super().process_response(request, response)


class RequestIdMiddleware:
    """Gives each request an id (or keeps the proxy's X-Request-ID) and sends it back in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = incoming if _CLIENT_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = _request_id.set(request.request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


class SecurityHeadersMiddleware:
    """Content-Security-Policy on every response, and no-store on token and user responses."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        if request.path.startswith(NO_STORE_PREFIXES):
            response["Cache-Control"] = "no-store"
        return response


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every log record, so a 500's traceback names the id its JSON body shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class ServerErrorsOnlyFilter(logging.Filter):
    """Drops django.request's 4xx warnings: the access log already has one line for each."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        return status is None or status >= 500
