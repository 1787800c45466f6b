"""SSH credentials fetched at Keycloak login from a certificate service the test runs on loopback."""

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection

from accounts.models import KeycloakUser

from . import test_api_keycloak as keycloak_tests
from .test_api_keycloak import claims, keycloak_login, sign

# The realm's key, its JWKS server and the Keycloak settings, as the login tests have them.
realm_key = keycloak_tests.realm_key
jwks_url = keycloak_tests.jwks_url
keycloak_settings = keycloak_tests.keycloak_settings

CERT = "ssh-rsa-cert-v01@openssh.com AAAAfake plgmarie@plgrid"
PRIVATE = "-----BEGIN OPENSSH PRIVATE KEY-----\nfake\n-----END OPENSSH PRIVATE KEY-----"


class CertService:
    """A loopback HTTP certificate service: answers {cert, private} or what the test sets; records requests."""

    def __init__(self):
        self.status = 200
        self.body: object = {"cert": CERT, "private": PRIVATE}
        self.requests: list[dict] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                service.requests.append({"path": self.path, "authorization": self.headers.get("Authorization")})
                payload = json.dumps(service.body).encode()
                self.send_response(service.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cert"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cert_service(settings):
    service = CertService()
    settings.CERT_AUTH_URL = service.url
    yield service
    service.close()


def test_login_stores_the_certificate_and_key_from_the_service_encrypted(db, realm_key, cert_service):
    token = sign(claims(), realm_key)

    response = keycloak_login(token)

    assert response.status_code == 200, response.content
    assert cert_service.requests == [{"path": "/cert", "authorization": f"Bearer {token}"}]
    user = KeycloakUser.objects.get(username="plgmarie")
    assert user.cert.strip() == CERT and user.private_key.strip() == PRIVATE
    with connection.cursor() as cursor:
        cursor.execute("SELECT cert, private_key FROM accounts_keycloakuser WHERE user_ptr_id = %s", [user.pk])
        stored = cursor.fetchone()
    assert "BEGIN OPENSSH" not in stored[1] and CERT not in stored[0]


def test_every_login_refreshes_the_credentials(db, realm_key, cert_service):
    keycloak_login(sign(claims(), realm_key))
    cert_service.body = {"cert": CERT + "-renewed", "private": PRIVATE}

    keycloak_login(sign(claims(), realm_key))

    assert KeycloakUser.objects.get().cert.strip() == CERT + "-renewed"


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, {"error": "down"}), (200, {"cert": "", "private": ""}), (200, ["not", "an", "object"]), (403, {})],
)
def test_a_failing_service_keeps_the_old_credentials_and_says_so(db, realm_key, cert_service, caplog, status, body):
    keycloak_login(sign(claims(), realm_key))
    cert_service.status, cert_service.body = status, body

    with caplog.at_level(logging.WARNING, logger="accounts.keycloak"):
        response = keycloak_login(sign(claims(), realm_key))

    assert response.status_code == 200
    assert KeycloakUser.objects.get().cert.strip() == CERT
    assert "keeping the stored SSH credentials" in caplog.text


def test_an_unreachable_service_still_lets_the_user_log_in(db, realm_key, settings, caplog):
    settings.CERT_AUTH_URL = "http://127.0.0.1:9/cert"
    with caplog.at_level(logging.WARNING, logger="accounts.keycloak"):
        response = keycloak_login(sign(claims(), realm_key))
    assert response.status_code == 200
    assert KeycloakUser.objects.get().cert == ""
    assert "certificate service failed" in caplog.text
