"""GET /health/: database, broker and worker status as JSON; 200 when all are up, 503 otherwise."""

import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from .heartbeat import HEARTBEAT_MAX_AGE, heartbeat_age

PING_TIMEOUT = 1.0
_worker_lock = threading.Lock()
_worker_last: dict = {}


def database_status() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": str(exc)}


def broker_status() -> dict:
    from .celery import app

    if settings.EMBEDDED_BROKER:
        folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        ok = folder.is_dir()
        return {"ok": ok, "kind": "filesystem"} if ok else {"ok": False, "kind": "filesystem", "error": "no folder"}
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return {"ok": True, "kind": conn.transport_cls}
    except Exception as exc:
        return {"ok": False, "error": str(exc)}


def worker_status() -> dict:
    from .celery import app

    if settings.EMBEDDED_BROKER:
        age = heartbeat_age()
        if age is None:
            return {"ok": False, "error": "no worker heartbeat"}
        return {"ok": age < HEARTBEAT_MAX_AGE, "heartbeat_age_seconds": round(age, 1)}
    # A broadcast ping holds its caller for PING_TIMEOUT: its answer is reused for HEALTH_WORKER_CHECK_SECONDS, and
    # while one request pings, the others answer with the last result instead of waiting (pollers cannot tie up
    # the server's threads).
    if _worker_last.get("broker") != settings.CELERY_BROKER_URL:
        _worker_last.clear()
    last = _worker_last.get("status")
    if last is not None and time.monotonic() - _worker_last["at"] < settings.HEALTH_WORKER_CHECK_SECONDS:
        return {**last, "checked_seconds_ago": round(time.monotonic() - _worker_last["at"], 1)}
    if not _worker_lock.acquire(blocking=False):
        if last is not None:
            return {**last, "checked_seconds_ago": round(time.monotonic() - _worker_last["at"], 1)}
        return {"ok": False, "error": "the first worker check is still running"}
    try:
        try:
            replies = app.control.inspect(timeout=PING_TIMEOUT).ping() or {}
            status = {"ok": bool(replies), "workers": sorted(replies)}
        except Exception as exc:
            status = {"ok": False, "error": str(exc)}
        _worker_last.update(status=status, at=time.monotonic(), broker=settings.CELERY_BROKER_URL)
        return {**status, "checked_seconds_ago": 0.0}
    finally:
        _worker_lock.release()


CHECKS = {"database": database_status, "broker": broker_status, "worker": worker_status}


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Reports each dependency; a load balancer or compose health check needs only the status code.

    `?checks=database,broker` limits the report (the web container's own health must not hang on workers).
    """
    wanted = [name for name in request.GET.get("checks", ",".join(CHECKS)).split(",") if name]
    unknown = sorted(set(wanted) - set(CHECKS))
    if unknown:
        return JsonResponse(
            {"message": f"unknown checks: {', '.join(unknown)}; known: {', '.join(CHECKS)}"}, status=400
        )
    checks = {}
    for name in CHECKS:
        if name not in wanted:
            continue
        if name == "worker" and not checks.get("broker", {"ok": True})["ok"]:
            checks[name] = {"ok": False, "error": "broker down"}
        else:
            checks[name] = CHECKS[name]()
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)
