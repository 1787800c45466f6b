"""Keycloak login: tokens verified against a JWKS served by the test; every forged token is rejected."""

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from accounts.models import KeycloakUser, YaptideUser

ISSUER = "https://sso.example.org/realms/PLGrid"
AUDIENCE = "yaptide-backend"
KID = "test-key-1"
URL = "/api/auth/keycloak/"


def _rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def realm_key():
    return _rsa_key()


@pytest.fixture(scope="module")
def jwks_url(realm_key):
    """A JWKS endpoint on a loopback HTTP server in a thread, publishing the realm's public key."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(realm_key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": KID, "alg": "RS256", "use": "sig"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/realms/PLGrid/protocol/openid-connect/certs"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def keycloak_settings(settings, jwks_url):
    settings.CACHES = {  # each test's throttle counts start from zero
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"kc-{time.monotonic()}"}
    }
    settings.KEYCLOAK_JWKS_URL = jwks_url
    settings.KEYCLOAK_ISSUER = ISSUER
    settings.KEYCLOAK_AUDIENCE = AUDIENCE


def claims(**overrides) -> dict:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now + 300,
        "iat": now,
        "preferred_username": "plgmarie",
        "plgridAccessServices": ["PLG_OTHER", "PLG_YAPTIDE_ACCESS"],
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def sign(payload: dict, key, kid: str = KID, algorithm: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def keycloak_login(token: str):
    return APIClient().post(URL, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_valid_token_logs_in_and_creates_the_keycloak_user(db, realm_key):
    response = keycloak_login(sign(claims(), realm_key))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["user"]["username"] == "plgmarie"
    assert body["user"]["auth_provider"] == "KeycloakUser"
    assert body["user"]["can_run_batch"] is True
    assert response.cookies["access_token"].value == body["access"]
    assert response.cookies["refresh_token"]["httponly"] is True
    assert KeycloakUser.objects.filter(username="plgmarie").count() == 1
    me = APIClient()
    me.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.get("/api/auth/me/").json()["username"] == "plgmarie"


def test_second_login_reuses_the_user_and_never_a_local_one(db, realm_key):
    YaptideUser.objects.create_user("plgmarie", "local-password-123")
    keycloak_login(sign(claims(), realm_key))
    response = keycloak_login(sign(claims(), realm_key))
    assert response.status_code == 200
    assert KeycloakUser.objects.filter(username="plgmarie").count() == 1
    assert response.json()["user"]["auth_provider"] == "KeycloakUser"


def _hs256_with_public_key(realm_key) -> str:
    pem = realm_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    payload = _b64(json.dumps(claims()).encode())
    signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _alg_none() -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": KID}).encode())
    return f"{header}.{_b64(json.dumps(claims()).encode())}."


def _tampered(realm_key) -> str:
    header, _, signature = sign(claims(), realm_key).split(".")
    return f"{header}.{_b64(json.dumps(claims(preferred_username='admin')).encode())}.{signature}"


FORGED = {
    "bad signature": lambda key: sign(claims(), _rsa_key()),
    "alg none": lambda key: _alg_none(),
    "HS256 signed with the public key": _hs256_with_public_key,
    "tampered payload": _tampered,
    "expired": lambda key: sign(claims(exp=int(time.time()) - 60), key),
    "wrong issuer": lambda key: sign(claims(iss="https://evil.example.com/realms/PLGrid"), key),
    "wrong audience": lambda key: sign(claims(aud="some-other-client"), key),
    "missing exp": lambda key: sign(claims(exp=None), key),
    "missing issuer": lambda key: sign(claims(iss=None), key),
    "missing audience": lambda key: sign(claims(aud=None), key),
    "missing preferred_username": lambda key: sign(claims(preferred_username=None), key),
    "unknown key id": lambda key: sign(claims(), key, kid="another-key"),
    "not a JWT": lambda key: "not-a-token",
}


@pytest.mark.parametrize("case", FORGED)
def test_forged_token_is_rejected(db, realm_key, case):
    response = keycloak_login(FORGED[case](realm_key))

    assert response.status_code == 401, response.content
    assert response.json()["message"].startswith("invalid Keycloak token")
    assert "access_token" not in response.cookies
    assert not KeycloakUser.objects.exists()


@pytest.mark.parametrize("services", [None, [], ["PLG_OTHER"], "PLG_YAPTIDE_ACCESS"])
def test_token_without_yaptide_access_is_403(db, realm_key, services):
    response = keycloak_login(sign(claims(plgridAccessServices=services), realm_key))
    assert response.status_code == 403
    assert "PLG_YAPTIDE_ACCESS" in response.json()["message"]
    assert not KeycloakUser.objects.exists()


def test_missing_bearer_header_is_401(db):
    response = APIClient().post(URL)
    assert response.status_code == 401
    assert "Bearer" in response.json()["message"]


def test_unconfigured_keycloak_is_503(db, realm_key, settings):
    settings.KEYCLOAK_JWKS_URL = ""
    response = keycloak_login(sign(claims(), realm_key))
    assert response.status_code == 503
    assert response.json() == {"message": "Keycloak login is not configured"}


def test_unreachable_jwks_is_503(db, realm_key, settings):
    settings.KEYCLOAK_JWKS_URL = "http://127.0.0.1:9/certs"
    response = keycloak_login(sign(claims(), realm_key))
    assert response.status_code == 503


@pytest.fixture
def hanging_jwks():
    """A loopback server that accepts connections and never answers (a Keycloak outage); counts the connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/certs", accepted
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_a_hanging_jwks_is_asked_once_then_logins_fail_fast(db, realm_key, settings, hanging_jwks):
    url, accepted = hanging_jwks
    settings.KEYCLOAK_JWKS_URL = url
    settings.KEYCLOAK_JWKS_TIMEOUT_SECONDS = 0.5
    settings.KEYCLOAK_JWKS_RETRY_SECONDS = 300

    responses = [keycloak_login(sign(claims(), realm_key)) for _ in range(4)]

    assert [response.status_code for response in responses] == [503] * 4
    assert responses[0].json() == {"message": "Keycloak keys cannot be fetched"}
    assert len(accepted) == 1  # the circuit opened after the first timeout; no worker waited again
