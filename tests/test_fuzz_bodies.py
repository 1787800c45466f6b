"""Fuzzing the submit and results-upload bodies (hypothesis, fixed budget): whatever arrives, never a 5xx."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from .factories import editor_project, result_estimator

BUDGET = settings(
    max_examples=150, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)

NASTY_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "\x00", "inf", "-inf", "1e400", "NaN", "9" * 40, "a" * 300, "\u202eevil", "0x10", " 7 "]),
)
NASTY_NUMBER = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 2**31, 2**63, 2**64, 1e300, -1e300, 0.5]),
)
SCALAR = st.one_of(st.none(), st.booleans(), NASTY_NUMBER, NASTY_TEXT)
JSON = st.recursive(
    SCALAR,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(NASTY_TEXT, children, max_size=4)),
    max_leaves=12,
)


def _post(client, url: str, body, **extra):
    # The standard library writes what orjson will not (integers past 64 bits), as a hostile client could.
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.generic("POST", url, raw, content_type="application/json", **extra)


def _deep(levels: int) -> bytes:
    return b'{"a":' * levels + b"1" + b"}" * levels


def _assert_no_server_error(response):
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/json"
        assert response.json()["message"]


@st.composite
def submit_bodies(draw):
    body = {
        "sim_type": draw(st.one_of(st.just("dummy"), NASTY_TEXT)),
        "ntasks": draw(st.one_of(st.integers(min_value=1, max_value=3), NASTY_NUMBER, NASTY_TEXT)),
        "input_type": draw(st.sampled_from(["editor", "files", "EDITOR", "x"])),
    }
    project = editor_project()
    mutated = draw(st.sampled_from(["beam", "numberOfParticles", "segments", "dummy", "outputs", "files", "none"]))
    value = draw(JSON)
    if mutated == "beam":
        project["beam"] = value
    elif mutated == "numberOfParticles":
        project["beam"]["numberOfParticles"] = value
    elif mutated == "segments":
        project["detectorManager"]["detectors"][0]["geometryData"]["parameters"]["zSegments"] = value
    elif mutated == "dummy":
        project["dummy"] = {"seconds": value, "fail_tasks": draw(JSON)}
    elif mutated == "outputs":
        project["scoringManager"]["outputs"] = value
    body["input_json"] = project
    if mutated == "files":
        body["input_files"] = draw(st.dictionaries(NASTY_TEXT, NASTY_TEXT, max_size=3)) | {
            "beam.dat": f"NSTAT {draw(NASTY_TEXT)} 0\n"
        }
    if draw(st.booleans()):
        body[draw(st.sampled_from(["title", "platform", "batch_options", "input_files"]))] = value
    return body


def _submit_with(input_json: bytes) -> bytes:
    return b'{"sim_type": "dummy", "ntasks": 1, "input_type": "editor", "input_json": ' + input_json + b"}"


PROJECT = json.dumps(editor_project()).encode()


@pytest.mark.parametrize(
    "raw",
    [
        _deep(300),
        _deep(1100),
        b'{"sim_type": "dummy", "ntasks": 1e400}',
        b"[" * 5000,
        _submit_with(PROJECT[:-1] + b', "deep": ' + _deep(300) + b"}"),
        _submit_with(PROJECT.replace(b'"numberOfParticles": 1000', b'"numberOfParticles": 1e999')),
        _submit_with(PROJECT.replace(b'"numberOfParticles": 1000', b'"numberOfParticles": 99999999999999999999999')),
    ],
)
def test_pathological_submit_bodies_are_refused_cleanly(api_client, raw):
    _assert_no_server_error(_post(api_client, "/api/simulations/", raw))


@given(body=submit_bodies())
@BUDGET
def test_fuzzed_submit_bodies_never_cause_a_server_error(api_client, body):
    _assert_no_server_error(_post(api_client, "/api/simulations/", body))


@st.composite
def upload_bodies(draw):
    estimator = result_estimator(pages=1)
    page = estimator["pages"][0]
    target = draw(st.sampled_from(["name", "corename", "page_number", "page_name", "dimensions", "data", "pages"]))
    value = draw(JSON)
    if target == "name":
        estimator["name"] = value
    elif target == "corename":
        estimator["metadata"]["file_corename"] = value
    elif target == "page_number":
        page["metadata"]["page_number"] = value
    elif target == "page_name":
        page["metadata"]["name"] = value
    elif target == "dimensions":
        page["dimensions"] = value
    elif target == "data":
        page["data"] = value
    else:
        estimator["pages"] = value
    return {"estimators": draw(st.sampled_from([[estimator], [estimator, estimator], estimator, value]))}


@pytest.fixture
def worker_target(submit):
    simulation, key = submit()
    return f"/api/worker/simulations/{simulation.job_id}/results/", key


@given(body=upload_bodies())
@BUDGET
def test_fuzzed_results_uploads_never_cause_a_server_error(worker_target, body):
    url, key = worker_target
    _assert_no_server_error(_post(APIClient(), url, body, HTTP_X_UPDATE_KEY=key))


@given(body=st.one_of(JSON, st.dictionaries(st.sampled_from(["logfiles", "task_state", "collect_id"]), JSON)))
@BUDGET
def test_fuzzed_logfile_and_task_reports_never_cause_a_server_error(worker_target, body):
    url, key = worker_target
    for path in ("logfiles/", "tasks/0/", ""):
        target = url.replace("results/", path)
        _assert_no_server_error(_post(APIClient(), target, body, HTTP_X_UPDATE_KEY=key))
