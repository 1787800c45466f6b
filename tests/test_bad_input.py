"""Bad input is a 4xx JSON error naming the field, never a 500 (issue 14, point 6)."""

import orjson
import pytest

from .factories import editor_project

URL = "/api/simulations/"


def _nested(levels: int) -> dict:
    inner: dict = {"leaf": 1}
    for _ in range(levels):
        inner = {"child": inner}
    return inner


def _post_raw(client, url, body: bytes):
    return client.generic("POST", url, body, content_type="application/json")


@pytest.mark.parametrize("levels", [255, 600])
def test_input_json_nested_too_deep_is_400_naming_input_json(api_client, levels):
    project = editor_project()
    body = orjson.dumps({"sim_type": "dummy", "ntasks": 1, "input_type": "editor"})[:-1] + b',"input_json":'
    # orjson cannot write it either: splice the nesting in by hand.
    deep = b'{"child":' * levels + b"1" + b"}" * levels
    body += orjson.dumps(project)[:-1] + b',"deep2":' + deep + b"}}"

    response = _post_raw(api_client, URL, body)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "input_json" in response.json()["errors"]
    assert "nested deeper" in response.json()["message"]


def test_moderately_nested_input_is_fine(api_client):
    project = editor_project()
    project["deep"] = _nested(150)
    response = api_client.post(
        URL, {"sim_type": "dummy", "ntasks": 1, "input_type": "editor", "input_json": project}, format="json"
    )
    assert response.status_code == 201, response.content


# --- counts: numberOfParticles and NSTAT ----------------------------------------------------------


def _submit_editor(client, particles):
    project = editor_project()
    project["beam"]["numberOfParticles"] = particles
    return client.post(
        URL, {"sim_type": "dummy", "ntasks": 2, "input_type": "editor", "input_json": project}, format="json"
    )


@pytest.mark.parametrize("particles", ["inf", "-inf", "1e400", "nan", 1e300, 2**63, "9" * 40, True, [1], -5, 0])
def test_a_bad_number_of_particles_is_400_naming_input_json(api_client, particles):
    response = _submit_editor(api_client, particles)
    assert response.status_code == 400, response.content
    assert "numberOfParticles" in response.json()["message"]
    assert "input_json" in response.json()["errors"]


def test_an_exact_large_number_of_particles_is_kept_exactly(api_client):
    response = _submit_editor(api_client, str(2**53 - 1))
    assert response.status_code == 201, response.content
    assert response.json()["requested_primaries"] == 2**53 - 1 - (2**53 - 1) % 2


@pytest.mark.parametrize("nstat", ["99999999999999999999999", "1e400", "inf", "9223372036854775808"])
def test_a_huge_nstat_is_400_naming_input_files(api_client, nstat):
    beam = f"RNDSEED 89736501\nJPART0 2\nTMAX0 150.0 0.0\nNSTAT {nstat} 0\n"
    response = api_client.post(
        URL,
        {"sim_type": "dummy", "ntasks": 1, "input_type": "files", "input_files": {"beam.dat": beam}},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "input_files" in response.json()["errors"]


# --- results uploads: names and page numbers ------------------------------------------------------


def _upload(submit, estimators):
    from rest_framework.test import APIClient

    simulation, key = submit()
    return APIClient().post(
        f"/api/worker/simulations/{simulation.job_id}/results/",
        {"estimators": estimators},
        format="json",
        HTTP_X_UPDATE_KEY=key,
    )


def _estimator(name="z_profile_", page_name="DOSE", page_number="0"):
    page = {
        "metadata": {"page_number": page_number, "name": page_name},
        "dimensions": 1,
        "data": {"name": page_name, "values": [1.0]},
        "axis_dim1": {"name": "Z", "values": [0.5]},
    }
    return {"name": name, "metadata": {"file_corename": name}, "pages": [page]}


@pytest.mark.parametrize(
    "estimator",
    [
        _estimator(name="e" * 256),
        _estimator(page_name="p" * 256),
        _estimator(name="z\x00"),
        _estimator(page_name="DO\x00SE"),
        _estimator(page_number=str(2**31)),
        _estimator(page_number=2**63),
        _estimator(page_number="1e400"),
        {"name": "z", "metadata": {"file_corename": "f" * 300}, "pages": []},
    ],
)
def test_a_bad_name_or_page_number_in_a_results_upload_is_400_naming_estimators(submit, estimator):
    response = _upload(submit, [estimator])
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/json"
    assert "estimators" in response.json()["errors"]


def test_names_of_255_characters_and_the_largest_page_number_are_stored(submit):
    response = _upload(submit, [_estimator(name="e" * 255, page_name="p" * 255, page_number=str(2**31 - 1))])
    assert response.status_code == 200, response.content


# --- what the schema says (point 19) --------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "tasks/0/", "results/", "logfiles/"])
@pytest.mark.parametrize("method", ["TRACE", "GET", "PUT", "DELETE"])
def test_a_method_a_worker_endpoint_does_not_have_is_405_whatever_the_key(submit, path, method):
    from rest_framework.test import APIClient

    simulation, key = submit()
    for sent_key in (key, "wrong"):
        response = APIClient().generic(
            method, f"/api/worker/simulations/{simulation.job_id}/{path}", HTTP_X_UPDATE_KEY=sent_key
        )
        assert response.status_code == 405, (method, path, sent_key)


@pytest.mark.parametrize("field", ["collect_id", "array_id", "job_dir"])
def test_an_empty_batch_field_is_400_as_its_min_length_says(submit, field):
    from rest_framework.test import APIClient

    simulation, key = submit()
    response = APIClient().post(
        f"/api/worker/simulations/{simulation.job_id}/", {field: ""}, format="json", HTTP_X_UPDATE_KEY=key
    )
    assert response.status_code == 400
    assert field in response.json()["errors"]


@pytest.mark.parametrize("page_size", ["null", "", "1.5", "ten"])
def test_a_page_size_that_is_not_a_number_is_400(api_client, page_size):
    response = api_client.get(URL, {"page_size": page_size})
    assert response.status_code == 400
    assert "page_size" in response.json()["errors"]
