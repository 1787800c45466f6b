"""Property-based run over the whole OpenAPI schema (schemathesis): no server error, no response off the schema."""

import uuid

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .factories import result_estimator

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


# Loaded at import through the WSGI app (schemathesis' from_fixture does not run on this pytest version).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture
def keep_test_connection():
    """Like Django's test client: requests must not close the connection that holds the test transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(user, submit, settings, keep_test_connection):
    """Bearer header of a user who owns a job with results (so some generated job_ids may hit real data)."""
    from rest_framework_simplejwt.tokens import AccessToken

    from simulations.services import results_store

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    # Keycloak configured but unreachable: tokens must be refused before any key is fetched.
    settings.KEYCLOAK_JWKS_URL = "http://127.0.0.1:9/certs"
    settings.KEYCLOAK_ISSUER = "https://sso.example.org/realms/test"
    simulation, _ = submit()
    results_store(simulation=simulation, estimators=[result_estimator()])
    return {"Authorization": f"Bearer {AccessToken.for_user(user)}"}


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, auth_headers):
    case.call_and_validate(headers=auth_headers)
