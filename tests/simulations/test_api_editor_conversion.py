"""Submitting an editor project on a real simulator converts it at submit time, per task; bad projects are 400s."""

import json
from pathlib import Path

import pytest

from simulations.models import Simulation

from .converter_compare import differences

URL = "/api/simulations/"
DATA = Path(__file__).resolve().parent / "converter_data"
FAKES = Path(__file__).resolve().parent.parent / "fakes"


def project(name: str) -> dict:
    return json.loads((DATA / name / "project.json").read_text())


@pytest.fixture(autouse=True)
def fake_executables(settings):
    settings.SHIELDHIT_PATH = str(FAKES / "shieldhit")
    settings.FLUKA_PATH = str(FAKES / "rfluka")
    settings.TOPAS_PATH = str(FAKES / "topas")


def test_a_shieldhit_editor_project_is_stored_as_submitted_with_its_per_task_files(api_client):
    submitted = project("ui-ex1")
    body = {"sim_type": "shieldhit", "ntasks": 15, "input_type": "editor", "input_json": submitted}

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 201, response.json()
    job_id = response.json()["job_id"]
    stored = api_client.get(f"{URL}{job_id}/input/").json()
    assert stored["input_json"] == submitted
    assert stored["number_of_all_primaries"] == 10000
    assert sorted(stored["input_files"]) == ["beam.dat", "detect.dat", "geo.dat", "info.json", "mat.dat"]
    for name, text in stored["input_files"].items():
        expected = (DATA / "ui-ex1" / "yaptide_files" / name).read_text()
        assert differences(name, expected, text, user_zones=2) == []
    assert {task["requested_primaries"] for task in response.json()["tasks"]} == {666}


CONVERTED = [("fluka", "ui-ex6", "fl_sim.inp"), ("topas", "conv-topas-project", "topas_config.txt")]


@pytest.mark.parametrize(("sim_type", "name", "main_file"), CONVERTED)
def test_fluka_and_topas_editor_projects_are_converted_at_submit_time(api_client, sim_type, name, main_file):
    body = {"sim_type": sim_type, "ntasks": 4, "input_type": "EDITOR", "input_json": project(name)}

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 201, response.json()
    files = api_client.get(f"{URL}{response.json()['job_id']}/input/").json()["input_files"]
    assert sorted(files) == sorted([main_file, "info.json"])
    assert ("START        25000.0" if sim_type == "fluka" else "NumberOfHistoriesInRun = 2500") in files[main_file]


def _broken(change) -> dict:
    broken = project("ui-ex1")
    change(broken)
    return broken


BAD_PROJECTS = [
    ("no beam", lambda p: p.pop("beam"), "input_json.beam.numberOfParticles is missing"),
    (
        "unknown material",
        lambda p: p["zoneManager"]["zones"][0].update(materialUuid="nowhere"),
        "input_json.zoneManager.zones[0].materialUuid: material 'nowhere' is not in materialManager.materials",
    ),
    (
        "unsupported quantity",
        lambda p: p["scoringManager"]["outputs"][0]["quantities"][0].update(keyword="Happiness"),
        "input_json.scoringManager.outputs[0].quantities[0].keyword: "
        "quantity 'Happiness' is not a SHIELD-HIT12A scorer",
    ),
    (
        "unsupported figure",
        lambda p: p["figureManager"]["figures"][0]["geometryData"].update(geometryType="TorusGeometry"),
        "input_json.figureManager.figures[0].geometryData.geometryType: figure type 'TorusGeometry' is not supported",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), BAD_PROJECTS, ids=[case[0] for case in BAD_PROJECTS])
def test_a_project_the_converter_cannot_express_is_a_400_and_creates_nothing(api_client, case, change, message):
    body = {"sim_type": "shieldhit", "ntasks": 2, "input_type": "editor", "input_json": _broken(change)}

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["message"] == message
    assert Simulation.objects.count() == 0


def test_fluka_refuses_a_filter_it_cannot_apply_with_a_400(api_client):
    body = {"sim_type": "fluka", "ntasks": 1, "input_type": "editor", "input_json": project("ui-ex1")}

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 400
    assert "filter 'Primaries' cannot be applied in FLUKA" in response.json()["message"]


def test_the_dummy_simulator_still_runs_editor_projects_without_files(api_client):
    body = {"sim_type": "dummy", "ntasks": 2, "input_type": "editor", "input_json": project("ui-ex1")}

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 201
    assert api_client.get(f"{URL}{response.json()['job_id']}/input/").json()["input_files"] == {}
