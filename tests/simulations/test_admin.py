import re

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from simulations.choices import JobState
from simulations.models import (
    BatchSimulation,
    Estimator,
    Input,
    Logfiles,
    Page,
    Simulation,
    Task,
)
from simulations.services import (
    TaskUpdate,
    logfiles_store,
    results_store,
    simulation_apply_update,
    task_apply_update,
    update_key_matches,
)
from tests.factories import ClusterFactory, KeycloakUserFactory, simulations_create

pytestmark = pytest.mark.django_db


def page_json(number: int, values: list[float], *, name: str = "DOSE", axis2: int = 0) -> dict:
    page = {
        "metadata": {"page_number": str(number), "name": name, "unit": "MeV/g"},
        "dimensions": 2 if axis2 else 1,
        "data": {"name": name, "unit": "MeV/g", "values": values},
        "axis_dim1": {
            "name": "Position (Y)",
            "unit": "cm",
            "values": [float(i) for i in range(len(values) // (axis2 or 1))],
        },
    }
    if axis2:
        page["axis_dim2"] = {"name": "Position (Z)", "unit": "cm", "values": [float(i) for i in range(axis2)]}
    return page


def estimator_json(file_name: str, pages: list[dict]) -> dict:
    return {"name": file_name, "metadata": {"file_corename": file_name, "geotyp": "CYL"}, "pages": pages}


def finish(simulation, state=JobState.COMPLETED):
    for task in simulation.tasks.all():
        task_apply_update(simulation=simulation, task_id=task.task_id, update=TaskUpdate(task_state=state))
    simulation_apply_update(simulation=simulation, job_state=state)
    simulation.refresh_from_db()
    return simulation


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])


CHANGELIST = "/admin/simulations/simulation/"


def listed_job_ids(response) -> set[str]:
    return set(re.findall(r"\d{8}-\d{6}-[0-9a-f]{32}(?:DIRECT|BATCH)", response.content.decode()))


def test_simulation_list_shows_child_type_owner_and_state(admin_client, submit):
    celery, _ = submit(title="proton beam")
    batch, _ = submit(platform="BATCH", cluster=ClusterFactory())

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert listed_job_ids(response) == {celery.job_id, batch.job_id}
    assert "Celery simulation" in html and "batch simulation" in html.lower()
    assert "proton beam" in html
    assert celery.user.username in html


@pytest.mark.parametrize(
    "query, expected",
    [
        ("job_state=COMPLETED", {"done"}),
        ("platform=BATCH", {"batch"}),
        ("sim_type=shieldhit", {"shieldhit"}),
        ("input_type=EDITOR", {"done", "batch", "shieldhit", "other"}),
        ("input_type=FILES", set()),
        ("start_time__gte=2000-01-01T00:00:00%2B00:00", {"done", "batch", "shieldhit", "other"}),
        ("start_time__lt=2000-01-01T00:00:00%2B00:00", set()),
    ],
)
def test_simulation_list_filters(admin_client, submit, other_user, query, expected):
    made = {
        "done": finish(submit()[0]),
        "batch": submit(platform="BATCH")[0],
        "shieldhit": submit()[0],
        "other": submit(owner=other_user)[0],
    }
    Simulation.objects.filter(pk=made["shieldhit"].pk).update(sim_type="shieldhit")

    response = admin_client.get(f"{CHANGELIST}?{query}")

    assert response.status_code == 200
    assert listed_job_ids(response) == {made[name].job_id for name in expected}


def test_simulation_list_filters_by_user(admin_client, submit, user, other_user):
    mine, _ = submit()
    submit(owner=other_user)

    response = admin_client.get(f"{CHANGELIST}?user__id__exact={user.pk}")

    assert listed_job_ids(response) == {mine.job_id}


@pytest.mark.parametrize("field", ["job_id", "title", "username"])
def test_simulation_list_search(admin_client, submit, other_user, field):
    wanted, _ = submit(title="carbon ions", owner=other_user)
    submit(title="protons")
    term = {"job_id": wanted.job_id, "title": "carbon", "username": other_user.username}[field]

    response = admin_client.get(CHANGELIST, {"q": term})

    assert listed_job_ids(response) == {wanted.job_id}


def test_cluster_list_links_to_its_batch_simulations(admin_client, submit):
    cluster = ClusterFactory()
    on_cluster, _ = submit(platform="BATCH", cluster=cluster)
    submit(platform="BATCH", cluster=ClusterFactory())

    response = admin_client.get(f"{CHANGELIST}?batchsimulation__cluster__id__exact={cluster.pk}")

    assert listed_job_ids(response) == {on_cluster.job_id}


