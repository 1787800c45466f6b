"""The editor-project converters: yaptide's examples and test projects, the physically right cards, bad projects."""

import copy
import json
from pathlib import Path

import pytest

from simulations.simulators.editor import editor_project_of, fluka, shieldhit, split_primaries, topas
from yaptide_site.errors import InvalidInput

from .converter_compare import differences

DATA = Path(__file__).resolve().parent / "converter_data"
CASES = sorted(path.name for path in DATA.iterdir() if (path / "case.json").exists())
CONVERTERS = {"shieldhit": shieldhit.convert, "fluka": fluka.convert, "topas": topas.convert}


def _case(name: str) -> tuple[dict, dict, dict[str, str]]:
    meta = json.loads((DATA / name / "case.json").read_text())
    project = json.loads((DATA / name / "project.json").read_text())
    if "refused" in meta:
        return meta, project, {}
    expected = {path.name: path.read_text() for path in (DATA / name / meta["expected"]).iterdir()}
    return meta, project, expected


def _example(name: str) -> dict:
    return json.loads((DATA / name / "project.json").read_text())


@pytest.mark.parametrize("name", CASES)
def test_every_example_and_test_project_converts_to_the_files_yaptide_makes(name):
    meta, project, expected = _case(name)
    if "refused" in meta:
        # A project yaptide's converter turns into a broken or incomplete file; this one says why not.
        with pytest.raises(InvalidInput) as refused:
            CONVERTERS[meta["sim_type"]](project)
        assert refused.value.message == meta["refused"]
        return
    files = CONVERTERS[meta["sim_type"]](split_primaries(project, meta["ntasks"]))
    user_zones = len(project["zoneManager"]["zones"])
    problems = []
    for file_name, text in expected.items():
        if file_name not in files:
            problems.append(f"{file_name} is missing")
            continue
        problems += differences(file_name, text, files[file_name], user_zones=user_zones)
    assert sorted(files) == sorted(expected)
    assert problems == []


def test_the_comparison_catches_a_changed_number_and_a_wrong_world_zone():
    _, project, expected = _case("ui-ex1")
    files = shieldhit.convert(split_primaries(project, 15))
    assert differences("beam.dat", expected["beam.dat"], files["beam.dat"].replace("150.0", "150.1"))
    geo = files["geo.dat"].replace("  003          +3     -1     -2", "  003          +3     -1")
    assert differences("geo.dat", expected["geo.dat"], geo, user_zones=2)
    # The bodies of an intersection may come in any order.
    geo = files["geo.dat"].replace("  003          +3     -1     -2", "  003          -2     +3     -1")
    assert differences("geo.dat", expected["geo.dat"], geo, user_zones=2) == []


def test_primaries_are_split_per_task_with_the_remainder_dropped_and_the_project_left_as_it_was():
    project = _example("ui-ex1")
    assert split_primaries(project, 15)["beam"]["numberOfParticles"] == 666
    assert split_primaries(project, 0)["beam"]["numberOfParticles"] == 10000
    assert split_primaries(project, 10**6)["beam"]["numberOfParticles"] == 1
    assert project["beam"]["numberOfParticles"] == 10000
    assert "NSTAT       666    0" in shieldhit.convert(split_primaries(project, 15))["beam.dat"]
    assert "START         6666.0" in fluka.convert(split_primaries(_example("ui-ex6"), 15))["fl_sim.inp"]


def test_a_saved_simulation_a_payload_and_a_bare_project_give_the_same_project():
    project = _example("ui-ex1")
    assert editor_project_of({"input": {"inputJson": project}, "jobId": "x"}) is project
    assert editor_project_of({"input_type": "EDITOR", "input_json": project}) is project
    assert editor_project_of(project) is project


# --- where yaptide's converter is physically wrong ------------------------------------------------


def _fluka_line(files: dict[str, str], codeword: str) -> str:
    return next(line for line in files["fl_sim.inp"].splitlines() if line.startswith(codeword))


def test_fluka_beam_direction_cosines_keep_their_signs():
    project = _example("ui-ex6")
    project["beam"]["direction"] = [-0.1, 0.2, -0.97]
    line = _fluka_line(fluka.convert(project), "BEAMPOS")
    # yaptide: WHAT(4) = cos(atan(z/x)) = 0.10254927 and WHAT(5) = cos(atan(sqrt(x^2 + z^2)/y)) = 0.20091626.
    assert line == "BEAMPOS          0.0       0.0      -5.5-0.10045810.20091626       0.0NEGATIVE"


