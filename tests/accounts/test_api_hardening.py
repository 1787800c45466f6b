"""Sign-in under abuse: throttles, proxies, Redis down, CSRF on cookies, token revocation, password and name rules."""

import io
import socket
import uuid

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from accounts.models import YaptideUser
from accounts.services import user_create_local, user_update
from simulations.choices import JobState

from ..factories import UserFactory

PASSWORD = "correct-horse-battery-1"
OWN_ORIGIN = "http://testserver"


@pytest.fixture(autouse=True)
def fresh_throttle_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


@pytest.fixture
def client():
    return APIClient()


def login(client, username, password=PASSWORD, **extra):
    return client.post("/api/auth/login/", {"username": username, "password": password}, format="json", **extra)


def register(client, username, password=PASSWORD, **extra):
    return client.post("/api/auth/register/", {"username": username, "password": password}, format="json", **extra)


# --- Redis down (issue 14, point 7) ---------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_login_works_while_the_throttle_cache_is_down(client, user, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    assert login(client, user.username).status_code == 200
    # Wrong passwords are still counted, in this process.
    for _ in range(10):
        assert login(client, user.username, "wrong-password", REMOTE_ADDR="10.1.0.1").status_code == 401
    assert login(client, user.username, REMOTE_ADDR="10.1.0.1").status_code == 429


# --- throttles and proxies (point 13) -------------------------------------------------------------


def test_registration_is_throttled_per_client_address(client, db):
    for n in range(20):
        assert register(client, f"newbie{n}", REMOTE_ADDR="10.2.0.1").status_code == 201
    response = register(client, "newbie20", REMOTE_ADDR="10.2.0.1")
    assert response.status_code == 429
    assert "throttled" in response.json()["message"]
    assert register(client, "newbie21", REMOTE_ADDR="10.2.0.2").status_code == 201


def test_refresh_is_throttled_per_client_address(client, db):
    for _ in range(60):
        assert (
            client.post("/api/auth/refresh/", {"refresh": "x"}, format="json", REMOTE_ADDR="10.3.0.1").status_code
            == 401
        )
    assert client.post("/api/auth/refresh/", {"refresh": "x"}, format="json", REMOTE_ADDR="10.3.0.1").status_code == 429


def test_keycloak_login_is_throttled_per_client_address(client, db):
    for _ in range(30):
        assert client.post("/api/auth/keycloak/", REMOTE_ADDR="10.4.0.1").status_code == 401
    assert client.post("/api/auth/keycloak/", REMOTE_ADDR="10.4.0.1").status_code == 429
    assert client.post("/api/auth/keycloak/", REMOTE_ADDR="10.4.0.2").status_code == 401


