"""Another user's simulation is a 404 on every endpoint that takes a job_id (derived from the OpenAPI schema)."""

import re

import pytest
from django.test import Client

from simulations.choices import JobState
from simulations.models import Simulation
from simulations.services import logfiles_store, results_store

from .factories import editor_project, result_estimator

METHODS = ("get", "post", "put", "patch", "delete")
# How each path parameter is filled in; a path parameter missing here fails the coverage test.
PATH_VALUES = {"job_id": None, "name": "z_profile"}


@pytest.fixture(scope="module")
def job_id_operations(django_db_blocker):
    """(method, path) of every owner endpoint that takes a job_id, read from the schema."""
    with django_db_blocker.unblock():
        schema = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    return [
        (method, path)
        for path, item in schema["paths"].items()
        if "{job_id}" in path and not path.startswith("/api/worker/")
        for method in METHODS
        if method in item
    ]


@pytest.fixture
def owned(submit, user):
    """A running job of `user` with input, logfiles and results."""
    simulation, _ = submit(title="secret beam", input_json=editor_project(outputs=("z_profile",)))
    results_store(simulation=simulation, estimators=[result_estimator(file_name="z_profile_", pages=2)])
    logfiles_store(simulation=simulation, logfiles={"run.log": "private"})
    Simulation.objects.filter(pk=simulation.pk).update(job_state=JobState.RUNNING)
    return simulation


def _url(path: str, job_id: str) -> str:
    values = {**PATH_VALUES, "job_id": job_id}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def test_every_job_id_endpoint_is_covered(job_id_operations):
    assert len(job_id_operations) >= 8  # detail, delete, cancel, input, logfiles, estimators, estimator, results
    for method, path in job_id_operations:
        params = set(re.findall(r"\{(\w+)\}", path))
        assert params <= set(PATH_VALUES), f"{method.upper()} {path} takes {params - set(PATH_VALUES)}: add it here"


def test_owner_reaches_every_read_endpoint(job_id_operations, owned, api_client):
    for method, path in job_id_operations:
        if method == "get":
            response = api_client.get(_url(path, owned.job_id))
            assert response.status_code == 200, f"GET {path}: {response.status_code}"


def test_another_users_job_is_404_everywhere(job_id_operations, owned, other_client):
    for method, path in job_id_operations:
        response = getattr(other_client, method)(_url(path, owned.job_id), format="json")

        assert response.status_code == 404, f"{method.upper()} {path}: {response.status_code}"
        assert response["Content-Type"] == "application/json"
        assert "private" not in response.content.decode()
        assert "secret" not in response.content.decode()

    owned.refresh_from_db()
    assert owned.job_state == JobState.RUNNING


def test_lists_never_show_another_users_rows(owned, other_client, submit, other_user):
    mine, _ = submit(owner=other_user, title="mine")
    queries = [
        {},
        {"search": "secret"},
        {"job_state": "RUNNING,PENDING,COMPLETED,FAILED,CANCELED,UNKNOWN"},
        {"ordering": "end_time", "page_size": 100},
    ]
    for params in queries:
        items = other_client.get("/api/simulations/", params).json()["results"]
        assert owned.job_id not in {item["job_id"] for item in items}, params
    assert [item["job_id"] for item in other_client.get("/api/simulations/").json()["results"]] == [mine.job_id]
