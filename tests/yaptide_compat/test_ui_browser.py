"""The real yaptide UI in Debian's Chromium against a live server of the project (gunicorn, a Celery worker,
PostgreSQL, Redis). Nothing leaves loopback; every answer the page gets from the backend is 2xx, except the
401 `No token provided` of the refresh the UI tries before anyone has logged in."""

import json
from urllib.request import Request, urlopen

import pytest

from ..factories import editor_project
from ..workers import wait_for
from .live import CHROMIUM, CHROMIUM_FLAGS, Traffic, UiServer, WebServer, free_port

pytestmark = [pytest.mark.browser]

PASSWORD = "correct-horse-battery-1"
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELED"}


@pytest.fixture
def stack(celery_workers, tmp_path, user):
    """gunicorn + a Celery worker on the test database, the UI pointed at it, and a Chromium page."""
    from playwright.sync_api import sync_playwright

    port = free_port()
    ui = UiServer(tmp_path, f"http://127.0.0.1:{port}")
    env = {"CELERY_QUEUE": celery_workers.queue, "CORS_ALLOWED_ORIGINS": ui.url, "YAPTIDE_COMPAT_COOKIE_SECURE": "0"}
    celery_workers.start(concurrency=2)
    web = WebServer(tmp_path, port=port, env=env)
    traffic = Traffic(web.url)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.route("**/*", traffic.guard)
        page = context.new_page()
        page.on("response", traffic.on_response)
        page.on("requestfailed", traffic.on_request_failed)
        page.set_default_timeout(30_000)
        try:
            yield {"page": page, "ui": ui, "web": web, "traffic": traffic, "user": user, "tmp_path": tmp_path}
        finally:
            page.screenshot(path=str(tmp_path / "last.png"))
            browser.close()
            web.stop()
            ui.stop()


def api(web: WebServer, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    """One call of the native API on the live server, as a script would make it."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urlopen(Request(web.url + path, data=data, headers=headers, method=method), timeout=30) as response:
        return json.loads(response.read() or b"{}")


def log_in(page, ui: UiServer, username: str) -> None:
    page.goto(ui.url + "/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.get_by_text("Log out").wait_for()


def card(page, title: str):
    return page.locator(".MuiCard-root").filter(has=page.get_by_text(title, exact=True))


def card_states(page, title: str, *, until: set[str], timeout: float) -> list[str]:
    """The states a job's card shows, in order, until one of `until` (polled, nothing missed in between
    that stays on screen for more than the poll interval)."""
    seen: list[str] = []

    def final() -> bool:
        chip = card(page, title).locator(".MuiChip-filled").first
        if not chip.count():
            return False
        state = chip.inner_text().strip()
        if not seen or seen[-1] != state:
            seen.append(state)
        return state in until

    wait_for(final, timeout=timeout, what=f"card {title!r} in {until} (seen {seen})", interval=0.1)
    return seen


def log_out(page) -> None:
    with page.expect_response(lambda response: response.url.endswith("/auth/logout")) as logout:
        page.get_by_text("Log out").click()
    assert logout.value.status == 200
    page.get_by_role("button", name="Login").wait_for()


def assert_clean(traffic: Traffic) -> None:
    assert traffic.unexpected() == []
    assert all("127.0.0.1" not in url for url in traffic.blocked)


def test_ui_lists_a_job_from_the_native_api_and_follows_it_to_completed(stack):
    page, ui, web, traffic, user = (stack[k] for k in ("page", "ui", "web", "traffic", "user"))

    log_in(page, ui, user.username)
    token = api(web, "POST", "/api/auth/login/", {"username": user.username, "password": PASSWORD})["access"]
    project = {**editor_project(primaries=20_000, outputs=("z_profile",)), "dummy": {"seconds": 4}}
    job = {"title": "dummy from the API", "sim_type": "dummy", "ntasks": 2, "input_type": "editor"}
    api(web, "POST", "/api/simulations/", {**job, "input_json": project}, token=token)
    page.get_by_text("Simulations", exact=True).click()

    states = card_states(page, "dummy from the API", until=FINAL_STATES, timeout=90)

    assert states[-1] == "COMPLETED"
    assert "RUNNING" in states
    assert card(page, "dummy from the API").get_by_text("platform: DIRECT").count() == 1
    log_out(page)
    assert traffic.paths("DELETE")[-1] == "/auth/logout"
    assert any(path.startswith("/user/simulations?page_idx=1") for path in traffic.paths("GET"))
    assert any(path.startswith("/jobs/direct?job_id=") for path in traffic.paths("GET"))
    assert_clean(traffic)