def test_a_fluka_element_keeps_the_density_the_editor_gives_even_when_it_equals_its_atomic_number():
    project = _example("ui-ex6")
    project["materialManager"]["materials"][0].update(icru=1, name="HYDROGEN", density=1)
    files = fluka.convert(project)
    # yaptide compares 1 g/cm3 with the ICRU number 1 and writes "ASSIGNMA    HYDROGEN   region2",
    # FLUKA's hydrogen gas of 8.37e-5 g/cm3.
    assert "MATERIAL         1.0                 1.0                              MAT00001" in files["fl_sim.inp"]
    assert "LOW-MAT     MAT00001                                                  HYDROGEN" in files["fl_sim.inp"]
    assert "ASSIGNMA    MAT00001   region2" in files["fl_sim.inp"]


def test_a_fluka_gaussian_beam_gets_its_full_width_at_half_maximum():
    project = _example("ui-ex6")
    project["beam"]["sigma"] = {"type": "Gaussian", "x": 0.5, "y": 1}
    # yaptide: "BEAM           -0.07       0.0       0.0      -0.5      -1.0      -1.0PROTON"
    assert _fluka_line(fluka.convert(project), "BEAM ") == (
        "BEAM           -0.07       0.0       0.0  -1.17741  -2.35482      -1.0PROTON"
    )


def test_an_antiproton_filter_selects_charge_minus_one_and_mass_one_in_shieldhit():
    project = _example("ui-ex1")
    project["scoringManager"]["filters"][0] = {"uuid": "9d0bae09-9ebe-46fe-9e59-bd7888db9442", "name": "Antiprotons",
                                               "particle": {"id": 7, "name": "Anti-proton"}}  # fmt: skip
    detect = shieldhit.convert(project)["detect.dat"]
    # yaptide: "    A == 3"
    assert "Filter\n    Name Antiprotons\n    Z == -1\n    A == 1\n" in detect


def test_a_heavy_ion_energy_given_in_mev_is_written_per_nucleon():
    project = _example("ui-ex1")
    project["beam"].update(particle={"id": 25, "a": 12, "z": 6, "name": "Heavy ion"}, energy=3600, energyUnit="MeV")
    project["beam"]["energySpread"] = 36
    beam = shieldhit.convert(project)["beam.dat"]
    # yaptide (pinned revision) ignores energyUnit: "TMAX0      \t3600.0 36.0"
    assert "TMAX0      \t300.0 3.0 " in beam
    assert "HIPROJ     \t12 6 " in beam
    assert "TCUT0       0.0 83.33333333333333  " in beam


def test_an_electron_beam_is_refused_by_shieldhit_instead_of_written_as_particle_26():
    with pytest.raises(InvalidInput, match=r"beam\.particle\.id: particle 26 is not a SHIELD-HIT12A particle"):
        shieldhit.convert(_example("ui-ex7"))


def test_a_hollow_cylinder_is_refused_instead_of_written_solid():
    project = _example("ui-ex1")
    project["figureManager"]["figures"][1]["geometryData"]["parameters"]["innerRadius"] = 5
    for convert in (shieldhit.convert, fluka.convert):
        with pytest.raises(InvalidInput, match=r"figures\[1\]\.geometryData\.parameters\.innerRadius: hollow"):
            convert(project)


# --- projects the converters refuse, with the field and the reason ---------------------------------


def _refused(convert, project) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        convert(project)
    assert caught.value.field == "input_json"
    return caught.value


@pytest.mark.parametrize("sim_type", ["shieldhit", "fluka", "topas"])
def test_a_project_without_a_beam_is_refused(sim_type):
    project = _example("ui-ex6")
    del project["beam"]
    assert _refused(CONVERTERS[sim_type], project).message == "input_json.beam: is missing: the project has no beam"


@pytest.mark.parametrize("sim_type", ["shieldhit", "fluka"])
def test_a_zone_with_an_unknown_material_is_refused(sim_type):
    project = _example("ui-ex6")
    project["zoneManager"]["zones"][2]["materialUuid"] = "no-such-material"
    assert _refused(CONVERTERS[sim_type], project).message == (
        "input_json.zoneManager.zones[2].materialUuid: material 'no-such-material' is not in materialManager.materials"
    )


def test_a_quantity_shieldhit_does_not_know_is_refused():
    project = _example("ui-ex1")
    project["scoringManager"]["outputs"][1]["quantities"][0]["keyword"] = "Happiness"
    assert _refused(shieldhit.convert, project).message == (
        "input_json.scoringManager.outputs[1].quantities[0].keyword: quantity 'Happiness' is not a SHIELD-HIT12A scorer"
    )


