"""The dummy simulator: its model, its reading of editor and SHIELD-HIT12A inputs, progress, cancel and failure."""

import numpy as np
import pytest

from simulations.simulators import get_simulator
from simulations.simulators.base import SimulationCanceled, SimulatorFailed, TaskRun
from simulations.simulators.dummy import Beam, depth_dose
from tests.factories import editor_project

DETECT_DAT = """\
Geometry Cyl
    Name CylZ_Mesh
    R 0 5 1
    Z 0 20 400

Geometry Mesh
    Name YZ_Mesh
    X -0.25 0.25 1
    Y -2 2 80
    Z 0 20 400

Geometry Cyl
    Name EntrySlab
    R 0 5 1
    Z 0 0.1 1

Filter
    Name Protons
    Z == 1
    A == 1

Output
    Filename z_profile.bdo
    Geo CylZ_Mesh
    Quantity DoseGy
    Quantity Fluence Protons

Output
    Filename yz_profile.bdo
    Geo YZ_Mesh
    Quantity DoseGy

Output
    Filename entrance.bdo
    Geo EntrySlab
    Quantity AvgEnergy Protons
"""
BEAM_DAT = "JPART0 2 ! proton\nTMAX0 150.0 1.5\nNSTAT 1000 0\nBEAMPOS 0 0 0\n"


def run_dummy(input_data: dict, tmp_path, *, primaries: int = 1_000_000, seed: int = 1, task_id: int = 0, **kwargs):
    progress = kwargs.pop("progress", lambda simulated, eta: None)
    should_stop = kwargs.pop("should_stop", lambda: False)
    run = TaskRun(input_data=input_data, primaries=primaries, seed=seed, workdir=tmp_path, task_id=task_id)
    return get_simulator("dummy").run(run, progress=progress, should_stop=should_stop)


def editor_input(project: dict) -> dict:
    return {"input_type": "EDITOR", "input_json": project, "input_files": {}}


def mesh_detector(x: int, y: int, z: int) -> dict:
    parameters = {"width": 4, "height": 4, "depth": 20, "xSegments": x, "ySegments": y, "zSegments": z}
    return {
        "name": "Mesh",
        "uuid": "det-1",
        "geometryData": {"geometryType": "Mesh", "position": [0, 0, 10], "parameters": parameters},
    }


@pytest.mark.parametrize("energy", [70, 150, 230])
def test_bragg_peak_sits_at_the_range_the_beam_energy_gives(energy):
    beam = Beam(energy=energy)
    depth = np.linspace(0, 40, 2000)
    dose = depth_dose(beam, depth)

    expected_range = 0.0022 * energy**1.77
    assert beam.range_cm == pytest.approx(expected_range)
    assert depth[dose.argmax()] == pytest.approx(expected_range, rel=0.05)
    assert dose.max() / dose[0] > 3
    assert dose[depth > expected_range * 1.1].max() < 0.01 * dose.max()


def test_one_d_depth_profile_of_an_editor_project_shows_the_peak(tmp_path, settings):
    settings.DUMMY_SECONDS_PER_MILLION = 0
    project = editor_project(primaries=1_000_000, energy=150)
    geometry = project["detectorManager"]["detectors"][0]["geometryData"]
    geometry["position"], geometry["parameters"]["depth"] = [0, 0, 15], 30

    [estimator] = run_dummy(editor_input(project), tmp_path)

    [page] = estimator["pages"]
    assert estimator["name"] == "z_profile" and estimator["metadata"]["file_corename"] == "z_profile_"
    assert page["dimensions"] == 1 and page["metadata"]["name"] == "Dose" and "axis_dim2" not in page
    depth, values = np.array(page["axis_dim1"]["values"]), np.array(page["data"]["values"])
    assert len(values) == len(depth) == 100
    assert depth[values.argmax()] == pytest.approx(Beam(150).range_cm, abs=0.6)
    assert values.max() / values[:5].mean() > 2


def test_page_dimension_follows_the_detectors_segments(tmp_path, settings):
    settings.DUMMY_SECONDS_PER_MILLION = 0
    shapes = {(1, 1, 1): (0, []), (1, 1, 50): (1, [50]), (1, 80, 400): (2, [80, 400]), (10, 1, 1): (1, [10])}
    for (x, y, z), (dimensions, axis_lengths) in shapes.items():
        project = editor_project(primaries=100_000)
        project["detectorManager"]["detectors"] = [mesh_detector(x, y, z)]

        [estimator] = run_dummy(editor_input(project), tmp_path)

        page = estimator["pages"][0]
        assert page["dimensions"] == dimensions, (x, y, z)
        assert [len(page[f"axis_dim{n + 1}"]["values"]) for n in range(dimensions)] == axis_lengths
        assert len(page["data"]["values"]) == max(int(np.prod(axis_lengths)), 1)


