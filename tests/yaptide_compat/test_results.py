"""The old input, estimators, results and logfiles routes: the input as submitted, estimators in editor order."""

import json
from pathlib import Path

import pytest
import zstandard
from rest_framework_simplejwt.tokens import AccessToken

from simulations.choices import JobState
from simulations.models import Simulation
from simulations.services import logfiles_store, results_store

from ..factories import ClusterFactory, KeycloakUserFactory, editor_project, result_estimator


@pytest.fixture
def uploaded(submit):
    """A completed job with two outputs in editor order (dose_xy, then z_profile), uploaded the other way round."""
    simulation, _ = submit(input_json=editor_project(outputs=("dose_xy", "z_profile")))
    estimators = [
        result_estimator(file_name="z_profile_", pages=4, dimensions=1, bins=20),
        result_estimator(file_name="dose_xy_", pages=2, dimensions=2, bins=8),
    ]
    results_store(simulation=simulation, estimators=estimators)
    Simulation.objects.filter(pk=simulation.pk).update(job_state=JobState.COMPLETED)
    return simulation, {e["metadata"]["file_corename"]: e for e in estimators}


def test_inputs_wrap_the_input_as_submitted_hash_included(browser):
    project = {**editor_project(primaries=900), "hash": "0d5f2a17c3", "figureManager": {"figures": []}}
    job_id = browser.post(
        "/jobs/direct",
        {"input_json": project, "input_type": "editor", "ntasks": 3, "sim_type": "dummy"},
        content_type="application/json",
    ).json()["job_id"]

    response = browser.get(f"/inputs?job_id={job_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Input of simulation"
    assert body["input"]["input_type"] == "EDITOR"
    assert body["input"]["input_json"] == project
    # key order too: the UI compares the hash of what it loads with the open project
    assert list(body["input"]["input_json"]) == list(project)
    assert body["input"]["number_of_all_primaries"] == 900
    assert isinstance(body["input"]["input_files"], dict)


def test_inputs_of_files_input_show_the_files(browser):
    files = {"beam.dat": "NSTAT 2000\n", "detect.dat": "", "geo.dat": "", "mat.dat": ""}
    job_id = browser.post(
        "/jobs/direct",
        {"input_files": files, "input_type": "files", "ntasks": 1, "sim_type": "dummy"},
        content_type="application/json",
    ).json()["job_id"]

    body = browser.get(f"/inputs?job_id={job_id}").json()

    assert body["input"]["input_type"] == "FILES"
    assert body["input"]["input_files"] == files
    assert "input_json" not in body["input"]


def test_estimators_listing_is_in_editor_order_with_editor_names(browser, uploaded):
    simulation, _ = uploaded

    response = browser.get(f"/estimators?job_id={simulation.job_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Estimators metadata"
    assert [e["name"] for e in body["estimators_metadata"]] == ["dose_xy", "z_profile"]
    assert body["estimators_metadata"][0]["pages_metadata"] == [
        {"page_number": 0, "page_name": "DOSE", "page_dimension": 2},
        {"page_number": 1, "page_name": "DOSE", "page_dimension": 2},
    ]
    assert [p["page_number"] for p in body["estimators_metadata"][1]["pages_metadata"]] == [0, 1, 2, 3]


def test_no_results_yet_are_the_old_404s(browser, submit):
    simulation, _ = submit()
    estimators = browser.get(f"/estimators?job_id={simulation.job_id}")
    assert (estimators.status_code, estimators.json()) == (404, {"message": "Pages metadata not found"})
    results = browser.get(f"/results?job_id={simulation.job_id}")
    assert (results.status_code, results.json()) == (404, {"message": "Results are unavailable"})


def test_all_results_are_in_editor_order(browser, uploaded):
    simulation, sent = uploaded

    response = browser.get(f"/results?job_id={simulation.job_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == f"Results for simulation: {simulation.job_id}"
    assert [e["name"] for e in body["estimators"]] == ["dose_xy", "z_profile"]
    assert body["estimators"][1]["metadata"] == sent["z_profile_"]["metadata"]
    assert body["estimators"][1]["pages"] == sent["z_profile_"]["pages"]


def test_one_estimator_by_name(browser, uploaded):
    simulation, sent = uploaded

    body = browser.get(f"/results?job_id={simulation.job_id}&estimator_name=z_profile").json()

    assert body["message"]
    assert body["name"] == "z_profile"
    assert body["metadata"] == sent["z_profile_"]["metadata"]
    assert body["pages"] == sent["z_profile_"]["pages"]


def test_page_ranges_give_pages_sorted(browser, uploaded):
    simulation, sent = uploaded

    response = browser.get(f"/results?job_id={simulation.job_id}&estimator_name=z_profile&page_numbers=3,0-1")

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Pages retrieved successfully"
    assert [page["metadata"]["page_number"] for page in body["pages"]] == ["0", "1", "3"]
    assert body["pages"][2] == sent["z_profile_"]["pages"][3]


def test_one_page_by_number(browser, uploaded):
    simulation, sent = uploaded
    body = browser.get(f"/results?job_id={simulation.job_id}&estimator_name=dose_xy&page_number=1").json()
    assert body["page"] == sent["dose_xy_"]["pages"][1]


@pytest.mark.parametrize(
    "query, status",
    [
        ("estimator_name=nothing&page_numbers=0", 404),  # yaptide: 500
        ("estimator_name=z_profile&page_numbers=7", 404),
        ("estimator_name=z_profile&page_numbers=two", 400),
        ("estimator_name=z_profile&page_number=1&page_numbers=0", 400),
        ("page_numbers=0", 400),
    ],
)
def test_bad_page_requests_are_4xx_with_a_message(browser, uploaded, query, status):
    simulation, _ = uploaded
    response = browser.get(f"/results?job_id={simulation.job_id}&{query}")
    assert response.status_code == status
    assert response.json()["message"]


def test_results_are_compressed_for_browsers_and_still_the_same_json(browser, uploaded):
    simulation, _ = uploaded
    url = f"/results?job_id={simulation.job_id}"
    plain = browser.get(url).json()
    zstd = browser.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate, br, zstd")
    assert zstd["Content-Encoding"] == "zstd"
    decoder = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
    assert json.loads(decoder.decompress(zstd.content)) == plain


def test_logfiles(browser, submit):
    simulation, _ = submit()
    none = browser.get(f"/logfiles?job_id={simulation.job_id}")
    assert (none.status_code, none.json()) == (404, {"message": "Logfiles are unavailable"})

    logfiles_store(simulation=simulation, logfiles={"task_0/shieldhit.log": "boom"})
    body = browser.get(f"/logfiles?job_id={simulation.job_id}").json()
    assert body == {"message": "Logfiles", "logfiles": {"task_0/shieldhit.log": "boom"}}


def test_clusters_for_keycloak_users_only(browser, client, db):
    ClusterFactory(cluster_name="ares")
    refused = browser.get("/clusters")
    assert refused.status_code == 403 and refused.json()["message"]

    plg = KeycloakUserFactory()
    client.cookies["access_token"] = str(AccessToken.for_user(plg))
    body = client.get("/clusters").json()
    assert body == {"message": "Available clusters", "clusters": [{"cluster_name": "ares"}]}


def test_status_and_results_take_a_fixed_number_of_queries(browser, uploaded, django_assert_max_num_queries):
    simulation, _ = uploaded
    job = simulation.job_id
    for path in (
        f"/jobs/direct?job_id={job}",
        f"/inputs?job_id={job}",
        f"/estimators?job_id={job}",
        f"/results?job_id={job}",
        f"/results?job_id={job}&estimator_name=z_profile&page_numbers=0-3",
    ):
        with django_assert_max_num_queries(3):
            assert browser.get(path).status_code == 200, path


CONVERTER_DATA = Path(__file__).resolve().parent.parent / "simulations" / "converter_data"
FAKES = Path(__file__).resolve().parent.parent / "fakes"


@pytest.mark.parametrize(
    ("sim_type", "example", "files"),
    [
        ("shieldhit", "ui-ex1", ["beam.dat", "detect.dat", "geo.dat", "info.json", "mat.dat"]),
        ("fluka", "ui-ex6", ["fl_sim.inp", "info.json"]),
    ],
)
def test_ui_examples_submitted_as_the_ui_does_show_their_converted_files(browser, settings, sim_type, example, files):
    """The UI sends editor projects only (never dummy): the old routes take them as the native API does."""
    settings.SHIELDHIT_PATH = str(FAKES / "shieldhit")
    settings.FLUKA_PATH = str(FAKES / "rfluka")
    submitted = json.loads((CONVERTER_DATA / example / "project.json").read_text())
    body = {"input_json": submitted, "input_type": "editor", "ntasks": 2, "sim_type": sim_type, "title": example}

    response = browser.post("/jobs/direct", body, content_type="application/json")

    assert response.status_code == 202, response.content
    job = response.json()["job_id"]
    stored = browser.get(f"/inputs?job_id={job}").json()["input"]
    assert stored["input_json"] == submitted  # its hash too
    assert stored["input_json"]["hash"] == submitted["hash"]
    assert sorted(stored["input_files"]) == files
    status = browser.get(f"/jobs/direct?job_id={job}").json()
    assert [task["requested_primaries"] for task in status["job_tasks_status"]] == [
        stored["number_of_all_primaries"] // 2
    ] * 2