def test_a_client_chosen_forwarded_for_does_not_escape_the_address_throttle(client, user):
    for n in range(30):
        response = login(client, f"guess{n}", "wrong", REMOTE_ADDR="10.5.0.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
        assert response.status_code == 401
    assert login(client, user.username, REMOTE_ADDR="10.5.0.1", HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_forwarded_for_names_the_client_behind_a_trusted_proxy(client, user, settings):
    settings.TRUSTED_PROXIES = ["10.6.0.0/24"]
    for n in range(30):
        # The client put a forged address first; the proxy appended the one it saw.
        forwarded = f"192.0.2.{n}, 203.0.113.7"
        assert (
            login(client, f"guess{n}", "wrong", REMOTE_ADDR="10.6.0.1", HTTP_X_FORWARDED_FOR=forwarded).status_code
            == 401
        )
    assert login(client, user.username, REMOTE_ADDR="10.6.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    assert login(client, user.username, REMOTE_ADDR="10.6.0.1", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 200


# --- CSRF for cookie authentication (point 14) ----------------------------------------------------


def test_cookie_authenticated_cancel_from_another_site_is_refused(client, user, submit):
    simulation, _ = submit()
    login(client, user.username)
    url = f"/api/simulations/{simulation.job_id}/cancel/"

    forged = client.post(url, "x", content_type="text/plain", HTTP_ORIGIN="http://evil.example")
    no_origin = client.post(url)

    assert forged.status_code == 403
    assert "Origin" in forged.json()["message"]
    assert no_origin.status_code == 403
    simulation.refresh_from_db()
    assert simulation.job_state != JobState.CANCELED
    assert client.post(url, HTTP_ORIGIN=OWN_ORIGIN).status_code == 200
    simulation.refresh_from_db()
    assert simulation.job_state == JobState.CANCELED


def test_cookie_authenticated_requests_from_trusted_origins_and_bearer_scripts_pass(client, user, submit, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://ui.example.org"]
    simulation, _ = submit()
    login(client, user.username)
    assert client.delete(
        f"/api/simulations/{simulation.job_id}/", HTTP_ORIGIN="https://ui.example.org"
    ).status_code in (
        204,
        409,
    )
    token = login(APIClient(), user.username).json()["access"]
    script = APIClient()
    script.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert script.post(
        f"/api/simulations/{simulation.job_id}/cancel/", HTTP_ORIGIN="http://evil.example"
    ).status_code in (
        200,
        404,
    )


def test_cookie_logout_and_refresh_from_another_site_are_refused(client, user):
    refresh = login(client, user.username).json()["refresh"]

    assert client.post("/api/auth/logout/", HTTP_ORIGIN="http://evil.example").status_code == 403
    assert client.post("/api/auth/refresh/", HTTP_ORIGIN="http://evil.example").status_code == 403
    assert APIClient().post("/api/auth/refresh/", {"refresh": refresh}, format="json").status_code == 200


def test_logout_refuses_a_refresh_that_is_not_a_string(client, db):
    response = client.post("/api/auth/logout/", {"refresh": 0}, format="json")
    assert response.status_code == 400
    assert "refresh" in response.json()["errors"]


# --- token revocation (point 15) ------------------------------------------------------------------


def _bearer(access):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def test_a_password_change_revokes_refresh_and_access_tokens(user):
    tokens = login(APIClient(), user.username).json()

    user_update(user=YaptideUser.objects.get(pk=user.pk), password="another-long-passphrase-9")

    assert APIClient().post("/api/auth/refresh/", {"refresh": tokens["refresh"]}, format="json").status_code == 401
    assert _bearer(tokens["access"]).get("/api/auth/me/").status_code == 401
    fresh = login(APIClient(), user.username, "another-long-passphrase-9").json()
    assert _bearer(fresh["access"]).get("/api/auth/me/").status_code == 200


def test_update_user_command_password_change_revokes_the_old_refresh_token(user, monkeypatch):
    refresh = login(APIClient(), user.username).json()["refresh"]
    monkeypatch.setattr("sys.stdin", io.StringIO("another-long-passphrase-9\n"))

    call_command("update_user", user.username, "--password-stdin", stdout=io.StringIO())

    assert APIClient().post("/api/auth/refresh/", {"refresh": refresh}, format="json").status_code == 401


def test_deactivation_revokes_the_refresh_token_even_after_reactivation(user):
    refresh = login(APIClient(), user.username).json()["refresh"]

    user_update(user=user, is_active=False)
    user_update(user=user, is_active=True)

    assert APIClient().post("/api/auth/refresh/", {"refresh": refresh}, format="json").status_code == 401


# --- password and username rules (point 17) -------------------------------------------------------


@pytest.mark.parametrize("password", ["yaptide1", " " * 8, "zzzzzzzzzzzz", "abababab"])
def test_weak_passwords_are_refused_on_register_and_on_change(client, user, password):
    response = register(client, "newbie", password)
    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    with pytest.raises(Exception) as refused:
        user_update(user=user, password=password)
    assert getattr(refused.value, "field", None) == "password"


def test_createsuperuser_without_input_applies_the_password_validators(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "zzzzzzzzzzzz")
    with pytest.raises(Exception, match="different characters"):
        call_command("createsuperuser", "--noinput", "--username", "root", stdout=io.StringIO(), stderr=io.StringIO())
    assert not YaptideUser.objects.filter(username="root").exists()


@pytest.mark.parametrize(
    "look_alike",
    [
        "Admin",  # case
        "ADMIN",
        "аdmin",  # Cyrillic а among Latin letters
        "аdмin",
        "ａｄｍｉｎ",  # full-width forms
    ],
)
def test_look_alike_usernames_are_refused(client, db, look_alike):
    UserFactory(username="admin")
    response = register(client, look_alike)
    assert response.status_code in (400, 409)
    assert "username" in response.json()["errors"]
    assert YaptideUser.objects.count() == 1


def test_a_whole_script_look_alike_is_refused(db):
    user_create_local(username="ace", password=PASSWORD)
    with pytest.raises(Exception, match="already exists"):
        user_create_local(username="асе", password=PASSWORD)  # all Cyrillic


@pytest.mark.parametrize(
    "name",
    ["ad\u200bmin", "admin\u202e", "\u2066admin", "ad min", "ad\u0000min", "ad\tmin"],
)
def test_invisible_bidi_and_space_characters_are_refused_in_usernames(client, db, name):
    response = register(client, name)
    assert response.status_code == 400
    assert "username" in response.json()["errors"]


def test_usernames_of_one_other_script_are_fine(client, db):
    assert register(client, "иван").status_code == 201
    assert register(client, "marie.curie+test@example.org").status_code == 201


@pytest.mark.parametrize("body", [[None, None], "token", 0])
def test_logout_and_refresh_refuse_a_body_that_is_not_an_object(client, db, body):
    for url in ("/api/auth/logout/", "/api/auth/refresh/"):
        response = client.post(url, body, format="json")
        assert response.status_code == 400, url
        assert response.json()["message"]