def test_a_quantity_fluka_cannot_score_is_refused_instead_of_left_out():
    project = _example("ui-ex6")
    project["scoringManager"]["outputs"][0]["quantities"][0]["keyword"] = "dLET"
    assert "cannot be scored in FLUKA (Dose or Fluence)" in _refused(fluka.convert, project).message


def test_a_filter_fluka_cannot_apply_is_refused_instead_of_dropping_the_quantity():
    project = _example("ui-ex1")
    error = _refused(fluka.convert, project)
    assert "filter 'Primaries' cannot be applied in FLUKA" in error.message


def test_an_unsupported_figure_and_material_are_refused():
    project = _example("ui-ex1")
    broken = copy.deepcopy(project)
    broken["figureManager"]["figures"][0]["geometryData"]["geometryType"] = "TorusGeometry"
    assert "figure type 'TorusGeometry' is not supported" in _refused(shieldhit.convert, broken).message
    # ui-ex2 uses GLASS, LEAD (ICRU 170): FLUKA has no such predefined material.
    error = _refused(fluka.convert, _example("ui-ex2"))
    assert "material with ICRU 170 (GLASS, LEAD) is not supported by FLUKA" in error.message


def test_a_rotated_box_is_refused_by_fluka():
    project = _example("ui-ex6")
    project["figureManager"]["figures"][0]["geometryData"]["rotation"] = [0, 0, 30]
    assert "rotated boxes are not supported for FLUKA" in _refused(fluka.convert, project).message


@pytest.mark.parametrize("sim_type", ["fluka", "topas"])
def test_a_beam_from_a_source_file_is_refused_where_it_cannot_be_used(sim_type):
    project = _example("ui-ex4")
    assert "a beam from a source file (sobp.dat) is not supported" in _refused(CONVERTERS[sim_type], project).message


def test_topas_writes_the_beam_energy_and_histories():
    files = topas.convert(split_primaries(_example("ui-ex1"), 4))
    text = files["topas_config.txt"]
    assert "d:So/Demo/BeamEnergy = 150.0 MeV" in text
    assert "i:So/Demo/NumberOfHistoriesInRun = 2500" in text
    assert "i:Ts/ShowHistoryCountAtInterval = 25" in text


# --- editor features beyond the examples ----------------------------------------------------------


def test_shieldhit_zone_and_all_detectors_settings_and_two_modifiers():
    project = _example("ui-ex1")
    detectors = project["detectorManager"]["detectors"]
    zone_uuid = project["zoneManager"]["zones"][1]["uuid"]
    detectors[2]["geometryData"] = {"geometryType": "Zone", "parameters": {"zoneUuid": zone_uuid}}
    detectors[3]["geometryData"] = {"geometryType": "All", "parameters": {}}
    quantities = project["scoringManager"]["outputs"][0]["quantities"]
    quantities[0].update(name="Quantity", rescale=2)
    quantities[1].update(name="My fluence #1", primaries=1000)
    quantities[1]["modifiers"] = [
        {"diffType": "E", "lowerLimit": 0, "upperLimit": 160, "binsNumber": 16, "isLog": False},
        {"diffType": "A", "lowerLimit": 0, "upperLimit": 90, "binsNumber": 9, "isLog": True},
    ]  # fmt: skip
    detect = shieldhit.convert(project)["detect.dat"]

    assert "Geometry Zone\n    Name EntrySlab\n    Zone 2 \n    Volume 1.000000\n" in detect
    assert "Geometry All\n    Name PeakSlab\n" in detect
    assert "Settings\n    Name Rescaled_Dose_Quantity\n    Rescale 2\n" in detect
    assert "Settings\n    Name Myfluence1\n    Primaries 1000\n" in detect
    assert "    Quantity Dose  Rescaled_Dose_Quantity\n" in detect
    diffs = "    Diff1 0 160 16 \n    Diff1Type E\n    Diff2 0 90 9 log \n    Diff2Type A\n"
    assert "    Quantity Fluence Protons Myfluence1\n" + diffs in detect


def test_shieldhit_flat_beams_sad_and_cutoffs():
    project = _example("ui-ex1")
    project["beam"].update(sigma={"type": "Flat circular", "x": 0, "y": 2}, sad={"type": "single", "x": 100, "y": 0})
    del project["beam"]["energyLowCutoff"]
    beam = shieldhit.convert(project)["beam.dat"]
    assert "BEAMSIGMA       1.0 -2  " in beam
    assert "BEAMSAD 100  " in beam
    assert "! no energy cutoffs" in beam