def _bulk_simulations(user, count: int) -> None:
    """Inserts `count` finished Celery simulations without tasks in a few statements."""
    simulations_create(count, user=user)


@pytest.mark.parametrize("per_page", [20, 500])
def test_simulation_list_of_10000_rows_takes_a_fixed_number_of_queries(
    admin_client, user, other_user, per_page, monkeypatch, django_assert_max_num_queries
):
    _bulk_simulations(user, 9_000)
    _bulk_simulations(other_user, 1_000)
    monkeypatch.setattr(admin.site._registry[Simulation], "list_per_page", per_page)
    admin_client.get(CHANGELIST)  # warms the session and content type caches

    with django_assert_max_num_queries(7):  # the 7th: the shown rows' task counts and primaries, all at once
        response = admin_client.get(CHANGELIST, {"q": "2025"})

    assert response.status_code == 200
    assert len(listed_job_ids(response)) == per_page


def test_simulation_page_shows_tasks_estimators_logfiles_and_input_with_links(admin_client, submit):
    simulation, _ = submit(ntasks=2)
    results_store(simulation=simulation, estimators=[estimator_json("z_profile_", [page_json(0, [1.0, 2.0])])])
    logfiles_store(simulation=simulation, logfiles={"run.log": "line one\nline <two>"})

    response = admin_client.get(change_url(simulation))

    assert response.status_code == 200
    html = response.content.decode()
    for task in Task.objects.filter(simulation=simulation):
        assert reverse("admin:simulations_task_change", args=[task.pk]) in html
    estimator = Estimator.objects.get(simulation=simulation)
    assert reverse("admin:simulations_estimator_change", args=[estimator.pk]) in html
    logfiles = Logfiles.objects.get(simulation=simulation)
    assert reverse("admin:simulations_logfiles_change", args=[logfiles.pk]) in html
    assert "line one\nline &lt;two&gt;" in html  # decoded, newlines kept, escaped
    assert "&quot;number_of_all_primaries&quot;: 1000" in html  # the input, decoded and pretty-printed
    assert "Merge id" in html  # the child's own field
    assert 'name="job_state"' not in html  # state is read-only: it changes only through services


def test_batch_simulation_page_shows_its_own_fields(admin_client, submit):
    cluster = ClusterFactory(cluster_name="ares")
    simulation, _ = submit(platform="BATCH", cluster=cluster)
    BatchSimulation.objects.filter(pk=simulation.pk).update(job_dir="/net/scratch/job1", array_id="4242")

    response = admin_client.get(change_url(simulation))

    html = response.content.decode()
    assert response.status_code == 200
    assert "/net/scratch/job1" in html and "4242" in html
    assert reverse("admin:clusters_cluster_change", args=[cluster.pk]) in html


def test_simulation_title_can_be_edited(admin_client, submit):
    simulation, _ = submit(title="old")

    response = admin_client.post(change_url(simulation), {"title": "new", **_empty_inline_forms(simulation)})

    assert response.status_code == 302
    simulation.refresh_from_db()
    assert simulation.title == "new"


def _empty_inline_forms(simulation) -> dict:
    """Management forms of the read-only inlines, as the browser posts them."""
    data = {}
    for prefix, count in (
        ("input", 1),
        ("tasks", simulation.tasks.count()),
        ("estimators", simulation.estimators.count()),
        ("logfiles", 0),
    ):
        data.update({f"{prefix}-TOTAL_FORMS": count, f"{prefix}-INITIAL_FORMS": count})
    return data


def test_simulations_cannot_be_added_in_the_admin(admin_client):
    assert admin_client.get(reverse("admin:simulations_simulation_add")).status_code == 403


def test_cancel_action_cancels_running_and_reports_finished(admin_client, submit):
    running, _ = submit()
    done = finish(submit()[0])

    response = admin_client.post(
        CHANGELIST, {"action": "cancel_simulations", "_selected_action": [running.pk, done.pk]}, follow=True
    )

    running.refresh_from_db()
    assert running.job_state == JobState.CANCELED
    assert set(running.tasks.values_list("task_state", flat=True)) == {JobState.CANCELED}
    html = response.content.decode()
    assert "Canceled 1 simulation" in html
    assert f"Not canceled: simulation {done.job_id} is COMPLETED" in html


