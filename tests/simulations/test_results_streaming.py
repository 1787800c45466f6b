"""Whole-job results are streamed page by page, and a job's stored results are bounded (issue 14, point 11)."""

import gzip
import random

import orjson
import pytest
import zstandard
from rest_framework.test import APIClient

from simulations import http
from simulations.choices import JobState
from simulations.models import Simulation
from simulations.services import results_store

from ..factories import editor_project, result_estimator

URL = "/api/simulations/"


@pytest.fixture
def uploaded(submit):
    simulation, key = submit(input_json=editor_project(outputs=("dose_xy", "z_profile")))
    estimators = [
        result_estimator(file_name="z_profile_", pages=4, dimensions=1, bins=20),
        result_estimator(file_name="dose_xy_", pages=2, dimensions=2, bins=8),
        {"name": "empty_", "metadata": {"file_corename": "empty_"}, "pages": []},
    ]
    results_store(simulation=simulation, estimators=estimators)
    Simulation.objects.filter(pk=simulation.pk).update(job_state=JobState.COMPLETED)
    return simulation, key


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


DECODE = {
    "identity": lambda data: data,
    "gzip": gzip.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompressobj(read_across_frames=True).decompress(data),
}


@pytest.mark.parametrize("encoding", ["identity", "gzip", "zstd"])
def test_whole_results_above_the_threshold_are_streamed_with_the_same_bytes(api_client, uploaded, settings, encoding):
    simulation, _ = uploaded
    url = f"{URL}{simulation.job_id}/results/"
    whole = api_client.get(url, HTTP_ACCEPT_ENCODING=encoding)
    assert not whole.streaming

    settings.RESULTS_STREAM_ABOVE_BYTES = 1
    http._gzip_cache.clear()  # the small body was kept; a large one is never kept, it is streamed
    streamed = api_client.get(url, HTTP_ACCEPT_ENCODING=encoding)

    assert streamed.status_code == 200
    assert streamed.streaming
    assert streamed.get("Content-Encoding", "identity") == whole.get("Content-Encoding", "identity")
    body = DECODE[encoding](_body(streamed))
    assert body == DECODE[encoding](whole.content)
    assert streamed["ETag"] == whole["ETag"]
    assert [e["name"] for e in orjson.loads(body)["estimators"]] == [
        "dose_xy",
        "z_profile",
        "empty_",
    ]


def test_streamed_results_take_the_same_fixed_number_of_queries(
    api_client, uploaded, settings, django_assert_num_queries
):
    simulation, _ = uploaded
    settings.RESULTS_STREAM_ABOVE_BYTES = 1
    with django_assert_num_queries(3):
        response = api_client.get(f"{URL}{simulation.job_id}/results/")
        _body(response)


def test_a_job_without_results_streams_an_empty_list(api_client, submit, settings):
    simulation, _ = submit()
    settings.RESULTS_STREAM_ABOVE_BYTES = 0
    response = api_client.get(f"{URL}{simulation.job_id}/results/")
    assert orjson.loads(_body(response)) == {"estimators": []}


def _random_estimator(name: str, values: int) -> dict:
    rng = random.Random(name)
    page = {
        "metadata": {"page_number": "0"},
        "dimensions": 1,
        "data": {"values": [rng.random() for _ in range(values)]},
    }
    return {"name": name, "metadata": {"file_corename": name}, "pages": [page]}


def test_a_jobs_results_are_bounded_with_a_413_naming_the_limit(submit, settings):
    settings.MAX_JOB_RESULTS_MEGABYTES = 1
    simulation, key = submit()
    worker = APIClient()

    def upload(*estimators):
        return worker.post(
            f"/api/worker/simulations/{simulation.job_id}/results/",
            {"estimators": list(estimators)},
            format="json",
            HTTP_X_UPDATE_KEY=key,
        )

    first = _random_estimator("a_", 60_000)  # about 0.5 MB stored
    assert upload(first).status_code == 200
    assert upload(first).status_code == 200  # sent again: replaces, does not add up

    refused = upload(_random_estimator("b_", 90_000))

    assert refused.status_code == 413
    assert "MAX_JOB_RESULTS_MEGABYTES" in refused.json()["message"]
    assert "estimators" in refused.json()["errors"]
