"""Reading input, logfiles and results: shapes, page selection, ETags, compression and query counts."""

import gzip

import pytest
import zstandard

from simulations.choices import JobState
from simulations.models import Simulation
from simulations.services import logfiles_store, results_store

from ..factories import editor_project, result_estimator

URL = "/api/simulations/"


@pytest.fixture
def uploaded(submit):
    """A completed job with two estimators (editor order: dose_xy, then z_profile) and their pages."""
    simulation, _ = submit(input_json=editor_project(outputs=("dose_xy", "z_profile")))
    estimators = [
        result_estimator(file_name="z_profile_", pages=4, dimensions=1, bins=20),
        result_estimator(file_name="dose_xy_", pages=2, dimensions=2, bins=8),
    ]
    results_store(simulation=simulation, estimators=estimators)
    Simulation.objects.filter(pk=simulation.pk).update(job_state=JobState.COMPLETED)
    simulation.refresh_from_db()
    return simulation, {e["metadata"]["file_corename"]: e for e in estimators}


def test_input_is_the_stored_submission(api_client, submit):
    simulation, _ = submit(primaries=500)
    response = api_client.get(f"{URL}{simulation.job_id}/input/")
    assert response.status_code == 200
    body = response.json()
    assert body["input_type"] == "EDITOR"
    assert body["number_of_all_primaries"] == 500
    assert body["input_json"] == editor_project(primaries=500)


def test_logfiles_are_empty_until_a_worker_sends_them(api_client, submit):
    simulation, _ = submit()
    assert api_client.get(f"{URL}{simulation.job_id}/logfiles/").json() == {"logfiles": {}}
    logfiles_store(simulation=simulation, logfiles={"run.log": "NSTAT reached"})
    assert api_client.get(f"{URL}{simulation.job_id}/logfiles/").json() == {"logfiles": {"run.log": "NSTAT reached"}}


def test_estimators_listing_names_pages_in_editor_order(api_client, uploaded):
    simulation, _ = uploaded

    response = api_client.get(f"{URL}{simulation.job_id}/estimators/")

    assert response.status_code == 200
    listing = response.json()["estimators"]
    assert [(e["name"], e["file_name"]) for e in listing] == [("dose_xy", "dose_xy_"), ("z_profile", "z_profile_")]
    assert listing[0]["pages"] == [
        {"page_number": 0, "page_name": "DOSE", "page_dimension": 2},
        {"page_number": 1, "page_name": "DOSE", "page_dimension": 2},
    ]
    assert [p["page_number"] for p in listing[1]["pages"]] == [0, 1, 2, 3]


def test_one_estimator_with_all_pages_is_what_the_worker_sent(api_client, uploaded):
    simulation, sent = uploaded

    response = api_client.get(f"{URL}{simulation.job_id}/estimators/z_profile/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "name": "z_profile",
        "file_name": "z_profile_",
        "metadata": sent["z_profile_"]["metadata"],
        "pages": sent["z_profile_"]["pages"],
    }


@pytest.mark.parametrize(
    "pages, expected",
    [
        ("0-1,3", [0, 1, 3]),
        ("2", [2]),
        ("3, 0-0", [0, 3]),
        ("1-99", [1, 2, 3]),
        ("3-1", [1, 2, 3]),  # high to low: the same pages (the schema's pattern allows it)
        ("\t1 -\t2 ", [1, 2]),
        ("0\n", [0]),
    ],
)
def test_one_estimator_with_selected_pages(api_client, uploaded, pages, expected):
    simulation, sent = uploaded

    response = api_client.get(f"{URL}{simulation.job_id}/estimators/z_profile_/", {"pages": pages})

    assert response.status_code == 200
    assert response.json()["pages"] == [sent["z_profile_"]["pages"][n] for n in expected]


@pytest.mark.parametrize(
    "pages", ["a", "1-", "-1", "1,,2", "1.5", "0x1", "", " ", "1\x0b", "1\u00a0", "١", "0" + ",0" * 100, "1234567890"]
)
def test_bad_page_selection_is_400(api_client, uploaded, pages):
    simulation, _ = uploaded
    response = api_client.get(f"{URL}{simulation.job_id}/estimators/z_profile/", {"pages": pages})
    assert response.status_code == 400
    assert "pages" in response.json()["errors"]


def test_estimator_without_pages_reads_as_empty(api_client, submit):
    simulation, _ = submit()
    results_store(simulation=simulation, estimators=[{**result_estimator(file_name="empty_"), "pages": []}])
    response = api_client.get(f"{URL}{simulation.job_id}/estimators/empty_/")
    assert response.status_code == 200
    assert response.json()["pages"] == []
    assert api_client.get(f"{URL}{simulation.job_id}/estimators/empty_/?pages=0").status_code == 404


def test_missing_estimator_or_pages_are_404(api_client, uploaded):
    simulation, _ = uploaded
    assert api_client.get(f"{URL}{simulation.job_id}/estimators/nothing/").status_code == 404
    response = api_client.get(f"{URL}{simulation.job_id}/estimators/z_profile/", {"pages": "7-9"})
    assert response.status_code == 404
    assert "no page in 7-9" in response.json()["message"]


