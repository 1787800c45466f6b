"""The real simulators (SHIELD-HIT12A, FLUKA, TOPAS) run against fake executables from tests/fakes.

The fakes take the real command lines, print progress as the real programs do and write output files in the real
formats (BDO2019, USRBIN Fortran binary, TOPAS CSV), which pymchelper reads.
"""

import json
import math
import os
import sys
import time
from pathlib import Path

import orjson
import pytest
from celery.exceptions import SoftTimeLimitExceeded

from simulations.services import results_store
from simulations.simulators import get_simulator, process
from simulations.simulators.base import SimulationCanceled, SimulatorFailed, TaskRun
from simulations.simulators.fluka import FlukaProgress, rewrite_input
from simulations.simulators.shieldhit import parse_progress as shieldhit_progress
from simulations.simulators.topas import parse_progress as topas_progress
from simulations.simulators.topas import rewrite_parameters
from yaptide_site.errors import InvalidInput

FAKES = Path(__file__).resolve().parent.parent / "fakes"
PRIMARIES, SEED = 500, 7

SHIELDHIT_FILES = {
    "beam.dat": "JPART0 2\nTMAX0 150.0 0.0\nNSTAT 100000 0\n",
    "geo.dat": "fake geometry\n",
    "mat.dat": "MEDIUM 1\nICRU 276\nEND\n",
    "detect.dat": "Geometry Cyl\n    Name CylZ_Mesh\n",
}
FLUKA_INPUT = (
    "TITLE\nproton beam in water\n"
    "BEAM          -0.15                                                  PROTON\n"
    "RANDOMIZ          1.     1234.\n"
    "START        100000.\n"
    "STOP\n"
)
TOPAS_PARAMETERS = (
    "i:Ts/Seed = 1234 # reproducible\n"
    "i:So/Beam/NumberOfHistoriesInRun = 100000\n"
    's:Sc/DoseProfile/Quantity = "DoseToMedium"\n'
    's:Sc/DoseProfile/OutputFile = "dose_profile"\n'
    "i:Sc/DoseProfile/ZBins = 40\n"
    's:Sc/SlabDose/Quantity = "DoseToMedium"\n'
)
INPUTS = {
    "shieldhit": {"input_type": "FILES", "input_files": SHIELDHIT_FILES},
    "fluka": {"input_type": "FILES", "input_files": {"water.inp": FLUKA_INPUT}},
    "topas": {"input_type": "FILES", "input_files": {"run.txt": TOPAS_PARAMETERS}},
}
EXECUTABLES = {
    "shieldhit": ("shieldhit", "SHIELDHIT_PATH"),
    "fluka": ("rfluka", "FLUKA_PATH"),
    "topas": ("topas", "TOPAS_PATH"),
}
LABELS = {"shieldhit": "SHIELD-HIT12A", "fluka": "FLUKA", "topas": "TOPAS"}
REAL = pytest.mark.parametrize("sim_type", ["shieldhit", "fluka", "topas"])


@pytest.fixture
def fakes_on_path(tmp_path, monkeypatch, settings):
    """A PATH with the fake executables first; no executable settings; fast progress reporting."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("shieldhit", "rfluka", "topas"):
        (bin_dir / name).symlink_to(FAKES / name)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SIM_SECONDS", "1")
    for _, setting in EXECUTABLES.values():
        setattr(settings, setting, "")
    monkeypatch.setattr(process, "PROGRESS_MIN_SECONDS", 0.05)
    return bin_dir


@pytest.fixture
def no_executables(tmp_path, monkeypatch, settings):
    """A PATH without any simulator and no executable settings."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    python_dir = Path(sys.executable).parent
    monkeypatch.setenv("PATH", f"{empty}{os.pathsep}{python_dir}")
    for _, setting in EXECUTABLES.values():
        setattr(settings, setting, "")


class Recorder:
    """Collects progress calls with their time."""

    def __init__(self):
        self.calls: list[tuple[float, int, int | None]] = []

    def __call__(self, primaries: int, eta: int | None) -> None:
        self.calls.append((time.monotonic(), primaries, eta))

    @property
    def primaries(self) -> list[int]:
        return [primaries for _, primaries, _ in self.calls]


