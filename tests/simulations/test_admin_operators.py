"""The admin for operators: progress in the list, Celery results decoded, plots and downloads, storage,
deleting old simulations, and the audit trail of admin actions and operator commands."""

import csv
import html
import io
import re
from datetime import timedelta
from types import SimpleNamespace

import numpy as np
import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django_celery_results.models import TaskResult
from PIL import Image

from simulations.choices import JobState
from simulations.models import Page, Simulation, Task
from simulations.services import TaskUpdate, logfiles_store, results_store, simulation_cancel, task_apply_update
from tests.simulations.test_admin import CHANGELIST, change_url, estimator_json, finish, page_json
from yaptide_site.audit import COMMAND_USERNAME
from yaptide_site.celery import app

pytestmark = pytest.mark.django_db


def gradient_page(nx: int = 200, ny: int = 200) -> dict:
    """A 2-D page whose value grows along axis 1 (values flattened with axis 1 varying fastest)."""
    page = page_json(0, [float(i % nx) for i in range(nx * ny)], axis2=ny)
    page["axis_dim1"]["values"] = [float(i) for i in range(nx)]
    return page


def test_simulation_list_shows_progress_task_counts_failed_marker_and_duration(admin_client, submit):
    simulation, _ = submit(ntasks=4, primaries=4000)
    task_apply_update(
        simulation=simulation, task_id=0, update=TaskUpdate(task_state="RUNNING", simulated_primaries=500)
    )
    for task_id, state in ((0, "COMPLETED"), (1, "COMPLETED"), (2, "COMPLETED"), (3, "FAILED")):
        task_apply_update(simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=state))
    Simulation.objects.filter(pk=simulation.pk).update(
        job_state=JobState.COMPLETED, end_time=simulation.start_time + timedelta(hours=1, minutes=2, seconds=3)
    )
    Task.objects.filter(simulation=simulation, task_id__in=[1, 2]).update(simulated_primaries=1000)

    html = admin_client.get(CHANGELIST).content.decode()

    simulated = sum(Task.objects.filter(simulation=simulation).values_list("simulated_primaries", flat=True))
    percent = 100 * simulated // 4000
    assert 0 < percent < 100
    assert (
        f'<progress value="{percent}" max="100"></progress>' in html and f"{simulated:,} / 4,000 ({percent}%)" in html
    )
    assert "3 / 1 / 4" in html  # done / failed / all
    assert 'title="1 of 4 tasks failed">⚠ 1 failed' in html
    assert "1:02:03" in html
    started = timezone.localtime(Simulation.objects.get(pk=simulation.pk).start_time)
    assert started.strftime("%Y-%m-%d %H:%M:%S UTC") in html


def test_objects_are_named_by_job_id_and_ordinal(submit):
    simulation, _ = submit(ntasks=3)
    [estimator] = results_store(simulation=simulation, estimators=[estimator_json("z_", [page_json(0, [1.0, 2.0])])])

    assert str(simulation.tasks.get(task_id=2)) == f"task 2 of {simulation.job_id}"
    assert str(estimator.pages.get()) == f"page 0 of z_ of {simulation.job_id}"


def stored_celery_result(task_name: str, args: tuple, result, status: str = "SUCCESS") -> TaskResult:
    """A result row written by the project's Celery result backend, as a worker writes it."""
    task_id = f"celery-{task_name}-{args}"
    request = SimpleNamespace(
        id=task_id, task=task_name, argsrepr=repr(args), kwargsrepr="{}", hostname="w1@host", children=[]
    )
    app.backend.store_result(task_id, result, status, request=request)
    return TaskResult.objects.get(task_id=task_id)


def test_celery_results_are_decoded_linked_and_show_the_task_rows_state(admin_client, submit):
    simulation, _ = submit(ntasks=2)
    simulation_cancel(simulation=simulation)
    estimators = [estimator_json("z_", [page_json(0, [1.0] * 5000)])]
    row = stored_celery_result("simulations.run_task", (simulation.pk, 1), estimators)
    assert "z_" not in row.result  # stored as base64 zjson

    listing = admin_client.get(reverse("admin:django_celery_results_taskresult_changelist")).content.decode()
    assert simulation.job_id in listing and "task 1" in listing
    assert re.search(r"<td class=\"field-state\">CANCELED</td>\s*<td class=\"field-celery_status\">SUCCESS", listing)

    page = admin_client.get(reverse("admin:django_celery_results_taskresult_change", args=[row.pk])).content.decode()
    page = html.unescape(page)
    assert f"[\n  {simulation.pk},\n  1\n]" in page  # the arguments, decoded
    assert '"estimator": "z_"' in page and '"values": 5000' in page  # the result, as sizes