def test_all_results_in_editor_order(api_client, uploaded):
    simulation, sent = uploaded

    response = api_client.get(f"{URL}{simulation.job_id}/results/")

    assert response.status_code == 200
    estimators = response.json()["estimators"]
    assert [e["name"] for e in estimators] == ["dose_xy", "z_profile"]
    assert estimators[0]["pages"] == sent["dose_xy_"]["pages"]
    assert estimators[1]["metadata"] == sent["z_profile_"]["metadata"]


def test_results_of_a_job_without_results_are_empty(api_client, submit):
    simulation, _ = submit()
    assert api_client.get(f"{URL}{simulation.job_id}/results/").json() == {"estimators": []}


def test_completed_results_answer_a_conditional_request_with_304(api_client, uploaded):
    simulation, _ = uploaded
    url = f"{URL}{simulation.job_id}/estimators/z_profile/?pages=0"
    first = api_client.get(url)
    etag = first["ETag"]

    again = api_client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert again.status_code == 304
    assert again["ETag"] == etag
    assert again.content == b""
    assert (
        api_client.get(f"{URL}{simulation.job_id}/estimators/z_profile/?pages=1", HTTP_IF_NONE_MATCH=etag).status_code
        == 200
    )
    all_etag = api_client.get(f"{URL}{simulation.job_id}/results/")["ETag"]
    assert all_etag != etag
    assert api_client.get(f"{URL}{simulation.job_id}/results/", HTTP_IF_NONE_MATCH=all_etag).status_code == 304


def test_a_new_upload_changes_the_etag(api_client, uploaded):
    simulation, sent = uploaded
    url = f"{URL}{simulation.job_id}/results/"
    etag = api_client.get(url)["ETag"]

    results_store(simulation=simulation, estimators=[sent["z_profile_"]])

    response = api_client.get(url, HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_unfinished_results_have_no_etag(api_client, submit):
    simulation, _ = submit()
    results_store(simulation=simulation, estimators=[result_estimator()])
    response = api_client.get(f"{URL}{simulation.job_id}/results/", HTTP_IF_NONE_MATCH="*")
    assert response.status_code == 200
    assert not response.has_header("ETag")


def test_results_are_gzipped_when_accepted(api_client, uploaded):
    simulation, _ = uploaded
    plain = api_client.get(f"{URL}{simulation.job_id}/results/")

    response = api_client.get(f"{URL}{simulation.job_id}/results/", HTTP_ACCEPT_ENCODING="gzip, deflate")

    assert response["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response["Vary"]
    assert gzip.decompress(response.content) == plain.content
    assert len(response.content) < len(plain.content)


def test_results_are_zstd_frames_when_accepted(api_client, uploaded):
    simulation, _ = uploaded
    plain = api_client.get(f"{URL}{simulation.job_id}/results/")

    response = api_client.get(f"{URL}{simulation.job_id}/results/", HTTP_ACCEPT_ENCODING="gzip;q=0.5, zstd")

    assert response["Content-Encoding"] == "zstd"
    decoder = zstandard.ZstdDecompressor().decompressobj(read_across_frames=True)
    assert decoder.decompress(response.content) == plain.content
    assert response["ETag"] != plain["ETag"]
    again = api_client.get(f"{URL}{simulation.job_id}/results/", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_refused_encodings_are_not_used(api_client, uploaded):
    simulation, _ = uploaded
    response = api_client.get(f"{URL}{simulation.job_id}/results/", HTTP_ACCEPT_ENCODING="zstd;q=0, gzip;q=0")
    assert not response.has_header("Content-Encoding")


@pytest.mark.parametrize(
    "path",
    ["estimators/z_profile/?pages=1", "estimators/dose_xy/", "results/", "estimators/", "input/", "logfiles/"],
)
def test_reads_use_a_fixed_number_of_queries(api_client, uploaded, path, django_assert_max_num_queries):
    simulation, _ = uploaded
    with django_assert_max_num_queries(3):  # user, simulation, payload rows
        response = api_client.get(f"{URL}{simulation.job_id}/{path}")
    assert response.status_code == 200


def test_results_read_query_count_does_not_grow_with_results(api_client, submit, django_assert_num_queries):
    small, _ = submit()
    big, _ = submit()
    results_store(simulation=small, estimators=[result_estimator(pages=1)])
    results_store(simulation=big, estimators=[result_estimator(file_name=f"e{n}_", pages=9) for n in range(6)])
    with django_assert_num_queries(3):
        api_client.get(f"{URL}{small.job_id}/results/")
    with django_assert_num_queries(3):
        api_client.get(f"{URL}{big.job_id}/results/")
    with django_assert_num_queries(3):
        api_client.get(f"{URL}{big.job_id}/estimators/e3_/?pages=0-4,8")
