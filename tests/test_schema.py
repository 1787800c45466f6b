"""The OpenAPI schema and its documentation pages."""

import re

import pytest
from drf_spectacular.validation import validate_schema

API_PATHS = {
    "/api/auth/register/": {"post"},
    "/api/auth/login/": {"post"},
    "/api/auth/refresh/": {"post"},
    "/api/auth/logout/": {"post"},
    "/api/auth/me/": {"get"},
    "/api/auth/keycloak/": {"post"},
    "/api/simulations/": {"get", "post"},
    "/api/simulations/{job_id}/": {"get", "delete"},
    "/api/simulations/{job_id}/cancel/": {"post"},
    "/api/simulations/{job_id}/input/": {"get"},
    "/api/simulations/{job_id}/logfiles/": {"get"},
    "/api/simulations/{job_id}/estimators/": {"get"},
    "/api/simulations/{job_id}/estimators/{name}/": {"get"},
    "/api/simulations/{job_id}/results/": {"get"},
    "/api/clusters/": {"get"},
    "/api/worker/simulations/{job_id}/": {"post"},
    "/api/worker/simulations/{job_id}/tasks/{task_id}/": {"post"},
    "/api/worker/simulations/{job_id}/results/": {"post"},
    "/api/worker/simulations/{job_id}/logfiles/": {"post"},
}
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate_schema(schema)


def test_schema_has_exactly_the_documented_urls(schema):
    found = {path: {m for m in item if m in METHODS} for path, item in schema["paths"].items()}
    assert found == API_PATHS


def test_every_operation_has_bodies_and_error_responses(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            statuses = set(operation["responses"])
            success = {s for s in statuses if s.startswith("2")}
            assert success, where
            for status in success - {"204"}:
                assert operation["responses"][status].get("content"), where
            errors = {s for s in statuses if s.startswith("4") or s.startswith("5")}
            assert errors, where
            for status in errors:
                content = operation["responses"][status]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/Error"}, where
            if method == "post" and path not in ("/api/auth/keycloak/",) and not path.endswith("/cancel/"):
                assert operation.get("requestBody"), where


def test_worker_operations_have_examples_and_the_key_as_their_security_scheme(schema):
    assert schema["components"]["securitySchemes"]["updateKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Update-Key",
        "description": "The simulation's update key, given to its workers at dispatch.",
    }
    for path, item in schema["paths"].items():
        if not path.startswith("/api/worker/"):
            continue
        operation = item["post"]
        assert operation["requestBody"]["content"]["application/json"].get("examples"), path
        assert not [p for p in operation["parameters"] if p["in"] == "header"], path
        assert set(operation["responses"]) >= {"200", "400", "403"}, path
        assert operation["security"] == [{"updateKey": []}], path


def test_error_schema_has_a_message(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["message"]
    assert set(error["properties"]) == {"message", "errors"}


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_pages_use_only_local_static_files(client, path, db):
    response = client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    urls += re.findall(r"""https?://[^\s"'<>]+""", html)
    assert any(url.startswith("/static/drf_spectacular_sidecar/") for url in urls)
    external = [url for url in urls if url.startswith(("http:", "https:", "//"))]
    assert external == []
    # (not a bare "cdn" search: the page embeds a random CSRF token)
    assert not any(host in html for host in ("jsdelivr", "unpkg.com", "cdnjs", "googleapis", "gstatic"))


def test_docs_static_files_are_shipped(client, db):
    html = client.get("/api/docs/").content.decode()
    from django.contrib.staticfiles import finders

    for url in re.findall(r"""["'](/static/[^"']+)["']""", html):
        assert finders.find(url.removeprefix("/static/")), url


def test_unknown_api_paths_are_json_404(client, db):
    response = client.get("/api/simulations")
    assert response.status_code == 404
    assert response.json() == {
        "message": "no API endpoint at /api/simulations; API paths end with a slash: /api/simulations/"
    }
    assert client.post("/api/nothing/here/").json() == {"message": "no API endpoint at /api/nothing/here/"}


def test_docs_open_with_a_stale_access_cookie(client, db):
    client.cookies["access_token"] = "expired.or.forged"
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
