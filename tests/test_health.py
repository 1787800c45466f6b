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