def test_fluka_heavy_ions_and_light_ions_in_either_unit():
    project = _example("ui-ex6")
    project["beam"]["particle"] = {"id": 25, "a": 12, "z": 6, "name": "Heavy ion"}
    project["beam"]["energy"] = 200
    cards = fluka.convert(project)["fl_sim.inp"]
    assert "BEAM            -0.2       0.0       0.0       3.0       0.0      -1.0HEAVYION" in cards
    assert "HI-PROPE         6.0      12.0       0.0       0.0       0.0       0.0" in cards
    project["beam"]["particle"] = {"id": 24, "a": 4, "z": 2, "name": "He-4"}
    assert _fluka_line(fluka.convert(project), "BEAM ").startswith("BEAM            -0.8 ")  # 200 MeV/nucleon x 4
    project["beam"]["energyUnit"] = "MeV"
    assert _fluka_line(fluka.convert(project), "BEAM ").startswith("BEAM            -0.2 ")  # 200 MeV in all


def test_fluka_world_region_leaves_out_figures_no_zone_uses():
    _, project, _ = _case("conv-fluka-project")
    cards = fluka.convert(project)["fl_sim.inp"]
    # yaptide: "world 5 +figworld -fig0 -fig1 -fig2 -fig3 -fig4", leaving the unused sphere in no region.
    assert "\nworld 5 +figworld -fig0 -fig1 -fig2 -fig3\n" in cards
    assert "\nSPH fig4 +0.0 +11.8172105325468 -14.215841748815 +1.0\n" in cards


def test_fluka_carbon_beam_with_particle_and_ion_filters_of_the_converters_project4():
    _, project, _ = _case("conv-fluka-project4")
    project["scoringManager"]["filters"][-1]["rules"][1]["operator"] = "=="  # the one rule without an operator
    cards = fluka.convert(project)["fl_sim.inp"].splitlines()

    assert "BEAM           -0.27       0.0       0.0  -2.35482  -2.35482      -1.0HEAVYION" in cards
    assert "HI-PROPE         6.0      12.0       0.0       0.0       0.0       0.0" in cards
    usrbins = [line for line in cards if line.startswith("USRBIN")]
    assert len(usrbins) == 28  # 14 quantities, two cards each
    assert usrbins[0].startswith("USRBIN          10.0      DOSE     -21.0       2.5       2.5      21.0D_To_")
    assert usrbins[14].startswith("USRBIN          11.0  ALL-PART     -22.0       2.5       0.0      21.0F_To_")
    aux = [line for line in cards if line.startswith("AUXSCORE")]
    assert aux[:3] == [
        "AUXSCORE      USRBIN    PROTON                 2.0       2.0       1.0",
        "AUXSCORE      USRBIN  3-HELIUM                 3.0       3.0       1.0",
        "AUXSCORE      USRBIN-1200600.0                 4.0       4.0       1.0",
    ]
    # Fluence with a particle filter scores that particle; with a Z/A filter, all particles and an AUXSCORE.
    assert usrbins[16].split()[2] == "PROTON" and usrbins[18].split()[2] == "3-HELIUM"
    assert "AUXSCORE      USRBIN-1200600.0                11.0      11.0       1.0" in cards
    assert "ASSIGNMA      VACUUM     world" in cards


def test_shieldhit_refuses_a_filter_rule_without_a_comparison():
    _, project, _ = _case("conv-fluka-project3")
    error = _refused(shieldhit.convert, project)
    assert error.message.startswith("input_json.zoneManager.worldZone.geometryData.parameters.width: must be greater")
    project["zoneManager"]["worldZone"]["geometryData"]["parameters"] = {"width": 10, "height": 10, "depth": 30}
    error = _refused(shieldhit.convert, project)
    assert error.message == "input_json.scoringManager.filters[3].rules[0].operator: must be one of == != < > <= >="


def test_shieldhit_refuses_names_with_blanks_that_detect_dat_would_cut():
    _, project, _ = _case("conv-fluka-project")
    error = _refused(shieldhit.convert, project)
    assert error.message == (
        "input_json.scoringManager.outputs[0].name: SHIELD-HIT12A needs output names without blanks, got 'yz slab'"
    )


