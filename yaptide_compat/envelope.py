"""The old API's envelope: one flat JSON object, a `message` and the content keys beside it; RFC 1123 times."""

import datetime
from email.utils import format_datetime

import orjson
from django.http import HttpResponse


def rfc1123(value: datetime.datetime | None) -> str | None:
    """An aware time as yaptide wrote it: `Tue, 01 Dec 2026 21:17:08 GMT`."""
    if value is None:
        return None
    return format_datetime(value.astimezone(datetime.UTC).replace(microsecond=0), usegmt=True)


def epoch_ms(timestamp: int | float) -> int:
    """A token's `exp` claim (epoch seconds) in epoch milliseconds, as the UI's refresh timer reads it."""
    return int(timestamp) * 1000


def answer(message: str, status: int = 200, **content) -> HttpResponse:
    """`{"message": message, **content}` as JSON."""
    body = orjson.dumps({"message": message, **content}, option=orjson.OPT_NON_STR_KEYS)
    return HttpResponse(body, content_type="application/json", status=status)
