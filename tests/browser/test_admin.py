"""The operators' admin in a real browser: the simulation list with progress, result plots drawn from the page's
values, and the audit entry a cancel leaves."""

import pytest
from django.db import transaction

from simulations.choices import JobState
from simulations.models import Simulation, Task
from simulations.services import results_store
from tests.factories import CelerySimulationFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# In the page: the plot image drawn on a canvas, and its pixels counted by colour (viridis' ends, the line's blue).
COUNT_COLOURS = """img => {
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const context = canvas.getContext("2d");
    context.drawImage(img, 0, 0);
    const {data, width, height} = context.getImageData(0, 0, canvas.width, canvas.height);
    const counts = {yellowLeft: 0, yellowRight: 0, purpleLeft: 0, purpleRight: 0, blueRows: [[], [], []]};
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
        const i = 4 * (y * width + x), r = data[i], g = data[i + 1], b = data[i + 2];
        const left = x < width / 2;
        if (r > 200 && g > 200 && b < 80) left ? counts.yellowLeft++ : counts.yellowRight++;
        if (r < 90 && g < 40 && b > 60) left ? counts.purpleLeft++ : counts.purpleRight++;
        if (Math.abs(r - 31) < 30 && Math.abs(g - 119) < 30 && Math.abs(b - 180) < 30)
            counts.blueRows[Math.min(2, Math.floor(3 * x / width))].push(y);
    }
    const mean = values => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    counts.blueMeanY = counts.blueRows.map(mean);
    counts.blueCount = counts.blueRows.map(values => values.length);
    delete counts.blueRows;
    return {width, height, ...counts};
}"""


def running_job(user, *, ntasks=4, requested=1000, simulated=(1000, 500, 0, 0)):
    simulation = CelerySimulationFactory(user=user, job_state=JobState.RUNNING, title="browser test", tasks=ntasks)
    for ordinal, done in enumerate(simulated):
        Task.objects.filter(simulation=simulation, task_id=ordinal).update(
            requested_primaries=requested,
            simulated_primaries=done,
            task_state="COMPLETED" if done == requested else "RUNNING",
        )
    return simulation


def page_json(dimensions: int, nx: int, ny: int = 1) -> dict:
    page = {
        "metadata": {"page_number": "0"},
        "dimensions": dimensions,
        "data": {"name": "Dose", "unit": "Gy", "values": [float(i % nx) for i in range(nx * ny)]},
        "axis_dim1": {"name": "Position (X)", "unit": "cm", "values": [float(i) for i in range(nx)]},
    }
    if dimensions == 2:
        page["axis_dim2"] = {"name": "Position (Z)", "unit": "cm", "values": [float(i) for i in range(ny)]}
    return page


def test_simulation_list_shows_progress_and_fits_1440_pixels(admin_page, admin_user):
    simulation = running_job(admin_user)

    admin_page.goto("/admin/simulations/simulation/")

    row = admin_page.locator("#result_list tbody tr", has_text=simulation.job_id)
    assert row.locator("progress").get_attribute("value") == "37"  # 1,500 of 4,000 primaries
    assert "1,500 / 4,000 (37%)" in row.locator("td.field-progress").inner_text()
    assert row.locator("td.field-tasks").inner_text() == "1 / 0 / 4"
    assert "(running)" in row.locator("td.field-duration").inner_text()
    assert admin_page.evaluate("document.documentElement.scrollWidth") <= 1440
    header = admin_page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor")
    assert header not in ("rgba(0, 0, 0, 0)", "transparent")  # the admin's CSS is there
    assert admin_page.csp_violations == [] and admin_page.blocked_requests == []


def test_page_admin_draws_a_2d_heat_map_and_a_1d_line_from_the_pages_values(admin_page, admin_user):
    simulation = CelerySimulationFactory(user=admin_user)
    with transaction.atomic():
        [heat_map_estimator] = results_store(
            simulation=simulation,
            estimators=[{"name": "yz_", "metadata": {}, "pages": [page_json(2, 200, 200)]}],
        )
        [line_estimator] = results_store(
            simulation=simulation,
            estimators=[{"name": "z_", "metadata": {}, "pages": [page_json(1, 300)]}],
        )
    heat_map, line = heat_map_estimator.pages.get(), line_estimator.pages.get()

    admin_page.goto(f"/admin/simulations/page/{heat_map.pk}/change/")
    image = admin_page.locator(".result-plot img")
    image.wait_for()
    admin_page.wait_for_function("document.querySelector('.result-plot img').complete")
    counts = image.evaluate(COUNT_COLOURS)
    assert counts["width"] == 800 and counts["height"] == 480
    assert counts["yellowRight"] > 20 * max(1, counts["yellowLeft"])  # values grow along axis 1, to the right
    assert counts["purpleLeft"] > 3 * counts["purpleRight"]
    assert admin_page.get_by_role("link", name="CSV").get_attribute("href").endswith("/download.csv")

    for url in (
        f"/admin/simulations/page/{line.pk}/change/",
        f"/admin/simulations/estimator/{line_estimator.pk}/change/",
    ):
        admin_page.goto(url)
        admin_page.wait_for_function("document.querySelector('.result-plot img').complete")
        counts = admin_page.locator(".result-plot img").evaluate(COUNT_COLOURS)
        assert min(counts["blueCount"]) > 50, url
        left, _, right = counts["blueMeanY"]
        assert left > right, url  # a rising line: lower on the left, higher (smaller y) on the right
    assert admin_page.csp_violations == [] and admin_page.blocked_requests == []


def test_cancel_from_the_list_leaves_an_audit_entry_in_the_history(admin_page, admin_user):
    simulation = running_job(admin_user)

    admin_page.goto("/admin/simulations/simulation/")
    admin_page.locator("#result_list tbody tr", has_text=simulation.job_id).locator("input.action-select").check()
    admin_page.select_option("select[name=action]", "cancel_simulations")
    admin_page.click("button[name=index]")
    admin_page.wait_for_selector(".messagelist .success")
    assert Simulation.objects.get(pk=simulation.pk).job_state == JobState.CANCELED

    admin_page.goto(f"/admin/simulations/celerysimulation/{simulation.pk}/history/")
    entry = admin_page.locator("#change-history tbody tr").first
    assert admin_user.username in entry.inner_text() and "Canceled (admin action)." in entry.inner_text()

    admin_page.goto("/admin/admin/logentry/?action_flag__exact=2")
    assert simulation.job_id in admin_page.locator("#result_list").inner_text()


@pytest.mark.parametrize(("path", "title"), [("/api/docs/", ".swagger-ui .info .title"), ("/api/redoc/", "h1")])
def test_api_docs_render_under_the_content_security_policy(browser_page, path, title):
    browser_page.goto(path)

    browser_page.wait_for_selector(f"{title}:has-text('yaptide API')", timeout=30_000)
    # Redoc's bundle shows its "powered by" logo from its own site: the policy refuses that image, nothing else.
    refused = [v for v in browser_page.csp_violations if "https://cdn.redoc.ly/redoc/logo-mini.svg" not in v]
    assert refused == [] and browser_page.blocked_requests == []
