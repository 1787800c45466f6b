"""Submitting dummy jobs over the HTTP API and reading what the workers left, for the pipeline tests."""

import numpy as np
from django_celery_results.models import TaskResult

from simulations.models import CeleryTask
from tests.factories import editor_project
from tests.workers import wait_for
from yaptide_site.celery import app


def submit_dummy(client, *, ntasks: int, primaries: int = 30_000, dummy: dict | None = None, **project) -> str:
    """POSTs a dummy EDITOR simulation and returns its job_id."""
    input_json = editor_project(primaries=primaries, **project)
    if dummy is not None:
        input_json["dummy"] = dummy
    body = {"sim_type": "dummy", "ntasks": ntasks, "input_type": "editor", "input_json": input_json}
    response = client.post("/api/simulations/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["job_id"]


def detail(client, job_id: str) -> dict:
    response = client.get(f"/api/simulations/{job_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def wait_until(client, job_id: str, condition, *, timeout: float = 60, what: str = "") -> dict:
    """Polls the job's detail until `condition(detail)` holds; returns that detail."""
    return wait_for(
        lambda: (body := detail(client, job_id)) and condition(body) and body,
        timeout=timeout,
        what=what or f"condition on {job_id}",
    )


def wait_for_state(client, job_id: str, *states: str, timeout: float = 60) -> dict:
    return wait_until(client, job_id, lambda body: body["job_state"] in states, timeout=timeout, what=f"{states}")


def task_states(body: dict) -> dict[int, str]:
    return {task["task_id"]: task["task_state"] for task in body["tasks"]}


def results(client, job_id: str) -> list[dict]:
    response = client.get(f"/api/simulations/{job_id}/results/")
    assert response.status_code == 200, response.content
    return response.json()["estimators"]


def logfiles(client, job_id: str) -> dict[str, str]:
    response = client.get(f"/api/simulations/{job_id}/logfiles/")
    assert response.status_code == 200, response.content
    return response.json()["logfiles"]


def task_result(job_id: str, task_id: int) -> tuple[list[dict], int] | None:
    """A task's estimators as the worker stored them in the result backend, with its simulated primaries."""
    task = CeleryTask.objects.get(simulation__job_id=job_id, task_id=task_id)
    row = TaskResult.objects.filter(task_id=task.celery_id, status="SUCCESS").first()
    if row is None or not row.result:
        return None
    return app.backend.decode_content(row, row.result), task.simulated_primaries


def weighted_average(parts: list[tuple[list[dict], int]]) -> dict[tuple[str, int], np.ndarray]:
    """Each page's values averaged over tasks, weighted by simulated primaries: {(estimator, page): values}."""
    sums: dict[tuple[str, int], np.ndarray] = {}
    total = sum(primaries for _, primaries in parts)
    for estimators, primaries in parts:
        for estimator in estimators:
            for page in estimator["pages"]:
                key = (estimator["name"], int(page["metadata"]["page_number"]))
                sums[key] = sums.get(key, 0) + np.asarray(page["data"]["values"]) * primaries
    return {key: value / total for key, value in sums.items()}


def page_values(estimators: list[dict]) -> dict[tuple[str, int], np.ndarray]:
    return {
        (estimator["name"], int(page["metadata"]["page_number"])): np.asarray(page["data"]["values"])
        for estimator in estimators
        for page in estimator["pages"]
    }


def assert_merged(merged: list[dict], parts: list[tuple[list[dict], int]]) -> None:
    expected = weighted_average(parts)
    actual = page_values(merged)
    assert actual.keys() == expected.keys()
    for key, values in expected.items():
        np.testing.assert_allclose(actual[key], values, rtol=1e-12, err_msg=str(key))
