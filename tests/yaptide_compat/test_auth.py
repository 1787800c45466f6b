"""The old auth routes as the UI uses them: cookies only, expiries in epoch ms, refresh without rotation."""

import time

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import YaptideUser

from ..conftest import api_client_for
from .conftest import PASSWORD, login, ui_client


def test_root_answers_a_message_so_the_ui_sees_the_server(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {"message": "Hello World!"}


def test_login_sets_httponly_lax_cookies_and_answers_expiries_in_epoch_ms(client, user):
    before_ms = time.time() * 1000

    response = login(client, user.username)

    assert response.status_code == 202
    body = response.json()
    assert body["message"] == "Successfully logged in"
    # Milliseconds: the UI refreshes every (access_exp - now) / 3; seconds would refresh every second.
    assert before_ms + 9 * 60_000 < body["access_exp"] <= before_ms + 10 * 60_000 + 1000
    assert body["refresh_exp"] > body["access_exp"]
    for name in ("access_token", "refresh_token"):
        cookie = response.cookies[name]
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
    assert AccessToken(response.cookies["access_token"].value)["exp"] * 1000 == body["access_exp"]


def test_wrong_password_and_missing_keys_are_the_old_messages(client, user):
    wrong = login(client, user.username, "not-the-password")
    assert (wrong.status_code, wrong.json()) == (401, {"message": "Invalid login or password"})
    assert "access_token" not in wrong.cookies

    missing = client.post("/auth/login", {"username": user.username}, content_type="application/json")
    assert (missing.status_code, missing.json()) == (400, {"message": "Missing keys in JSON payload: {'password'}"})

    empty = client.post("/auth/login", b"", content_type="application/json")
    assert empty.status_code == 400 and empty.json()["message"]


def test_refresh_without_a_cookie_is_401_no_token_provided(client, db):
    response = client.get("/auth/refresh")
    assert (response.status_code, response.json()) == (401, {"message": "No token provided"})


def test_refresh_by_get_with_the_cookie_alone_gives_a_new_access_cookie(browser):
    response = browser.get("/auth/refresh")

    assert response.status_code == 200
    assert response.json()["message"] == "User refreshed"
    assert response.json()["access_exp"] > time.time() * 1000
    assert response.cookies["access_token"]["httponly"] is True
    assert "refresh_token" not in response.cookies  # not rotated


def test_tabs_refreshing_at_once_all_stay_signed_in(browser):
    """Several tabs share the cookie jar and refresh on their own timers: no refresh may spoil another's token."""
    refresh = browser.cookies["refresh_token"].value
    tabs = [ui_client() for _ in range(3)]
    for tab in tabs:
        tab.cookies["refresh_token"] = refresh

    for _round in range(2):
        for tab in tabs:
            response = tab.get("/auth/refresh")
            assert response.status_code == 200, response.content

    for tab in tabs:
        assert tab.get("/auth/status").status_code == 200


def test_bad_and_expired_tokens_are_403_with_the_old_messages(client, user):
    client.cookies["refresh_token"] = "not-a-token"
    response = client.get("/auth/refresh")
    assert (response.status_code, response.json()) == (403, {"message": "Log in again. Invalid token."})

    expired = RefreshToken.for_user(user)
    expired.set_exp(lifetime=-expired.lifetime - expired.lifetime)
    client.cookies["refresh_token"] = str(expired)
    assert client.get("/auth/refresh").json() == {"message": "Log in again. Signature expired."}

    client.cookies["access_token"] = "not-a-token"
    response = client.get("/auth/status")
    assert (response.status_code, response.json()) == (403, {"message": "Refresh access token. Invalid token."})


def test_old_routes_take_cookies_only_no_bearer_header_or_admin_session(client, db, user):
    by_header = api_client_for(user).get("/auth/status")
    assert (by_header.status_code, by_header.json()) == (401, {"message": "No token provided"})

    admin = YaptideUser.objects.create_superuser("root", password=PASSWORD)
    client.force_login(admin)
    assert client.get("/admin/").status_code == 200
    assert client.get("/auth/status").json() == {"message": "No token provided"}


def test_status_names_the_user(browser, user):
    assert browser.get("/auth/status").json() == {"message": "User status", "username": user.username}


def test_logout_deletes_both_cookies_and_the_refresh_token_stops_working(browser):
    refresh = browser.cookies["refresh_token"].value

    response = browser.delete("/auth/logout")

    assert (response.status_code, response.json()) == (200, {"message": "User logged out"})
    for name in ("access_token", "refresh_token"):
        assert response.cookies[name].value == ""
        assert response.cookies[name]["path"] == "/"
    assert browser.get("/auth/status").status_code == 401
    # A refresh racing the logout (the UI's timer), or a copy of the cookie: no session any more, said silently.
    stolen = ui_client()
    stolen.cookies["refresh_token"] = refresh
    response = stolen.get("/auth/refresh")
    assert (response.status_code, response.json()) == (401, {"message": "No token provided"})
    assert "access_token" not in response.cookies


def test_logout_without_a_session_still_answers_2xx(client, db):
    assert client.delete("/auth/logout").status_code == 200


def test_register_creates_a_user_once(client, db):
    body = {"username": "marie", "password": PASSWORD}
    created = client.put("/auth/register", body, content_type="application/json")
    assert (created.status_code, created.json()) == (201, {"message": "User created"})
    assert login(client, "marie").status_code == 202

    again = client.put("/auth/register", body, content_type="application/json")
    assert (again.status_code, again.json()) == (403, {"message": "User existing"})

    weak = client.put("/auth/register", {"username": "pierre", "password": "123"}, content_type="application/json")
    assert weak.status_code == 400 and weak.json()["message"]


def test_register_can_be_switched_off(client, db, settings):
    settings.ALLOW_REGISTRATION = False
    body = {"username": "marie", "password": PASSWORD}
    response = client.put("/auth/register", body, content_type="application/json")
    assert response.status_code == 403 and response.json()["message"]


def test_login_is_throttled_with_a_json_message(client, user):
    statuses = [login(client, user.username, "wrong").status_code for _ in range(11)]
    assert statuses[-1] == 429
    assert login(client, user.username, "wrong").json()["message"]


@pytest.mark.parametrize("secure", [True, False])
def test_cookie_secure_flag_follows_the_setting(client, user, settings, secure):
    settings.YAPTIDE_COMPAT_COOKIE_SECURE = secure
    response = login(client, user.username)
    assert bool(response.cookies["access_token"]["secure"]) is secure
    assert bool(response.cookies["refresh_token"]["secure"]) is secure
