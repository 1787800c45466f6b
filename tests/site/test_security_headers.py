"""Security headers: a Content-Security-Policy everywhere, no-store on token and user responses."""

from tests.factories import UserFactory


def test_every_response_has_a_content_security_policy_that_loads_nothing_from_other_sites(client, db):
    for path in ("/admin/login/", "/api/docs/", "/api/redoc/", "/api/nothing/"):
        policy = client.get(path)["Content-Security-Policy"]
        directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
        assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'", path
        assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_swagger_ui_page_has_no_inline_script(client, db):
    page = client.get("/api/docs/").content.decode()

    assert "<script>" not in page and "swagger-ui" in page


def test_token_and_user_responses_are_not_stored(client, db):
    user = UserFactory()
    user.set_password("radium-1898-polonium")
    user.save()

    login = client.post(
        "/api/auth/login/", {"username": user.username, "password": "radium-1898-polonium"}, "application/json"
    )
    assert login.status_code == 200 and login["Cache-Control"] == "no-store"
    me = client.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")
    assert me.status_code == 200 and me["Cache-Control"] == "no-store"
    assert client.post("/api/auth/refresh/", {}, "application/json")["Cache-Control"] == "no-store"


def test_api_login_records_last_login(client, db):
    user = UserFactory()
    user.set_password("radium-1898-polonium")
    user.save()
    assert user.last_login is None

    client.post("/api/auth/login/", {"username": user.username, "password": "radium-1898-polonium"}, "application/json")

    user.refresh_from_db()
    assert user.last_login is not None
