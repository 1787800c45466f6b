"""The real yaptide UI in Debian's Chromium against a live server of the project (gunicorn, a Celery worker,
PostgreSQL, Redis). Nothing leaves loopback; every answer the page gets from the backend is 2xx, except the
401 `No token provided` of the refresh the UI tries before anyone has logged in."""

import json
import re
from contextlib import contextmanager
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from ..factories import editor_project
from ..workers import ROOT, wait_for
from .live import Traffic, UiServer, WebServer, free_port

pytestmark = [pytest.mark.browser]

PASSWORD = "correct-horse-battery-1"
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELED"}


@pytest.fixture
def stack(chromium, celery_workers, tmp_path, user):
    """gunicorn on the test database, the UI pointed at it, and a Chromium page that may only reach loopback."""
    port = free_port()
    ui = UiServer(tmp_path, f"http://127.0.0.1:{port}")
    env = {
        "CELERY_QUEUE": celery_workers.queue,
        "CORS_ALLOWED_ORIGINS": ui.url,
        "YAPTIDE_COMPAT_COOKIE_SECURE": "0",
        "SHIELDHIT_PATH": str(ROOT / "tests" / "fakes" / "shieldhit"),
        "FAKE_SIM_SECONDS": "5",
    }
    web = WebServer(tmp_path, port=port, env=env)
    traffic = Traffic(web.url)
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    context.route("**/*", traffic.guard)
    page = context.new_page()
    page.on("response", traffic.on_response)
    page.on("requestfailed", traffic.on_request_failed)
    page.set_default_timeout(30_000)
    try:
        # Each test starts its Celery worker (with `env`) when it needs one.
        yield {"page": page, "ui": ui, "web": web, "traffic": traffic, "user": user, "env": env}
    finally:
        page.screenshot(path=str(tmp_path / "last.png"))  # what the page showed at the end, for a failure
        (tmp_path / "traffic.txt").write_text("\n".join(f"{c.method} {c.url} {c.status}" for c in traffic.calls))
        context.close()
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
    """A job's card in the simulations grid (the first of its cards: the "last 5" panel repeats it)."""
    return page.locator(".MuiCard-root").filter(has=page.get_by_text(title, exact=True)).first


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


def test_ui_lists_a_job_from_the_native_api_and_follows_it_to_completed(stack, celery_workers):
    page, ui, web, traffic, user = (stack[k] for k in ("page", "ui", "web", "traffic", "user"))

    celery_workers.start(concurrency=2, **stack["env"])
    log_in(page, ui, user.username)
    token = native_token(web, user)
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


EXAMPLE = "Proton pencil beam in water"  # the UI's SHIELD-HIT12A example ex1: four outputs, editor project


def example_outputs(ui: UiServer) -> list[str]:
    project = json.loads((ui.root / "examples" / "ex1.json").read_text())["input"]["inputJson"]
    return [output["name"] for output in project["scoringManager"]["outputs"]]


def start_run(page, *, title: str, ntasks: int) -> str:
    """Fills the "Run new simulation" panel and starts the run; returns the job id the backend answered."""
    page.get_by_label("Simulation Name").fill(title)
    page.get_by_label("Number of tasks").fill(str(ntasks))
    with page.expect_response(lambda r: r.url.endswith("/jobs/direct") and r.request.method == "POST") as submitted:
        page.get_by_role("button", name="Start simulation").click()
    assert submitted.value.status == 202, submitted.value.text()
    body = submitted.value.request.post_data_json
    assert (body["sim_type"], body["input_type"], body["ntasks"]) == ("shieldhit", "editor", ntasks)
    return submitted.value.json()["job_id"]