def test_one_estimator_per_output_and_one_page_per_quantity_in_editor_order(tmp_path, settings):
    settings.DUMMY_SECONDS_PER_MILLION = 0
    project = editor_project(primaries=10_000, outputs=("second", "first"))
    project["scoringManager"]["outputs"][0]["quantities"].append({"name": "Flu", "keyword": "Fluence"})

    estimators = run_dummy(editor_input(project), tmp_path)

    assert [e["name"] for e in estimators] == ["second", "first"]
    assert [p["metadata"]["name"] for p in estimators[0]["pages"]] == ["Dose", "Flu"]
    assert [p["metadata"]["page_number"] for p in estimators[0]["pages"]] == ["0", "1"]
    assert all(isinstance(value, str) for value in estimators[0]["metadata"].values())


def test_noise_shrinks_as_primaries_grow_and_the_seed_reproduces_it(tmp_path, settings):
    settings.DUMMY_SECONDS_PER_MILLION = 0

    def noise(primaries: int, seed: int) -> np.ndarray:
        [estimator] = run_dummy(
            editor_input(editor_project(primaries=primaries)), tmp_path, primaries=primaries, seed=seed
        )
        return np.array(estimator["pages"][0]["data"]["values"])

    entrance = depth_dose(Beam(150), np.arange(0.1, 10, 0.2))  # the first 50 bins, before the peak
    few, many = noise(10_000, 1)[:50] / entrance - 1, noise(10_000_000, 1)[:50] / entrance - 1
    assert np.std(many) < np.std(few) / 10
    assert np.array_equal(noise(10_000, 7), noise(10_000, 7))
    assert not np.array_equal(noise(10_000, 7), noise(10_000, 8))


def test_files_input_reads_shieldhit_geometry_and_output_blocks(tmp_path, settings):
    settings.DUMMY_SECONDS_PER_MILLION = 0
    input_data = {"input_type": "FILES", "input_files": {"beam.dat": BEAM_DAT, "detect.dat": DETECT_DAT}}

    estimators = run_dummy(input_data, tmp_path)

    assert [e["metadata"]["file_corename"] for e in estimators] == ["z_profile", "yz_profile", "entrance"]
    z_profile, yz_profile, entrance = estimators
    assert [(p["metadata"]["name"], p["dimensions"]) for p in z_profile["pages"]] == [
        ("DoseGy", 1),
        ("Fluence Protons", 1),
    ]
    assert len(z_profile["pages"][0]["data"]["values"]) == 400
    assert z_profile["metadata"]["geo_name"] == "CylZ_Mesh"
    mesh_page = yz_profile["pages"][0]
    assert mesh_page["dimensions"] == 2 and len(mesh_page["data"]["values"]) == 80 * 400
    assert (len(mesh_page["axis_dim1"]["values"]), len(mesh_page["axis_dim2"]["values"])) == (80, 400)
    assert entrance["pages"][0]["dimensions"] == 0 and len(entrance["pages"][0]["data"]["values"]) == 1
    depth = np.array(z_profile["pages"][0]["axis_dim1"]["values"])
    dose = np.array(z_profile["pages"][0]["data"]["values"])
    assert depth[dose.argmax()] == pytest.approx(Beam(150).range_cm, abs=0.5)


def test_reports_progress_while_it_runs(tmp_path):
    reports = []
    project = editor_project(primaries=1000)
    project["dummy"] = {"seconds": 2.5}

    run_dummy(editor_input(project), tmp_path, primaries=1000, progress=lambda n, eta: reports.append((n, eta)))

    assert len(reports) >= 3
    primaries = [n for n, _ in reports]
    assert primaries == sorted(primaries) and 0 < primaries[1] < 1000 and primaries[-1] == 1000
    assert reports[1][1] > 0 and reports[-1][1] == 0


def test_stops_when_told_to(tmp_path):
    project = editor_project(primaries=1000)
    project["dummy"] = {"seconds": 60}
    calls = []

    with pytest.raises(SimulationCanceled):
        run_dummy(editor_input(project), tmp_path, should_stop=lambda: calls.append(1) or len(calls) > 3)


def test_fails_on_request_for_the_named_task_with_a_log(tmp_path):
    project = editor_project(primaries=1000)
    project["dummy"] = {"seconds": 0, "fail_tasks": [1]}

    with pytest.raises(SimulatorFailed) as failed:
        run_dummy(editor_input(project), tmp_path, task_id=1)

    assert "failed on request" in failed.value.logs["dummy.log"]
    assert run_dummy(editor_input(project), tmp_path, task_id=0)


def test_is_always_available():
    assert get_simulator("dummy").check_available() is None
