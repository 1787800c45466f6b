"""Local sign-in: register, login, refresh, logout, who am I; cookies, throttles, sessions and CORS."""

import uuid

import pytest
from rest_framework.test import APIClient

from accounts.models import YaptideUser

from ..factories import KeycloakUserFactory, UserFactory

PASSWORD = "correct-horse-battery-1"


@pytest.fixture(autouse=True)
def fresh_throttle_cache(settings):
    """Each test counts login attempts from zero, in a cache of its own."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


@pytest.fixture
def client():
    return APIClient()


def login(client, username, password=PASSWORD, **extra):
    return client.post("/api/auth/login/", {"username": username, "password": password}, format="json", **extra)


def test_register_creates_a_local_user(client, db):
    response = client.post("/api/auth/register/", {"username": "marie", "password": PASSWORD}, format="json")

    assert response.status_code == 201
    assert response.json()["username"] == "marie"
    assert response.json()["auth_provider"] == "YaptideUser"
    assert YaptideUser.objects.get(username="marie").check_password(PASSWORD)


def test_register_can_be_switched_off(client, db, settings):
    settings.ALLOW_REGISTRATION = False
    response = client.post("/api/auth/register/", {"username": "marie", "password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert response.json() == {"message": "registration is switched off"}
    assert not YaptideUser.objects.exists()


def test_register_refuses_a_taken_name_and_a_weak_password(client, user):
    taken = client.post("/api/auth/register/", {"username": user.username, "password": PASSWORD}, format="json")
    weak = client.post("/api/auth/register/", {"username": "newbie", "password": "123"}, format="json")
    missing = client.post("/api/auth/register/", {"username": "newbie"}, format="json")

    assert taken.status_code == 409
    assert weak.status_code == 400
    assert "password" in weak.json()["errors"]
    assert missing.status_code == 400
    assert missing.json()["errors"]["password"]


def test_login_returns_tokens_and_sets_httponly_cookies(client, user, settings):
    settings.DEBUG = True
    response = login(client, user.username)

    assert response.status_code == 200
    body = response.json()
    assert body["user"]["username"] == user.username
    for name, token in (("access_token", body["access"]), ("refresh_token", body["refresh"])):
        cookie = response.cookies[name]
        assert cookie.value == token
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
    assert response.cookies["access_token"]["secure"] == ""  # plain http is fine in debug mode


def test_cookies_are_secure_behind_a_tls_proxy_and_not_over_plain_http(client, user, settings):
    settings.SESSION_COOKIE_SECURE = True  # PUBLIC_SCHEME=https
    response = login(client, user.username)
    assert response.cookies["access_token"]["secure"] is True
    assert response.cookies["refresh_token"]["secure"] is True

    settings.SESSION_COOKIE_SECURE = False  # PUBLIC_SCHEME=http: a browser drops Secure cookies over http
    assert login(client, user.username).cookies["access_token"]["secure"] == ""


def test_wrong_password_is_401(client, user):
    response = login(client, user.username, "wrong-password")
    assert response.status_code == 401
    assert response.json() == {"message": "invalid username or password"}
    assert "access_token" not in response.cookies


def test_keycloak_user_cannot_log_in_with_a_password(client, db):
    KeycloakUserFactory(username="plgmarie")
    assert login(client, "plgmarie", "").status_code == 400
    assert login(client, "plgmarie", "anything").status_code == 401


def test_local_and_keycloak_users_of_one_name_are_apart(client, db):
    KeycloakUserFactory(username="ada")
    UserFactory(username="ada")
    response = login(client, "ada")
    assert response.status_code == 200
    assert response.json()["user"]["auth_provider"] == "YaptideUser"


def test_me_with_bearer_header(user):
    token = login(APIClient(), user.username).json()["access"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = client.get("/api/auth/me/")

    assert response.status_code == 200
    assert response.json() == {
        "id": user.pk,
        "username": user.username,
        "auth_provider": "YaptideUser",
        "is_staff": False,
        "can_run_batch": False,
    }


def test_me_with_the_access_cookie_only(client, user):
    login(client, user.username)
    assert client.get("/api/auth/me/").json()["username"] == user.username


def test_me_with_a_session_for_the_browsable_api(client, user):
    client.force_login(user)
    assert client.get("/api/auth/me/").json()["username"] == user.username


def test_me_without_or_with_a_bad_token_is_401(client, db):
    assert client.get("/api/auth/me/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    response = client.get("/api/auth/me/")
    assert response.status_code == 401
    assert response.json()["message"]


def test_refresh_from_the_cookie_rotates_the_refresh_token(client, user):
    old = login(client, user.username).json()["refresh"]

    response = client.post("/api/auth/refresh/", HTTP_ORIGIN="http://testserver")

    assert response.status_code == 200
    assert response.json()["refresh"] != old
    assert response.cookies["access_token"].value == response.json()["access"]
    reused = APIClient().post("/api/auth/refresh/", {"refresh": old}, format="json")
    assert reused.status_code == 401


def test_refresh_from_the_body(user):
    refresh = login(APIClient(), user.username).json()["refresh"]
    response = APIClient().post("/api/auth/refresh/", {"refresh": refresh}, format="json")
    assert response.status_code == 200
    assert response.json()["access"]


def test_refresh_without_a_token_is_401(client, db):
    assert client.post("/api/auth/refresh/").status_code == 401
    assert client.post("/api/auth/refresh/", {"refresh": "garbage"}, format="json").status_code == 401


def test_refresh_of_a_deactivated_user_is_401(client, user):
    refresh = login(client, user.username).json()["refresh"]
    YaptideUser.objects.filter(pk=user.pk).update(is_active=False)
    assert APIClient().post("/api/auth/refresh/", {"refresh": refresh}, format="json").status_code == 401


def test_logout_makes_the_refresh_token_unusable_and_clears_cookies(client, user):
    refresh = login(client, user.username).json()["refresh"]

    response = client.post("/api/auth/logout/", HTTP_ORIGIN="http://testserver")

    assert response.status_code == 204
    assert response.cookies["access_token"].value == ""
    assert response.cookies["refresh_token"].value == ""
    assert response.cookies["refresh_token"]["max-age"] == 0
    assert APIClient().post("/api/auth/refresh/", {"refresh": refresh}, format="json").status_code == 401


def test_wrong_passwords_are_throttled_per_username_and_address(client, user):
    for _ in range(10):
        assert login(client, user.username, "wrong-password", REMOTE_ADDR="10.0.0.1").status_code == 401

    response = login(client, user.username, REMOTE_ADDR="10.0.0.1")

    assert response.status_code == 429
    assert "throttled" in response.json()["message"]
    assert login(client, "someone-else", "wrong-password", REMOTE_ADDR="10.0.0.1").status_code == 401


def test_ten_wrong_logins_by_someone_else_do_not_lock_the_user_out(client, user):
    for _ in range(10):
        assert login(client, user.username, "wrong-password", REMOTE_ADDR="10.0.0.1").status_code == 401

    assert login(client, user.username, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_successful_logins_do_not_count_against_the_username(client, user):
    for _ in range(12):
        assert login(client, user.username, REMOTE_ADDR="10.0.0.3").status_code == 200


def test_login_is_throttled_per_client_address(client, user):
    for n in range(30):
        assert login(client, f"guess{n}", "wrong-password", REMOTE_ADDR="10.0.0.9").status_code == 401

    assert login(client, user.username, REMOTE_ADDR="10.0.0.9").status_code == 429
    assert login(client, user.username, REMOTE_ADDR="10.0.0.10").status_code == 200


def test_cors_allows_credentials_for_configured_origins_only(client, db, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://ui.example.org"]
    preflight = {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST", "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "content-type"}

    allowed = client.options("/api/auth/login/", HTTP_ORIGIN="https://ui.example.org", **preflight)
    other = client.options("/api/auth/login/", HTTP_ORIGIN="https://evil.example.com", **preflight)

    assert allowed["Access-Control-Allow-Origin"] == "https://ui.example.org"
    assert allowed["Access-Control-Allow-Credentials"] == "true"
    assert not other.has_header("Access-Control-Allow-Origin")
    assert not other.has_header("Access-Control-Allow-Credentials")