def test_delete_finished_action_asks_then_deletes_only_finished(admin_client, submit):
    running, _ = submit()
    done = finish(submit()[0])
    failed = finish(submit()[0], JobState.FAILED)
    selected = {"action": "delete_finished_simulations", "_selected_action": [running.pk, done.pk, failed.pk]}

    confirm = admin_client.post(CHANGELIST, selected)

    assert confirm.status_code == 200
    assert "cancel them first" in confirm.content.decode()
    assert Simulation.objects.count() == 3

    response = admin_client.post(CHANGELIST, {**selected, "post": "yes"}, follow=True)

    assert list(Simulation.objects.values_list("job_id", flat=True)) == [running.job_id]
    html = response.content.decode()
    assert "Deleted 2 finished simulation" in html
    assert f"{running.job_id} (PENDING)" in html


def test_bulk_delete_without_service_is_not_offered(admin_client, submit):
    submit()
    response = admin_client.get(CHANGELIST)
    assert 'value="delete_selected"' not in response.content.decode()


def test_issue_update_key_action_shows_a_new_key_once_and_revokes_the_old(admin_client, submit):
    simulation, old_key = submit()

    response = admin_client.post(CHANGELIST, {"action": "issue_update_keys", "_selected_action": [simulation.pk]})

    found = re.search(rf"<td>{simulation.job_id}</td><td><code>(\S+)</code>", response.content.decode())
    assert found
    assert response.status_code == 200  # the key is on this page, not carried by a redirect's messages cookie
    assert "no-store" in response["Cache-Control"]
    assert found.group(1) not in str(response.cookies)
    simulation.refresh_from_db()
    assert update_key_matches(simulation=simulation, key=found.group(1))
    assert not update_key_matches(simulation=simulation, key=old_key)
    assert found.group(1) not in admin_client.get(CHANGELIST).content.decode()