def test_a_rotated_box_is_written_with_touching_fixed_columns():
    project = _example("ui-ex1")
    project["figureManager"]["figures"][1]["geometryData"] = {
        "geometryType": "BoxGeometry",
        "position": [0, 0, 0],
        "rotation": [0, 0, 30],
        "parameters": {"width": 30, "height": 30, "depth": 4.3},
    }
    geo = shieldhit.convert(project)["geo.dat"].splitlines()
    body = geo.index("  BOX    2-5.4903811-20.490381     -2.1525.9807621      15.0       0.0")
    assert geo[body + 1] == "               -15.025.9807621       0.0       0.0       0.0       4.3"


def test_numbers_are_rounded_to_ten_characters_and_an_untitled_geometry_is_named():
    project = _example("ui-ex1")
    project["project"]["title"] = ""
    project["figureManager"]["figures"][0]["geometryData"]["position"] = [0.123456789012, -0.0000012, 10]
    geo = shieldhit.convert(project)["geo.dat"].splitlines()
    assert geo[1] == "    0    0          Unnamed geometry"
    assert "  RCC    10.12345679  -1.2e-06       0.0       0.0       0.0      20.0" in geo


def test_fluka_positions_keep_every_digit_their_field_holds():
    project = _example("ui-ex6")
    project["beam"]["position"] = [0.000123456789, -1.23456789, -12.3456789]
    detector = project["detectorManager"]["detectors"][0]["geometryData"]
    detector["position"] = [0, 0, 9.3]
    detector["parameters"]["depth"] = 12  # z from 3.3000000000000007 to 15.3
    cards = fluka.convert(project)["fl_sim.inp"]
    assert "BEAMPOS   0.00012346-1.2345679-12.345679       0.0       0.0       0.0" in cards
    # yaptide: "... 1.0 0.0 1.530E+01Dose_p5BjI" and "... 3.300E+00 ..."
    assert "USRBIN          11.0      DOSE     -21.0       1.0       0.0      15.3Dose_p5BjI" in cards
    assert "USRBIN           0.0       0.0       3.3       1.0       1.0     120.0&" in cards


def test_a_beam_modulator_is_written_with_its_zone_and_file_and_a_ct_cube_is_refused():
    project = _example("ui-ex1")
    zone_uuid = project["zoneManager"]["zones"][0]["uuid"]
    project["specialComponentsManager"]["modulator"] = {
        "geometryData": {"geometryType": "Zone", "parameters": {"zoneUuid": zone_uuid}},
        "simulationMethod": "sampling",
        "sourceFile": {"name": "mod062.cfg", "value": "modulator definition\n"},
    }
    files = shieldhit.convert(project)
    assert files["mod062.cfg"] == "modulator definition\n"
    lines = [line.split("!")[0].split() for line in files["beam.dat"].splitlines()]
    assert [["USEBMOD", "1", "mod062.cfg"], ["BMODMC", "1"], ["BMODTRANS", "0"]] == [
        line for line in lines if line and line[0].startswith(("USEBMOD", "BMOD"))
    ]
    assert "beam modulators are not supported by FLUKA" in _refused(fluka.convert, project).message
    project["specialComponentsManager"]["CTCube"] = {"name": "CT"}
    assert "CT cubes are not supported" in _refused(shieldhit.convert, project).message


ODD_VALUES = [None, "x", "", [], {}, [1, 2], -1, 0, 1e308, True, 10**30, -5.5, {"a": 1}, [None, None, None]]


def _paths(obj, prefix=()):
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj[:4]):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


@pytest.mark.parametrize("name", ["ui-ex1", "ui-ex2", "ui-ex6", "conv-fluka-project"])
def test_a_malformed_project_is_invalid_input_never_a_crash(name):
    """Seeded mutations of real projects (odd types, huge numbers, missing keys): every converter either
    converts or raises InvalidInput, so the API answers 400 and never 500."""
    import random

    project = _example(name)
    paths = [path for path in _paths(project) if "viewManager" not in path and "sourceFile" not in path]
    rng = random.Random(name)
    for _ in range(400):
        mutated = copy.deepcopy(project)
        for _ in range(rng.randint(1, 3)):
            *parents, last = rng.choice(paths)
            target = mutated
            try:
                for key in parents:
                    target = target[key]
                if isinstance(target, dict) and rng.random() < 0.2:
                    target.pop(last, None)
                else:
                    target[last] = copy.deepcopy(rng.choice(ODD_VALUES))
            except (KeyError, IndexError, TypeError):
                continue
        for convert in CONVERTERS.values():
            try:
                convert(split_primaries(mutated, 3))
            except InvalidInput:
                pass
