"""Per-user limits and the dummy's bounds: no one user takes the service down (issue 14, point 12)."""

import random

import pytest
from django.db.models.functions import Length

from accounts.models import UserLimits
from simulations import selectors
from simulations.models import Estimator, Input, Logfiles, Page, Simulation, SimulationCount
from simulations.services import logfiles_store, results_store, simulation_cancel, simulation_delete

from ..factories import editor_project, result_estimator

URL = "/api/simulations/"


def submit(client, *, ntasks=1, project=None):
    body = {"sim_type": "dummy", "ntasks": ntasks, "input_type": "editor", "input_json": project or editor_project()}
    return client.post(URL, body, format="json")


def test_unfinished_jobs_are_limited_per_user_with_a_429_naming_the_limit(api_client, other_client, settings):
    settings.QUOTA_UNFINISHED_JOBS = 2
    first = submit(api_client)
    assert submit(api_client).status_code == 201

    refused = submit(api_client)

    assert refused.status_code == 429
    assert "limit of 2 unfinished jobs" in refused.json()["message"]
    assert "unfinished_jobs" in refused.json()["errors"]
    assert submit(other_client).status_code == 201  # someone else's jobs do not count
    api_client.post(f"{URL}{first.json()['job_id']}/cancel/")
    assert submit(api_client).status_code == 201


def test_tasks_of_unfinished_jobs_are_limited(api_client, settings):
    settings.QUOTA_UNFINISHED_TASKS = 10
    assert submit(api_client, ntasks=6).status_code == 201

    refused = submit(api_client, ntasks=5)

    assert refused.status_code == 429
    assert "limit of 10 tasks" in refused.json()["message"]
    assert submit(api_client, ntasks=4).status_code == 201


def test_stored_bytes_are_limited_with_a_413(api_client, user, submit):
    UserLimits.objects.create(user=user, stored_megabytes=1)
    simulation, _ = submit()
    rng = random.Random(1)
    page = {
        "metadata": {"page_number": "0"},
        "dimensions": 1,
        "data": {"values": [rng.random() for _ in range(200_000)]},
    }
    results_store(simulation=simulation, estimators=[{"name": "big_", "metadata": {}, "pages": [page]}])
    simulation_cancel(simulation=simulation)

    refused = api_client.post(
        URL, {"sim_type": "dummy", "ntasks": 1, "input_type": "editor", "input_json": editor_project()}, format="json"
    )

    assert refused.status_code == 413
    assert "limit of 1 MB stored" in refused.json()["message"]


def test_a_users_own_limits_raise_the_site_default(api_client, user, settings):
    settings.QUOTA_UNFINISHED_JOBS = 1
    UserLimits.objects.create(user=user, unfinished_jobs=3)
    assert [submit(api_client).status_code for _ in range(4)] == [201, 201, 201, 429]


# --- the dummy's knobs ----------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [10**6, -1, "600", [1, 10**9], 1e308])
def test_the_dummy_run_time_is_bounded(api_client, seconds):
    project = editor_project()
    project["dummy"] = {"seconds": seconds}

    response = submit(api_client, project=project)

    assert response.status_code == 400, response.content
    assert "DUMMY_MAX_SECONDS" in response.json()["message"]
    assert "input_json" in response.json()["errors"]


@pytest.mark.parametrize("segments", [2_000_000, "2e6", 1e300])
def test_the_dummy_mesh_size_is_bounded(api_client, segments):
    project = editor_project()
    project["detectorManager"]["detectors"][0]["geometryData"]["parameters"]["zSegments"] = segments

    response = submit(api_client, project=project)

    assert response.status_code == 400, response.content
    assert "DUMMY_MAX_BINS" in response.json()["message"]


def test_the_dummy_mesh_size_is_bounded_for_files_input_too(api_client):
    beam = "RNDSEED 89736501\nJPART0 2\nTMAX0 150.0 0.0\nNSTAT 900 0\n"
    detect = "Geometry Mesh\n    Name MyMesh\n    X -5 5 1000\n    Y -5 5 1000\n    Z 0 20 100\nOutput\n"
    detect += "    Filename mesh.bdo\n    Geo MyMesh\n    Quantity Dose\n"
    body = {
        "sim_type": "dummy",
        "ntasks": 1,
        "input_type": "files",
        "input_files": {"beam.dat": beam, "detect.dat": detect},
    }

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 400, response.content
    assert "DUMMY_MAX_BINS" in response.json()["message"]
    assert "input_files" in response.json()["errors"]


# --- the stored bytes, kept by the database --------------------------------------------------------


def _stored_now(simulations) -> dict[int, int]:
    """Each simulation's stored bytes, added up afresh from its payloads."""
    sizes = {simulation.pk: 0 for simulation in simulations}
    for model, owner in ((Input, "simulation_id"), (Estimator, "simulation_id"), (Logfiles, "simulation_id"),
                         (Page, "estimator__simulation_id")):  # fmt: skip
        for pk, size in model.objects.filter(**{f"{owner}__in": sizes}).values_list(owner, Length("compressed_data")):
            sizes[pk] += size or 0
    return sizes


def _kept(user) -> int:
    return sum(SimulationCount.objects.filter(user=user).values_list("stored_bytes", flat=True))


def test_the_stored_bytes_follow_every_write_and_delete_of_a_users_payloads(submit, user, other_user):
    made = [submit()[0] for _ in range(5)]
    theirs, _ = submit(owner=other_user)
    for simulation in [*made, theirs]:
        results_store(simulation=simulation, estimators=[result_estimator(pages=3)])
    results_store(simulation=made[0], estimators=[result_estimator(pages=4, bins=500)])  # pages replaced, one added
    logfiles_store(simulation=made[1], logfiles={"run.log": "x" * 5000})
    stale = Simulation.objects.get(pk=made[1].pk)
    logfiles_store(simulation=made[1], logfiles={"run.log": "y" * 9000, "more.log": "z"})
    stale.title = "renamed"
    stale.save()  # a loaded row saved again keeps the figure the database keeps
    simulation_cancel(simulation=made[2])
    Page.objects.filter(estimator__simulation=made[3], page_number=0).delete()
    simulation_delete(simulation=made[2])
    Simulation.objects.filter(pk=made[4].pk).delete()
    left = [made[0], made[1], made[3]]

    kept = dict(Simulation.objects.filter(user=user).values_list("pk", "stored_bytes"))

    assert kept == _stored_now(left)
    assert _kept(user) == sum(kept.values()) == selectors.user_usage(user_id=user.pk)["stored_bytes"]
    assert kept[made[0].pk] > kept[made[3].pk] > 0
    assert _kept(other_user) == _stored_now([theirs])[theirs.pk]
