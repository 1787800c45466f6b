"""GET /health/: database, broker and worker status as JSON; 200 when all are up, 503 otherwise."""

from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from .heartbeat import HEARTBEAT_MAX_AGE, heartbeat_age

PING_TIMEOUT = 1.0


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
    try:
        replies = app.control.inspect(timeout=PING_TIMEOUT).ping() or {}
    except Exception as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": bool(replies), "workers": sorted(replies)}


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
