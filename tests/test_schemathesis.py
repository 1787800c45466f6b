"""Property-based runs over the whole OpenAPI schema (schemathesis), stateless and stateful, with every check:
no server error, no response off the schema, invalid data refused, valid data accepted, methods the schema does
not list refused with 405, authentication enforced where declared."""

import uuid

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import positive_data_acceptance

from .factories import result_estimator

CONFIG = SchemathesisConfig.from_str(
    """
[generation]
# DRF refuses NUL in every text field (PostgreSQL cannot store it); no schema pattern says so for each one.
allow-x00 = false
"""
)

# Where the server's rules go beyond what a schema can say, valid-looking data may be refused with a 400. These
# operations say so in their descriptions; here their valid data is held to those statuses instead of a 2xx.
BEYOND_THE_SCHEMA = {
    # Password strength (Django's validators: common, like the name, too uniform) is not a schema's to say.
    ("POST", "/api/auth/register/"): {201, 400, 401, 409, 429},
    # A simulator checks its own input: an editor project it can convert, the files it needs, the dummy's bounds.
    ("POST", "/api/simulations/"): {201, 400, 401, 413, 429},  # 401: schemathesis' own cases without auth
}


def _validate(case, response, **kwargs):
    allowed = BEYOND_THE_SCHEMA.get((case.method.upper(), case.path))
    if allowed is None:
        case.validate_response(response, **kwargs)
        return
    case.validate_response(response, excluded_checks=[positive_data_acceptance], **kwargs)
    if not case.meta or not case.meta.generation.mode.is_negative:
        assert response.status_code in allowed, (case.path, response.status_code, response.text[:300])


# Loaded at import through the WSGI app (schemathesis' from_fixture does not run on this pytest version).
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application(), config=CONFIG)
# The credentials of the running test (set by its fixture): a user's access token and their job's update key.
CREDENTIALS: dict[str, str] = {}


@schema.auth(refresh_interval=None)
class FixtureCredentials:
    """Explicit credentials on every case, so the ignored-auth check knows them and probes without them."""

    def get(self, case, context):
        return dict(CREDENTIALS)

    def set(self, case, data, context):
        if not data:  # collection, before any test's fixture ran
            return
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data['token']}", "X-Update-Key": data["key"]}


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
    """A user who owns a job with results, and that job's update key (so generated ids may hit real data)."""
    from rest_framework_simplejwt.tokens import AccessToken

    from simulations.services import results_store

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }
    # Keycloak configured but unreachable: tokens must be refused before any key is fetched.
    settings.KEYCLOAK_JWKS_URL = "http://127.0.0.1:9/certs"
    settings.KEYCLOAK_ISSUER = "https://sso.example.org/realms/test"
    simulation, key = submit()
    results_store(simulation=simulation, estimators=[result_estimator()])
    CREDENTIALS.update(token=str(AccessToken.for_user(user)), key=key)
    yield
    CREDENTIALS.clear()


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case, auth_headers):
    _validate(case, case.call())


def test_api_workflows_conform_to_its_schema(auth_headers):
    """Chains of calls along the links schemathesis infers (submit, then read, cancel, delete, report, ...)."""

    class Workflow(schema.as_state_machine()):
        def validate_response(self, response, case, additional_checks=None, **kwargs):
            _validate(case, response, transport_kwargs=kwargs or None, recorder=self.recorder)

    run_state_machine_as_test(
        Workflow,
        settings=settings(
            max_examples=60,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