def test_periodic_jobs_store_no_result():
    from simulations.tasks import reap_stale_tasks

    app.conf.task_store_eager_result = True
    try:
        reap_stale_tasks.apply()
        app.tasks["celery.backend_cleanup"].apply()
    finally:
        app.conf.task_store_eager_result = False

    assert not TaskResult.objects.exists()


def plot_png(admin_client, page: Page) -> Image.Image:
    response = admin_client.get(reverse("admin:simulations_page_plot", args=[page.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def test_a_2d_page_is_a_heat_map_of_its_values_and_a_1d_page_a_line(admin_client, submit):
    simulation, _ = submit()
    ramp = page_json(1, [float(i) for i in range(100)])
    [estimator] = results_store(simulation=simulation, estimators=[estimator_json("z_", [gradient_page(), ramp])])
    heat_map, line = estimator.pages.order_by("page_number")

    pixels = np.asarray(plot_png(admin_client, heat_map)).astype(int)
    yellow = (pixels[:, :, 0] > 200) & (pixels[:, :, 1] > 200) & (pixels[:, :, 2] < 80)  # viridis' top
    purple = (pixels[:, :, 0] < 90) & (pixels[:, :, 1] < 40) & (pixels[:, :, 2] > 60)  # viridis' bottom
    half = pixels.shape[1] // 2
    assert yellow[:, half:].sum() > 20 * max(1, yellow[:, :half].sum())  # high values to the right
    assert purple[:, :half].sum() > 3 * purple[:, half:].sum()

    pixels = np.asarray(plot_png(admin_client, line)).astype(int)
    blue = (abs(pixels[:, :, 0] - 31) < 30) & (abs(pixels[:, :, 1] - 119) < 30) & (abs(pixels[:, :, 2] - 180) < 30)
    rows, columns = np.nonzero(blue)
    third = pixels.shape[1] // 3
    assert rows[columns < third].mean() > rows[columns > 2 * third].mean()  # rising: higher (smaller y) on the right

    for page in (heat_map, line):
        html = admin_client.get(change_url(page)).content.decode()
        assert reverse("admin:simulations_page_plot", args=[page.pk]) in html
    estimator_page = admin_client.get(change_url(estimator)).content.decode()
    assert estimator_page.count('class="result-plot"') == 2


def test_a_page_downloads_as_json_and_csv(admin_client, submit):
    simulation, _ = submit()
    [estimator] = results_store(simulation=simulation, estimators=[estimator_json("z_", [gradient_page(3, 2)])])
    page = estimator.pages.get()

    as_json = admin_client.get(reverse("admin:simulations_page_json", args=[page.pk]))
    assert as_json.json() == gradient_page(3, 2)
    assert f'filename="{simulation.job_id}_z__page0.json"' in as_json["Content-Disposition"]
    rows = list(
        csv.reader(
            io.StringIO(admin_client.get(reverse("admin:simulations_page_csv", args=[page.pk])).content.decode())
        )
    )
    assert rows[0] == ["Position (Y) [cm]", "Position (Z) [cm]", "DOSE [MeV/g]"]
    assert rows[1:] == [["0.0", "0.0", "0.0"], ["1.0", "0.0", "1.0"], ["2.0", "0.0", "2.0"]] + [
        ["0.0", "1.0", "0.0"],
        ["1.0", "1.0", "1.0"],
        ["2.0", "1.0", "2.0"],
    ]


def test_storage_per_simulation_and_per_user_is_sortable(admin_client, submit, user, other_user):
    small, _ = submit()
    big, _ = submit(owner=other_user)
    results_store(simulation=big, estimators=[estimator_json("z_", [gradient_page(50, 50)])])
    logfiles_store(simulation=big, logfiles={"a.log": "x" * 1000})

    listing = admin_client.get(CHANGELIST, {"o": "-10"}).content.decode()  # the Stored column, largest first
    assert listing.index(big.job_id) < listing.index(small.job_id)
    page = admin_client.get(change_url(big)).content.decode()
    assert re.search(r"input <span title=\"[\d,]+ bytes\">[\d.]+ \w?B</span>, results <span", page)

    url = reverse("admin:simulations_storage_by_user")
    largest_first = admin_client.get(url).content.decode()
    assert largest_first.index(other_user.username) < largest_first.index(user.username + " (")
    smallest_first = admin_client.get(url, {"o": "total_bytes"}).content.decode()
    assert smallest_first.index(user.username + " (") < smallest_first.index(other_user.username)


def test_delete_old_finished_simulations_asks_for_days_then_confirms(admin_client, submit):
    old = finish(submit()[0])
    recent = finish(submit()[0])
    running, _ = submit()
    Simulation.objects.filter(pk=old.pk).update(end_time=timezone.now() - timedelta(days=40))
    selected = {"action": "delete_old_simulations", "_selected_action": [old.pk, recent.pk, running.pk]}

    ask = admin_client.post(CHANGELIST, selected)
    assert 'name="days"' in ask.content.decode()
    confirm = admin_client.post(CHANGELIST, {**selected, "days": "30"})
    html = confirm.content.decode()
    assert old.job_id in html and recent.job_id not in html and "Finished more than 30 days ago" in html
    admin_client.post(CHANGELIST, {**selected, "days": "30", "post": "yes"})

    assert set(Simulation.objects.values_list("pk", flat=True)) == {recent.pk, running.pk}
    entry = LogEntry.objects.get(action_flag=DELETION)
    assert entry.object_id == str(old.pk) and entry.user.username == "admin"


def test_delete_old_simulations_command(submit, capsys):
    old = finish(submit()[0])
    recent = finish(submit()[0])
    Simulation.objects.filter(pk=old.pk).update(end_time=timezone.now() - timedelta(days=10))

    call_command("delete_old_simulations", "--days", "7", "--dry-run")
    assert Simulation.objects.count() == 2 and old.job_id in capsys.readouterr().out
    call_command("delete_old_simulations", "--days", "7", "--yes")

    assert list(Simulation.objects.values_list("pk", flat=True)) == [recent.pk]
    entry = LogEntry.objects.get()
    assert entry.user.username == COMMAND_USERNAME and "manage.py delete_old_simulations" in entry.change_message


def test_admin_actions_and_commands_leave_an_audit_entry_in_the_history(admin_client, admin_user, submit, user):
    simulation, _ = submit()
    admin_client.post(CHANGELIST, {"action": "cancel_simulations", "_selected_action": [simulation.pk]})
    call_command("issue_update_key", simulation.job_id, stdout=io.StringIO())
    call_command("update_user", user.username, "--no-active", stdout=io.StringIO())

    history = admin_client.get(reverse("admin:simulations_celerysimulation_history", args=[simulation.pk]))
    history = history.content.decode()
    assert "Canceled (admin action)." in history and "Issued a new update key. (manage.py issue_update_key" in history
    entries = LogEntry.objects.order_by("id")
    assert [(e.user.username, e.action_flag) for e in entries] == [
        ("admin", CHANGE),
        (COMMAND_USERNAME, CHANGE),
        (COMMAND_USERNAME, CHANGE),
    ]
    listing = admin_client.get(reverse("admin:admin_logentry_changelist"), {"user__id__exact": admin_user.pk})
    assert "Canceled (admin action)." in listing.content.decode()
    assert "Changed active" not in listing.content.decode()
    command_user = entries.last().user
    assert not command_user.is_active and not command_user.has_usable_password()


def test_a_password_set_in_the_admin_and_a_deactivation_are_in_the_audit_trail(admin_client, user):
    page = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk]), follow=True)
    admin_client.post(
        page.request["PATH_INFO"],
        {"username": user.username, "is_active": "on", "new_password": "radium-1898-polonium"},
    )
    admin_client.post(
        reverse("admin:accounts_user_changelist"), {"action": "deactivate_users", "_selected_action": [user.pk]}
    )

    messages = [entry.get_change_message() for entry in LogEntry.objects.filter(object_id=str(user.pk)).order_by("id")]
    assert (
        len(messages) == 2 and messages[0] == "Changed New password." and messages[1] == "Deactivated (admin action)."
    )
    assert {entry.user.username for entry in LogEntry.objects.all()} == {"admin"}


def test_simulation_page_and_history_show_times_with_seconds_and_time_zone(admin_client, submit):
    simulation, _ = submit()
    admin_client.post(CHANGELIST, {"action": "cancel_simulations", "_selected_action": [simulation.pk]})
    simulation.refresh_from_db()
    started = timezone.localtime(simulation.start_time).strftime("%Y-%m-%d %H:%M:%S UTC")

    assert started in admin_client.get(change_url(simulation)).content.decode()
    history = admin_client.get(reverse("admin:simulations_celerysimulation_history", args=[simulation.pk]))
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", history.content.decode())
