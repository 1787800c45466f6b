"""GET /health/ on the embedded broker: database, broker folder and the worker's heartbeat file."""

import time

import pytest

from yaptide_site.heartbeat import heartbeat_path


@pytest.fixture
def embedded_broker(settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.EMBEDDED_BROKER = True
    settings.CELERY_BROKER_DIR = tmp_path
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "queue")}
    (tmp_path / "queue").mkdir()
    return tmp_path


def test_healthy_when_database_broker_and_a_worker_heartbeat_are_there(client, db, embedded_broker):
    heartbeat_path().write_text(str(time.time()))

    response = client.get("/health/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["broker"] == {"ok": True, "kind": "filesystem"} and body["worker"]["ok"]


def test_unavailable_without_a_recent_worker_heartbeat(client, db, embedded_broker):
    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json()["worker"] == {"ok": False, "error": "no worker heartbeat"}

    heartbeat_path().write_text(str(time.time() - 3600))
    assert client.get("/health/").json()["worker"]["ok"] is False


def test_checks_can_be_limited_and_unknown_ones_are_a_400(client, db, embedded_broker):
    response = client.get("/health/?checks=database,broker")

    assert response.status_code == 200
    assert set(response.json()) == {"status", "database", "broker"}
    assert client.get("/health/?checks=disk").status_code == 400


def test_unavailable_when_the_broker_folder_is_missing(client, db, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.EMBEDDED_BROKER = True
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "absent")}

    response = client.get("/health/?checks=broker,worker")

    assert response.status_code == 503
    assert response.json()["worker"] == {"ok": False, "error": "broker down"}


@pytest.mark.integration
def test_health_pollers_ping_the_celery_workers_once_per_check_period(client, db, settings, monkeypatch):
    """Anonymous pollers of /health/ must not each hold a server thread for the 1 s broadcast ping (issue 14, 8)."""
    from yaptide_site import health
    from yaptide_site.celery import app

    settings.EMBEDDED_BROKER = False
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    settings.HEALTH_WORKER_CHECK_SECONDS = 300
    health._worker_last.clear()
    pings = []
    real_inspect = app.control.inspect
    monkeypatch.setattr(app.control, "inspect", lambda **kw: pings.append(kw) or real_inspect(**kw))

    bodies = [client.get("/health/?checks=worker").json()["worker"] for _ in range(5)]

    assert len(pings) == 1  # the others answered from the last check, saying how old it is
    assert bodies[0]["checked_seconds_ago"] == 0.0
    assert all(body["ok"] == bodies[0]["ok"] and "checked_seconds_ago" in body for body in bodies)
