"""`/auth/keycloak` on the old routes: a verified Keycloak token gives our access cookie, in epoch ms."""

import time

from django.test import Client

from accounts.models import KeycloakUser

from ..accounts.test_api_keycloak import _rsa_key, claims, jwks_url, keycloak_settings, realm_key, sign
from .conftest import ui_client

__all__ = ["jwks_url", "keycloak_settings", "realm_key"]  # fixtures used here


def keycloak_login(client: Client, token: str):
    return client.post(
        "/auth/keycloak",
        {"username": "plgmarie"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_keycloak_token_gives_the_access_cookie(db, realm_key):
    client = ui_client()

    response = keycloak_login(client, sign(claims(), realm_key))

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["message"] == "Successfully logged in"
    assert body["access_exp"] > time.time() * 1000
    assert response.cookies["access_token"]["httponly"] is True
    assert KeycloakUser.objects.filter(username="plgmarie").exists()
    assert client.get("/auth/status").json() == {"message": "User status", "username": "plgmarie"}


def test_keycloak_without_access_is_403(db, realm_key):
    response = keycloak_login(ui_client(), sign(claims(plgridAccessServices=["PLG_OTHER"]), realm_key))
    assert response.status_code == 403
    assert response.json()["message"]


def test_forged_keycloak_token_is_refused(db, realm_key):
    response = keycloak_login(ui_client(), sign(claims(), _rsa_key()))
    assert response.status_code == 403
    assert "access_token" not in response.cookies


def test_keycloak_without_a_token_is_401(db):
    response = ui_client().post("/auth/keycloak", {}, content_type="application/json")
    assert (response.status_code, response.json()) == (401, {"message": "No token provided"})


def test_keycloak_logout_deletes_the_cookies(db, realm_key):
    client = ui_client()
    keycloak_login(client, sign(claims(), realm_key))

    response = client.delete("/auth/keycloak")

    assert (response.status_code, response.json()) == (200, {"message": "User logged out"})
    assert client.get("/auth/status").status_code == 401
