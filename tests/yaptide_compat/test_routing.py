"""The old routes' addresses: no trailing slash, no redirect, JSON for every error, the site's areas untouched."""

import pytest


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/nothing-here"),
        ("get", "/auth/login/"),  # the old routes have no trailing slash, and no redirect to one
        ("post", "/jobs/direct/"),
        ("get", "/user/simulations/x"),
        ("delete", "/some/deep/path"),
    ],
)
def test_unknown_addresses_are_json_404(client, db, method, path):
    response = getattr(client, method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["message"]


@pytest.mark.parametrize(
    "method, path",
    [("get", "/auth/login"), ("post", "/auth/refresh"), ("put", "/jobs/direct"), ("post", "/results"), ("put", "/")],
)
def test_wrong_method_is_json_405(client, db, method, path):
    response = getattr(client, method)(path, content_type="application/json")
    assert response.status_code == 405
    assert response.json()["message"]


def test_errors_are_json_whatever_the_client_accepts(client, db):
    response = client.get("/auth/status", HTTP_ACCEPT="text/html")
    assert response.status_code == 401
    assert response.json() == {"message": "No token provided"}


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
def test_bodies_other_sites_forms_can_send_are_refused(browser, content_type):
    """A form on another site can post these types with the user's cookies; the old routes take JSON only."""
    body = '{"input_type": "files", "ntasks": 1, "sim_type": "dummy", "input_files": {"beam.dat": "NSTAT 10"}}'
    response = browser.post("/jobs/direct", body, content_type=content_type)
    assert response.status_code == 415
    assert response.json()["message"]


def test_broken_json_is_a_json_400(client, db):
    response = client.post("/auth/login", b'{"username": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"]


def test_site_areas_keep_working(client, db, admin_client):
    assert client.get("/api/auth/me/").status_code == 401
    assert client.get("/api/nothing/").json()["message"].startswith("no API endpoint")
    assert admin_client.get("/admin/").status_code == 200
    assert client.get("/admin").status_code == 301  # the admin's own slash redirect still happens
    assert client.get("/admin")["Location"] == "/admin/"
    assert client.get("/health/?checks=database").status_code == 200
    assert client.get("/api/schema/").status_code == 200


def test_static_files_keep_working(client, db):
    response = client.get("/static/rest_framework/css/bootstrap.min.css")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    missing = client.get("/static/no-such-file.css")
    assert missing.status_code == 404 and "json" not in missing.get("Content-Type", "")


def test_cors_preflight_allows_the_ui_origin_with_credentials(client, db, settings):
    settings.CORS_ALLOWED_ORIGINS = ["http://127.0.0.1:3000"]
    response = client.options(
        "/jobs/direct",
        HTTP_ORIGIN="http://127.0.0.1:3000",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
    assert response["Access-Control-Allow-Credentials"] == "true"
    answer = client.get("/", HTTP_ORIGIN="http://127.0.0.1:3000")
    assert answer["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"


@pytest.mark.urls("tests.yaptide_compat.prefixed_urls")
def test_routes_live_under_a_configured_prefix(client, user, settings):
    settings.YAPTIDE_COMPAT_PREFIX = "yaptide"
    assert client.get("/yaptide/").json() == {"message": "Hello World!"}
    assert client.get("/yaptide").json() == {"message": "Hello World!"}

    response = client.post(
        "/yaptide/auth/login",
        {"username": user.username, "password": "correct-horse-battery-1"},
        content_type="application/json",
    )
    assert response.status_code == 202
    assert response.cookies["access_token"]["path"] == "/yaptide"
    assert response.cookies["refresh_token"]["path"] == "/yaptide"
    assert client.get("/yaptide/auth/status").status_code == 200
    assert client.get("/yaptide/nothing").status_code == 404
    assert client.get("/auth/status").status_code == 404  # not at the root any more


def test_json_with_a_charset_is_json(client, user):
    body = b'{"username": "%s", "password": "correct-horse-battery-1"}' % user.username.encode()
    response = client.post("/auth/login", body, content_type="application/json; charset=utf-8")
    assert response.status_code == 202


def test_cookie_writes_need_an_allowed_origin(browser, submit, settings):
    """CSRF: the cookies alone do not let another site (or a page with no Origin) change anything."""
    settings.CORS_ALLOWED_ORIGINS = ["http://127.0.0.1:3000"]
    simulation, _ = submit()
    url = f"/jobs/direct?job_id={simulation.job_id}"

    for origin in ("https://evil.example", None):
        headers = {"HTTP_ORIGIN": origin} if origin else {}
        browser.defaults.pop("HTTP_ORIGIN", None)
        response = browser.delete(url, **headers)
        assert response.status_code == 403
        assert "Origin" in response.json()["message"]
    assert browser.get(url).status_code == 200  # reads need no Origin
    assert browser.delete(url, HTTP_ORIGIN="http://127.0.0.1:3000").status_code == 200  # the UI's origin
