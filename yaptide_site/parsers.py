"""orjson parsing and rendering for DRF. Kept apart from yaptide_site/api.py: DRF's settings import these
classes when rest_framework.views is first imported, so this module must not import rest_framework.views."""

import datetime
import decimal
import uuid

import orjson
from django.conf import settings
from django.utils.functional import Promise
from rest_framework import exceptions
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer


class PayloadTooLarge(exceptions.APIException):
    status_code = 413
    default_detail = "request body is too large"
    default_code = "payload_too_large"


def too_large() -> PayloadTooLarge:
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
            raise too_large()
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise too_large()
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