def run_task(sim_type: str, workdir: Path, *, should_stop=lambda: False, input_data=None, progress=None):
    run = TaskRun(input_data=input_data or INPUTS[sim_type], primaries=PRIMARIES, seed=SEED, workdir=workdir)
    return get_simulator(sim_type).run(run, progress=progress or Recorder(), should_stop=should_stop)


def fake_call(workdir: Path) -> dict:
    return json.loads((workdir / "fake_call.json").read_text())


def is_running(pid: int) -> bool:
    """Whether a process exists and is not a zombie (a killed orphan may wait for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def by_name(estimators: list[dict]) -> dict[str, dict]:
    return {estimator["name"]: estimator for estimator in estimators}


def assert_section4_shape(estimators: list[dict]) -> None:
    for estimator in estimators:
        assert set(estimator) == {"name", "metadata", "pages"}
        assert all(isinstance(value, str) for value in estimator["metadata"].values())
        assert estimator["metadata"]["page_count"] == str(len(estimator["pages"]))
        for page in estimator["pages"]:
            assert all(isinstance(value, str) for value in page["metadata"].values())
            assert set(page["data"]) == {"name", "unit", "values"}
            dims = page["dimensions"]
            axes = [page[f"axis_dim{n}"] for n in range(1, dims + 1)]
            assert not any(f"axis_dim{n}" in page for n in range(dims + 1, 3))
            assert len(page["data"]["values"]) == math.prod(len(axis["values"]) for axis in axes)
            assert all(math.isfinite(value) for value in page["data"]["values"])


# --- command lines and inputs ---------------------------------------------------------------------------------------


def test_shieldhit_gets_its_input_files_primaries_and_seed_on_the_command_line(fakes_on_path, tmp_path):
    workdir = tmp_path / "task"
    run_task("shieldhit", workdir)

    call = fake_call(workdir)
    assert call["argv"][1:] == [
        "--beamfile=beam.dat",
        "--geofile=geo.dat",
        "--matfile=mat.dat",
        "--detectfile=detect.dat",
        "-n",
        str(PRIMARIES),
        "-N",
        str(SEED),
        str(workdir),
    ]
    assert Path(call["argv"][0]).name == "shieldhit"
    assert (workdir / "beam.dat").read_text() == SHIELDHIT_FILES["beam.dat"]


def test_fluka_runs_rfluka_on_a_copy_with_start_and_randomiz_rewritten(fakes_on_path, tmp_path):
    workdir = tmp_path / "task"
    input_data = json.loads(json.dumps(INPUTS["fluka"]))
    run_task("fluka", workdir, input_data=input_data)

    call = fake_call(workdir)
    assert call["argv"][1:] == ["-N0", "-M1", "water"]
    assert call["primaries"] == PRIMARIES
    assert float(call["seed"]) == SEED
    written = (workdir / "water.inp").read_text().splitlines()
    assert written[3] == "RANDOMIZ          1.        7."
    assert written[4] == "START           500."
    assert input_data == INPUTS["fluka"], "the stored input stays as submitted"


def test_fluka_input_without_randomiz_gets_one_before_start():
    text = "BEAM          -0.15\nSTART        100000.                                        1.\nSTOP\n"

    lines = rewrite_input(text, primaries=2500, seed=42).splitlines()

    assert lines[1] == "RANDOMIZ          1.       42."
    assert lines[2] == "START          2500.                                        1.", "other WHATs are kept"
    assert lines[3] == "STOP"


def test_fluka_free_format_cards_are_rewritten_in_free_format():
    text = "FREE\nBEAM -0.15\nSTART 100000.0 0 0\nFIXED\nSTOP\n"

    lines = rewrite_input(text, primaries=300, seed=5).splitlines()

    assert lines[2:4] == ["RANDOMIZ 1. 5.", "START 300. 0 0"]


def test_topas_runs_on_a_copy_with_seed_and_histories_rewritten(fakes_on_path, tmp_path):
    workdir = tmp_path / "task"
    run_task("topas", workdir)

    call = fake_call(workdir)
    assert call["argv"][1:] == ["run.txt"]
    assert (call["primaries"], call["seed"]) == (PRIMARIES, SEED)
    written = (workdir / "run.txt").read_text()
    assert "i:Ts/Seed = 7 # reproducible" in written
    assert "i:So/Beam/NumberOfHistoriesInRun = 500\n" in written
    assert "i:Ts/ShowHistoryCountAtInterval = 5" in written


def test_topas_parameters_without_seed_get_one():
    text = "i:So/A/NumberOfHistoriesInRun = 10\ni:so/B/numberofhistoriesinrun = 20\n"

    written = rewrite_parameters(text, primaries=1000, seed=3)

    assert written.splitlines() == [
        "i:So/A/NumberOfHistoriesInRun = 1000",
        "i:so/B/numberofhistoriesinrun = 1000",
        "i:Ts/Seed = 3",
        "i:Ts/ShowHistoryCountAtInterval = 10",
    ]


# --- progress ---------------------------------------------------------------------------------------------------------


@REAL
def test_progress_is_reported_with_increasing_primaries(fakes_on_path, tmp_path, monkeypatch, sim_type):
    monkeypatch.setenv("FAKE_SIM_SECONDS", "2")
    progress = Recorder()

    run_task(sim_type, tmp_path / "task", progress=progress)

    reported = [primaries for primaries in progress.primaries if primaries]
    assert len(set(reported)) >= 3, progress.calls
    assert reported == sorted(reported)
    assert reported[-1] == PRIMARIES
    assert all(eta is None or eta >= 0 for _, _, eta in progress.calls)


def test_progress_keeps_coming_while_the_simulator_prints_nothing(fakes_on_path, tmp_path, monkeypatch):
    monkeypatch.setattr(process, "HEARTBEAT_SECONDS", 0.3)
    monkeypatch.setenv("FAKE_SIM_MODE", "hang")
    progress = Recorder()
    started = time.monotonic()

    with pytest.raises(SimulationCanceled):
        run_task("shieldhit", tmp_path / "task", progress=progress, should_stop=lambda: time.monotonic() > started + 3)

    times = [at for at, _, _ in progress.calls if at > started + 1.5]
    assert len(times) >= 3
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) < 1.0


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (" Primary particle no.        5000 ETR:   0 hour(s)  1 minute(s) 12 second(s)", (5000, 72)),
        ("Primary particle no. 100 ETR: 2 hours 0 minutes 5 seconds", (100, 7205)),
        (" Requested number of primaries NSTAT: 10000", None),
    ],
)
def test_shieldhit_progress_lines_are_parsed(line, expected):
    assert shieldhit_progress(line) == expected


def test_fluka_progress_lines_after_next_seeds_are_parsed():
    parse = FlukaProgress()
    line = (
        "     980000                 20000                 20000             1.8515483E-04         1.0000000E+30  44182"
    )

    assert parse(line) is None, "before the first NEXT SEEDS line numbers are not progress"
    assert parse(" NEXT SEEDS:  1234 0 0 0 0 0") is None
    assert parse(line) == (980000, 4)
    assert parse(" All cases handled by Feeder") is None
    assert parse(line) is None


def test_topas_history_count_lines_are_parsed():
    assert topas_progress("Begin processing for Run: 0, History: 4200") == (4200, None)
    assert topas_progress("2026-11-26.12:00:00  Begin processing for Run: 1, History: 7") == (7, None)
    assert topas_progress("Random seed: 7") is None


# --- results ----------------------------------------------------------------------------------------------------------


def test_shieldhit_estimators_are_read_from_its_bdo_files(fakes_on_path, tmp_path):
    estimators = run_task("shieldhit", tmp_path / "task")

    assert_section4_shape(estimators)
    found = by_name(estimators)
    assert set(found) == {"z_profile", "slab", "yz_mesh"}

    profile = found["z_profile"]
    assert profile["metadata"]["file_corename"] == "z_profile"
    assert profile["metadata"]["number_of_primaries"] == str(PRIMARIES)
    assert profile["metadata"]["geotyp"] == "CYL"
    dose, fluence = profile["pages"]
    assert (dose["metadata"]["page_number"], dose["metadata"]["name"], dose["dimensions"]) == ("0", "DOSE", 1)
    assert dose["data"]["unit"] == "MeV/g/prim"
    assert dose["data"]["values"] == pytest.approx([(i + 1) * 0.5 for i in range(100)])
    assert dose["axis_dim1"]["name"] == "Position (Z)"
    assert dose["axis_dim1"]["unit"] == "cm"
    assert dose["axis_dim1"]["values"] == pytest.approx([0.1 + 0.2 * i for i in range(100)])
    assert fluence["metadata"]["page_number"] == "1"
    assert fluence["data"]["values"] == pytest.approx([2.0] * 100)

    (slab,) = found["slab"]["pages"]
    assert slab["dimensions"] == 0
    assert slab["data"]["values"] == pytest.approx([7.5])

    (mesh,) = found["yz_mesh"]["pages"]
    assert mesh["dimensions"] == 2
    assert (len(mesh["axis_dim1"]["values"]), len(mesh["axis_dim2"]["values"])) == (8, 20)
    assert mesh["data"]["values"] == pytest.approx([y + 0.1 * z for z in range(20) for y in range(8)])


def test_fluka_estimators_are_read_from_its_usrbin_files(fakes_on_path, tmp_path):
    estimators = run_task("fluka", tmp_path / "task")

    assert_section4_shape(estimators)
    found = by_name(estimators)
    assert set(found) == {"21", "22", "23"}
    assert found["21"]["metadata"]["number_of_primaries"] == str(PRIMARIES)

    (dose,) = found["21"]["pages"]
    assert (dose["dimensions"], dose["data"]["name"], dose["data"]["unit"]) == (1, "DOSE", "MeV/g")
    assert dose["data"]["values"] == pytest.approx([i + 1.0 for i in range(50)], rel=1e-6)
    assert dose["axis_dim1"]["values"] == pytest.approx([0.1 + 0.2 * i for i in range(50)])

    (energy,) = found["22"]["pages"]
    assert (energy["dimensions"], energy["data"]["unit"]) == (2, "MeV")
    assert energy["data"]["values"] == pytest.approx([x + 10.0 * z for z in range(10) for x in range(4)], rel=1e-6)

    (point,) = found["23"]["pages"]
    assert point["dimensions"] == 0
    assert point["data"]["values"] == pytest.approx([42.0], rel=1e-6)


def test_topas_estimators_are_read_from_its_csv_scorers(fakes_on_path, tmp_path):
    estimators = run_task("topas", tmp_path / "task")

    assert_section4_shape(estimators)
    found = by_name(estimators)
    assert set(found) == {"dose_profile", "SlabDose"}
    assert found["dose_profile"]["metadata"]["number_of_primaries"] == str(PRIMARIES)

    (profile,) = found["dose_profile"]["pages"]
    assert (profile["dimensions"], profile["data"]["name"], profile["data"]["unit"]) == (1, "DoseProfile", "Gy")
    assert profile["data"]["values"] == pytest.approx([(i + 1) * 0.25 for i in range(40)])
    assert profile["axis_dim1"]["values"] == pytest.approx([0.5 + i for i in range(40)])

    (slab,) = found["SlabDose"]["pages"]
    assert slab["dimensions"] == 0
    assert slab["data"]["values"] == pytest.approx([0.25])


@REAL
def test_estimators_are_stored_by_the_results_service(fakes_on_path, tmp_path, submit, sim_type):
    simulation, _ = submit(ntasks=1)
    estimators = orjson.loads(orjson.dumps(run_task(sim_type, tmp_path / "task")))

    stored = results_store(simulation=simulation, estimators=estimators)

    assert sorted(row.file_name for row in stored) == sorted(estimator["name"] for estimator in estimators)
    assert simulation.estimators.count() == len(estimators)


# --- cancel and failure -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sim_type", "ignore_term"), [("shieldhit", False), ("shieldhit", True), ("fluka", True), ("topas", True)]
)
def test_cancel_kills_the_simulator_and_its_children_within_two_seconds(
    fakes_on_path, tmp_path, monkeypatch, sim_type, ignore_term
):
    monkeypatch.setenv("FAKE_SIM_MODE", "hang")
    monkeypatch.setenv("FAKE_SIM_CHILD", "1")
    monkeypatch.setenv("FAKE_SIM_IGNORE_TERM", "1" if ignore_term else "0")
    workdir = tmp_path / "task"
    asked = []

    def should_stop() -> bool:
        # Stop once the fake is running and has reported progress.
        if (workdir / "fake_call.json").exists() and progress.primaries and max(progress.primaries) > 0:
            asked.append(time.monotonic())
            return True
        return False

    progress = Recorder()
    with pytest.raises(SimulationCanceled):
        run_task(sim_type, workdir, should_stop=should_stop, progress=progress)

    call = fake_call(workdir)
    assert not is_running(call["pid"]), "the simulator is reaped before run() returns"
    # SIGKILL takes effect asynchronously for the simulator's own children: give them until the deadline.
    deadline = asked[0] + 2.0
    while is_running(call["child_pid"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not is_running(call["child_pid"])
    assert time.monotonic() < deadline


@REAL
def test_a_failing_simulator_raises_simulator_failed_with_its_logs(fakes_on_path, tmp_path, monkeypatch, sim_type):
    monkeypatch.setenv("FAKE_SIM_MODE", "fail")

    with pytest.raises(SimulatorFailed) as failed:
        run_task(sim_type, tmp_path / "task")

    assert "exit code 3" in str(failed.value)
    assert failed.value.logs["error.log"] == f"{LABELS[sim_type]} failed with exit code 3\n"
    output = failed.value.logs[f"{LABELS[sim_type]}_output.log"]
    assert "fake simulator crashed" in output
    if sim_type == "fluka":
        assert "NEXT SEEDS" in failed.value.logs["water001.out"], "FLUKA's own .out file is kept"


def test_the_time_limit_stops_the_simulator_and_keeps_its_output(fakes_on_path, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_SIM_MODE", "hang")
    workdir = tmp_path / "task"
    progress = Recorder()

    def should_stop() -> bool:
        if progress.primaries and max(progress.primaries) > 0:
            raise SoftTimeLimitExceeded()  # what Celery raises in the task when its soft time limit is reached
        return False

    with pytest.raises(SimulatorFailed, match="time limit") as failed:
        run_task("shieldhit", workdir, should_stop=should_stop, progress=progress)

    assert "Primary particle no." in failed.value.logs["SHIELD-HIT12A_output.log"]
    assert not is_running(fake_call(workdir)["pid"])


def test_a_simulator_that_writes_no_output_files_fails(fakes_on_path, tmp_path):
    input_data = {"input_type": "FILES", "input_files": {"run.txt": "i:So/Beam/NumberOfHistoriesInRun = 10\n"}}

    with pytest.raises(SimulatorFailed, match="without output files"):
        run_task("topas", tmp_path / "task", input_data=input_data)


# --- availability -----------------------------------------------------------------------------------------------------


@REAL
def test_a_missing_executable_is_invalid_input_naming_it_and_its_setting(no_executables, tmp_path, sim_type):
    executable, setting = EXECUTABLES[sim_type]

    with pytest.raises(InvalidInput) as refused:
        get_simulator(sim_type).check_available()

    assert f"'{executable}'" in refused.value.message
    assert setting in refused.value.message
    with pytest.raises(SimulatorFailed, match=setting):
        run_task(sim_type, tmp_path / "task")


@REAL
def test_the_setting_points_to_the_executable(no_executables, tmp_path, settings, sim_type):
    executable, setting = EXECUTABLES[sim_type]
    setattr(settings, setting, str(FAKES / executable))

    get_simulator(sim_type).check_available()
    run_task(sim_type, tmp_path / "task")

    assert fake_call(tmp_path / "task")["argv"][0] == str(FAKES / executable)


def test_a_setting_that_is_not_an_executable_is_invalid_input(no_executables, tmp_path, settings):
    settings.SHIELDHIT_PATH = str(tmp_path / "nothing-here")

    with pytest.raises(InvalidInput, match="SHIELDHIT_PATH"):
        get_simulator("shieldhit").check_available()


EDITOR_EXAMPLES = Path(__file__).resolve().parent / "converter_data"


def editor_input(sim_type: str, example: str, ntasks: int = 1) -> dict:
    """An EDITOR input as submission stores it: the project and its converted files for one of ntasks tasks."""
    project = json.loads((EDITOR_EXAMPLES / example / "project.json").read_text())
    prepared = get_simulator(sim_type).prepare(input_type="EDITOR", input_json=project, input_files=None, ntasks=ntasks)
    return {"input_type": "EDITOR", "input_json": project, "input_files": prepared.files}


@REAL
def test_an_editor_project_is_prepared_by_converting_it_per_task(sim_type):
    project = json.loads((EDITOR_EXAMPLES / "ui-ex6" / "project.json").read_text())
    prepared = get_simulator(sim_type).prepare(input_type="EDITOR", input_json=project, input_files=None, ntasks=3)
    assert prepared.primaries == 100000
    main = {"shieldhit": "beam.dat", "fluka": "fl_sim.inp", "topas": "topas_config.txt"}[sim_type]
    assert str(100000 // 3) in prepared.files[main]
    del project["beam"]
    with pytest.raises(InvalidInput, match="input_json.beam.numberOfParticles is missing"):
        get_simulator(sim_type).prepare(input_type="EDITOR", input_json=project, input_files=None)


def test_shieldhit_runs_a_converted_editor_project_with_one_estimator_per_output(fakes_on_path, tmp_path):
    estimators = run_task("shieldhit", tmp_path, input_data=editor_input("shieldhit", "ui-ex1", ntasks=2))

    assert sorted(estimator["name"] for estimator in estimators) == ["entrance", "peak", "yz_profile", "z_profile"]
    assert [len(estimator["pages"]) for estimator in sorted(estimators, key=lambda e: e["name"])] == [7, 7, 3, 4]
    assert_section4_shape(estimators)
    call = fake_call(tmp_path)
    assert call["beam"] == {"jpart0": "2", "tmax0": ["150.0", "1.5"], "nstat": ["5000", "0"]}
    assert call["primaries"] == PRIMARIES


def test_fluka_runs_a_converted_editor_project_with_estimators_named_as_its_outputs(fakes_on_path, tmp_path):
    estimators = run_task("fluka", tmp_path, input_data=editor_input("fluka", "ui-ex6"))

    assert [estimator["name"] for estimator in estimators] == ["AlongBeamAxis", "SlabYZ"]
    assert [page["dimensions"] for estimator in estimators for page in estimator["pages"]] == [1, 2]
    assert_section4_shape(estimators)
    call = fake_call(tmp_path)
    assert (call["primaries"], call["beam"][0]) == (PRIMARIES, "-0.07")


@pytest.mark.parametrize(
    ("sim_type", "files", "message"),
    [
        ("shieldhit", {"beam.dat": "NSTAT 10\n"}, "geo.dat, mat.dat, detect.dat"),
        ("shieldhit", {**SHIELDHIT_FILES, "../escape.dat": "x"}, "plain file name"),
        ("fluka", {"a.inp": FLUKA_INPUT, "b.inp": FLUKA_INPUT}, "exactly one .inp"),
        ("fluka", {"a.inp": "TITLE\nno start\n"}, "no START card"),
        ("topas", {"run.txt": "i:Ts/Seed = 1\n"}, "NumberOfHistoriesInRun"),
    ],
)
def test_input_files_the_simulator_cannot_run_are_invalid_input(fakes_on_path, sim_type, files, message):
    with pytest.raises(InvalidInput, match=message):
        get_simulator(sim_type).prepare(input_type="FILES", input_json=None, input_files=files)


@pytest.mark.parametrize(
    ("sim_type", "files", "primaries"),
    [
        # TOPAS parameter names are case-insensitive.
        ("topas", {"run.txt": "i:so/beam/numberofhistoriesinrun = 250\n"}, 250),
        # A fixed-format FLUKA card may be indented inside its 10-character name field.
        ("fluka", {"a.inp": "TITLE\n\n  START        300.\nSTOP\n"}, 300),
        ("fluka", {"a.inp": "FREE\n  START, 400.0\nSTOP\n"}, 400),
        ("shieldhit", {**SHIELDHIT_FILES, "beam.dat": "  nstat 500 0\n"}, 500),
    ],
)
def test_files_the_simulator_runs_are_counted_the_way_it_reads_them(sim_type, files, primaries):
    prepared = get_simulator(sim_type).prepare(input_type="FILES", input_json=None, input_files=files)

    assert prepared.primaries == primaries and prepared.files == files


@pytest.mark.parametrize(
    ("sim_type", "files"),
    [
        ("topas", {"run.txt": "i:so/beam/numberofhistoriesinrun = 250\n"}),
        ("fluka", {"a.inp": "TITLE\n\n  START        300.\nSTOP\n"}),
    ],
)
def test_an_input_the_simulator_accepts_is_accepted_at_submit(api_client, fakes_on_path, sim_type, files):
    body = {"sim_type": sim_type, "ntasks": 2, "input_type": "files", "input_files": files}

    response = api_client.post("/api/simulations/", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["requested_primaries"] in (250, 300)