def test_ui_runs_an_example_on_shieldhit_shows_results_cancels_and_deletes(stack, celery_workers):
    page, ui, web, traffic, user = (stack[k] for k in ("page", "ui", "web", "traffic", "user"))
    log_in(page, ui, user.username)

    page.get_by_text("Examples").click()
    page.get_by_text(EXAMPLE).first.click()
    page.get_by_role("button", name="Clear and proceed").click()
    page.get_by_role("button", name="Run", exact=True).click()
    job_id = start_run(page, title="pencil beam, 2 tasks", ntasks=2)

    # No worker runs yet, so the card must show PENDING; then a worker starts and the job runs to the end.
    assert card_states(page, "pencil beam, 2 tasks", until={"PENDING"}, timeout=30) == ["PENDING"]
    celery_workers.start(concurrency=2, **stack["env"])
    states = card_states(page, "pencil beam, 2 tasks", until=FINAL_STATES, timeout=120)
    assert set(states) <= {"PENDING", "RUNNING", "MERGING_QUEUED", "MERGING_RUNNING", "COMPLETED"}, states
    assert "RUNNING" in states and states[-1] == "COMPLETED", states

    # Results: each of the editor's outputs, in the editor's order, as a plot per 1-D or 2-D page and a table
    # row per 0-D page.
    listing = api(web, "GET", f"/api/simulations/{job_id}/estimators/", token=native_token(web, user))
    assert [estimator["name"] for estimator in listing["estimators"]] == example_outputs(ui)
    first, *others = listing["estimators"]
    with pages_of(page, first["name"]):
        card(page, "pencil beam, 2 tasks").get_by_role("button", name="Load results").click()
    assert_estimator_shown(page, first)
    for estimator in others:
        with pages_of(page, estimator["name"]):
            page.get_by_role("tab", name=estimator["name"], exact=True).click()
        assert_estimator_shown(page, estimator)

    # Input files: the SHIELD-HIT12A files the server converted the project into.
    page.get_by_text("Simulations", exact=True).click()
    card(page, "pencil beam, 2 tasks").get_by_role("button", name="Input files").click()
    for name in ("beam.dat", "geo.dat", "mat.dat", "detect.dat"):
        # each file: a paragraph with its name and its buttons, then its text
        page.locator("p").filter(has_text=re.compile(rf"^{re.escape(name)}")).filter(visible=True).first.wait_for()
    page.get_by_text("NSTAT").filter(visible=True).first.wait_for()  # beam.dat's content: the per-task primaries
    page.get_by_role("button", name="Close", exact=True).click()

    # A longer run (more tasks than worker processes), canceled while it runs.
    longer_job_id = start_run(page, title="longer run", ntasks=6)
    card_states(page, "longer run", until={"RUNNING"}, timeout=60)
    with page.expect_response(lambda r: r.request.method == "DELETE" and "/jobs/direct?" in r.url) as canceled:
        card(page, "longer run").get_by_role("button", name="Cancel").click()
    assert canceled.value.status == 200
    assert card_states(page, "longer run", until=FINAL_STATES, timeout=30)[-1] == "CANCELED"

    # Delete a finished job (the canceled one): gone from the list and from the backend. First the page is
    # loaded anew (the UI then asks for a login again): the "last 5" panel polls the jobs it listed when the run
    # started (unfinished and completed ones) and refetches its list only when a run starts, so it would go on
    # polling a job deleted from the grid and get 404s (silent in the UI; yaptide answers the same).
    log_in(page, ui, user.username)
    page.get_by_text("Simulations", exact=True).click()
    card(page, "longer run").get_by_role("button", name="delete simulation").click()
    with page.expect_response(lambda r: r.request.method == "DELETE" and "/user/simulations?" in r.url) as deleted:
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    assert deleted.value.status == 200
    card(page, "longer run").wait_for(state="detached")
    assert api_status(web, user, longer_job_id) == 404

    log_out(page)
    assert_clean(traffic)


@contextmanager
def pages_of(page, name: str):
    """Expects the UI to fetch pages of the estimator `name` (one request per page dimension) while in the block."""
    with page.expect_response(lambda r: "/results?" in r.url and f"estimator_name={name}&" in r.url) as fetched:
        yield
    assert fetched.value.status == 200, fetched.value.text()


def assert_estimator_shown(page, estimator: dict) -> None:
    """The open estimator tab shows its pages: plots (drawn as they scroll into view) for 1-D and 2-D pages,
    a table row per 0-D page."""
    dimensions = [page_info["page_dimension"] for page_info in estimator["pages"]]
    if any(dimensions):
        page.locator("svg.jsroot.root_canvas").first.wait_for(state="visible")
    if 0 in dimensions:
        rows = page.locator('[role="row"]:has([role="gridcell"])')
        wait_for(lambda: rows.count() >= dimensions.count(0), timeout=30, what=f"table of {estimator['name']}")


def native_token(web: WebServer, user) -> str:
    return api(web, "POST", "/api/auth/login/", {"username": user.username, "password": PASSWORD})["access"]


def api_status(web: WebServer, user, job_id: str) -> int:
    request = Request(
        f"{web.url}/api/simulations/{job_id}/", headers={"Authorization": f"Bearer {native_token(web, user)}"}
    )
    try:
        with urlopen(request, timeout=30) as response:
            return response.status
    except HTTPError as error:
        return error.code