def test_delete_view_deletes_a_finished_simulation_with_everything_it_owns(admin_client, submit):
    simulation = finish(submit()[0])
    results_store(simulation=simulation, estimators=[estimator_json("z_", [page_json(0, [1.0])])])

    response = admin_client.post(reverse("admin:simulations_simulation_delete", args=[simulation.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Simulation.objects.exists()
    assert not Task.objects.exists() and not Estimator.objects.exists() and not Page.objects.exists()
    assert not Input.objects.exists()


def test_delete_view_refuses_an_unfinished_simulation(admin_client, submit):
    simulation, _ = submit()

    response = admin_client.post(reverse("admin:simulations_simulation_delete", args=[simulation.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Simulation.objects.filter(pk=simulation.pk).exists()


def test_task_list_and_pages_show_each_child_type(admin_client, submit):
    celery, _ = submit(ntasks=1)
    batch, _ = submit(ntasks=1, platform="BATCH")
    task_apply_update(simulation=celery, task_id=0, update=TaskUpdate(celery_id="celery-abc"))
    celery_task = Task.objects.get(simulation=celery)
    batch_task = Task.objects.get(simulation=batch)

    listing = admin_client.get(reverse("admin:simulations_task_changelist"))
    celery_page = admin_client.get(change_url(celery_task))
    batch_page = admin_client.get(change_url(batch_task))

    assert listing.status_code == 200
    assert celery.job_id in listing.content.decode() and batch.job_id in listing.content.decode()
    assert "Celery task" in listing.content.decode() and "batch task" in listing.content.decode().lower()
    assert celery_page.status_code == 200 and "celery-abc" in celery_page.content.decode()
    assert batch_page.status_code == 200 and "Celery id" not in batch_page.content.decode()
    assert change_url(celery) in celery_page.content.decode()
    assert admin_client.get(reverse("admin:simulations_task_add")).status_code == 403


def test_task_list_filters_by_state_and_searches_job_id(admin_client, submit):
    first, _ = submit(ntasks=1)
    second, _ = submit(ntasks=1)
    task_apply_update(simulation=first, task_id=0, update=TaskUpdate(task_state=JobState.RUNNING))
    url = reverse("admin:simulations_task_changelist")

    by_state = admin_client.get(url, {"task_state": "RUNNING"}).content.decode()
    by_job = admin_client.get(url, {"q": second.job_id}).content.decode()

    assert first.job_id in by_state and second.job_id not in by_state
    assert second.job_id in by_job and first.job_id not in by_job


def test_deleting_a_task_in_the_admin_removes_only_that_task(admin_client, submit):
    simulation, _ = submit(ntasks=2)
    other, _ = submit(ntasks=2)
    task = Task.objects.get(simulation=simulation, task_id=1)

    response = admin_client.post(reverse("admin:simulations_task_delete", args=[task.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert list(simulation.tasks.values_list("task_id", flat=True)) == [0]
    assert sorted(other.tasks.values_list("task_id", flat=True)) == [0, 1]


@pytest.mark.parametrize("model_name", ["input", "estimator", "page", "logfiles"])
def test_payload_lists_open_and_allow_no_add(admin_client, submit, model_name):
    simulation, _ = submit()
    results_store(simulation=simulation, estimators=[estimator_json("z_", [page_json(0, [1.0])])])
    logfiles_store(simulation=simulation, logfiles={"a.log": "x"})

    listing = admin_client.get(reverse(f"admin:simulations_{model_name}_changelist"), {"q": simulation.job_id})

    assert listing.status_code == 200
    assert simulation.job_id in listing.content.decode()
    assert admin_client.get(reverse(f"admin:simulations_{model_name}_add")).status_code == 403


def test_estimator_page_shows_metadata_decoded_and_links_to_pages(admin_client, submit):
    simulation, _ = submit()
    results_store(simulation=simulation, estimators=[estimator_json("z_", [page_json(0, [1.0]), page_json(1, [2.0])])])
    estimator = Estimator.objects.get()

    html = admin_client.get(change_url(estimator)).content.decode()

    assert "&quot;geotyp&quot;: &quot;CYL&quot;" in html
    for page in Page.objects.all():
        assert reverse("admin:simulations_page_change", args=[page.pk]) in html


def test_small_page_is_shown_in_full(admin_client, submit):
    simulation, _ = submit()
    results_store(simulation=simulation, estimators=[estimator_json("z_", [page_json(0, [1.5, 2.5, 3.5])])])

    response = admin_client.get(change_url(Page.objects.get()))

    assert response.status_code == 200
    html = response.content.decode()
    assert "&quot;values&quot;: [\n      1.5,\n      2.5,\n      3.5\n    ]" in html
    assert change_url(simulation) in html


def test_large_page_is_shown_as_a_summary(admin_client, submit):
    simulation, _ = submit()
    values = [float(i) / 7 for i in range(32_000)]
    values[123] = -5.0
    page = page_json(0, values, axis2=400)
    results_store(simulation=simulation, estimators=[estimator_json("yz_", [page])])

    response = admin_client.get(change_url(Page.objects.get()))

    html = response.content.decode()
    assert response.status_code == 200
    assert "32000 values: summary shown" in html
    assert "&quot;value_count&quot;: 32000" in html
    assert "&quot;min&quot;: -5.0" in html and f"&quot;max&quot;: {max(values)}" in html
    assert "Position (Y)" in html and "&quot;size&quot;: 80" in html
    assert "Position (Z)" in html and "&quot;size&quot;: 400" in html
    assert str(values[5000]) not in html
    assert len(html) < 50_000


def test_input_and_logfiles_pages_show_payloads_decoded(admin_client, submit):
    simulation, _ = submit()
    logfiles_store(simulation=simulation, logfiles={"stderr": "boom\nat line 2"})

    input_html = admin_client.get(change_url(Input.objects.get())).content.decode()
    logs_html = admin_client.get(change_url(Logfiles.objects.get())).content.decode()

    assert "&quot;numberOfParticles&quot;: 1000" in input_html
    assert "boom\nat line 2" in logs_html and "stderr" in logs_html


def test_simulation_of_a_keycloak_user_links_to_the_user(admin_client, submit):
    owner = KeycloakUserFactory()
    simulation, _ = submit(owner=owner)

    html = admin_client.get(change_url(simulation)).content.decode()

    assert reverse("admin:accounts_user_change", args=[owner.pk]) in html or (
        reverse("admin:accounts_keycloakuser_change", args=[owner.pk]) in html
    )


@pytest.mark.parametrize("model_name", ["task", "input", "estimator", "page", "logfiles"])
def test_other_lists_take_the_same_number_of_queries_for_few_or_many_rows(
    admin_client, submit, model_name, django_assert_num_queries
):
    url = reverse(f"admin:simulations_{model_name}_changelist")

    def add_simulations(count):
        for _ in range(count):
            simulation, _ = submit(ntasks=3, primaries=30)
            results_store(
                simulation=simulation,
                estimators=[estimator_json(f"e{n}_", [page_json(p, [1.0, 2.0]) for p in range(3)]) for n in range(2)],
            )
            logfiles_store(simulation=simulation, logfiles={"a.log": "x"})

    add_simulations(1)
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    add_simulations(6)

    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_client.get(url)

    assert response.status_code == 200
