"""Errors under /api/ are JSON (a 500 too, with the request id its log line carries); 4xx logged once."""

import contextlib
import io
import logging
import re

import pytest

from yaptide_site.middleware import RequestIdLogFilter


@pytest.fixture
def quiet_client(client):
    client.raise_request_exception = False
    return client


@contextlib.contextmanager
def console_output():
    """What the settings' console handler (its format, its request id filter) writes meanwhile."""
    [console] = [h for h in logging.getLogger().handlers if any(isinstance(f, RequestIdLogFilter) for f in h.filters)]
    stream = io.StringIO()
    previous, console.stream = console.stream, stream  # (setStream would flush a stream pytest may have closed)
    try:
        yield stream
    finally:
        console.stream = previous


@pytest.mark.urls("tests.site.boom_urls")
def test_api_500_is_json_with_the_request_id_of_its_traceback_line(quiet_client, db):
    with console_output() as stream:
        response = quiet_client.get("/api/boom/")

    assert response.status_code == 500 and response["Content-Type"] == "application/json"
    request_id = response.json()["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id) and response["X-Request-ID"] == request_id
    assert request_id in response.json()["message"]
    log = stream.getvalue()
    [line] = [line for line in log.splitlines() if "Internal Server Error: /api/boom/" in line]
    assert f"[{request_id}]" in line and "RuntimeError: a bug in a view" in log


@pytest.mark.urls("tests.site.boom_urls")
def test_a_500_outside_the_api_stays_an_html_page(quiet_client, db):
    response = quiet_client.get("/boom/")

    assert response.status_code == 500 and response["Content-Type"].startswith("text/html")


def test_a_proxy_request_id_is_kept_and_a_forged_one_replaced(client, db):
    assert client.get("/api/nothing/", HTTP_X_REQUEST_ID="proxy-id-1234")["X-Request-ID"] == "proxy-id-1234"
    forged = client.get("/api/nothing/", HTTP_X_REQUEST_ID="x\nFAKE LOG LINE")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", forged)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("get", "/api/nothing/", 404), ("get", "/api/simulations/", 401), ("put", "/api/auth/login/", 405)],
)
def test_api_4xx_are_json_and_django_request_does_not_log_them_again(client, db, caplog, method, path, status):
    with caplog.at_level(logging.INFO):
        response = getattr(client, method)(path)

    assert response.status_code == status and response.json()["message"]
    assert not [record for record in caplog.records if record.name == "django.request"]


def test_api_request_for_an_unknown_host_is_a_json_400_logged_by_the_access_log_only(client, db):
    with console_output() as output:
        response = client.get("/api/simulations/", HTTP_HOST="evil.example")

    assert response.status_code == 400 and response.json() == {"message": "bad request"}
    assert output.getvalue() == ""
