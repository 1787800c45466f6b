"""Per-user limits and the dummy's bounds: no one user takes the service down (issue 14, point 12)."""

import random

import pytest

from accounts.models import UserLimits
from simulations.services import results_store, simulation_cancel

from ..factories import editor_project

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
