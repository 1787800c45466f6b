"""The built-in `dummy` simulator: results from a simple physical model, so the whole pipeline runs anywhere.

It reads the beam, the scoring geometries and the scored quantities (editor project, or SHIELD-HIT12A
beam.dat and detect.dat), and scores a proton depth-dose curve: the Bragg peak sits at the range the
Bragg-Kleeman rule gives for the beam energy in water, R = 0.0022 cm * E[MeV]^1.77 (Bortfeld 1997), the
curve before it rises as (R - d)^(1/p - 1) and is smeared by range straggling. Each bin gets Gaussian
noise whose relative size falls as 1/sqrt(primaries per bin), drawn from the task's seed.

Pages: one per quantity, 0-D for one bin, 1-D when one axis of the detector has more than one bin, 2-D
when two have (values flattened with axis_dim1 varying fastest, as SHIELD-HIT12A writes them). It takes
DUMMY_SECONDS_PER_MILLION seconds per million primaries, reporting progress as it goes.

Test hooks, read from the editor project's top-level "dummy" object or a FILES input's dummy.json:
{"seconds": run time of each task (a number, or a list by task ordinal), "fail_tasks": [ordinals that fail]}.
"""

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings

from yaptide_site.errors import InvalidInput

from ..choices import InputType
from .base import PreparedInput, Progress, SimulationCanceled, SimulatorFailed, TaskRun, editor_primaries
from .process import validated_files
from .shieldhit import nstat

P_EXPONENT = 1.77
ALPHA_CM = 0.0022
STEP_SECONDS = 0.1
PROGRESS_SECONDS = 1.0

QUANTITY_UNITS = {"dose": "MeV/g", "dosegy": "Gy", "fluence": "/cm^2", "energy": "MeV", "avgenergy": "MeV"}


@dataclass(frozen=True)
class Beam:
    energy: float  # MeV per nucleon
    a: int = 1
    z: int = 1
    start_z: float = 0.0

    @property
    def range_cm(self) -> float:
        """CSDA range in water: the proton range at the same energy per nucleon, scaled by A / Z^2."""
        return ALPHA_CM * self.energy**P_EXPONENT * self.a / self.z**2


@dataclass(frozen=True)
class Axis:
    name: str  # X, Y, Z or R
    start: float
    stop: float
    bins: int

    @property
    def centres(self) -> np.ndarray:
        edges = np.linspace(self.start, self.stop, self.bins + 1)
        return (edges[:-1] + edges[1:]) / 2


@dataclass
class Scorer:
    """One output: an estimator with its geometry's axes and one page per quantity."""

    name: str
    file_name: str
    geo_type: str
    geo_name: str
    axes: list[Axis]
    quantities: list[tuple[str, str]] = field(default_factory=list)  # (page name, keyword)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "output"


def _number(value, default: float = 0.0) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return default
    return number if math.isfinite(number) else default


def _segments(value) -> int:
    return max(1, int(_number(value, 1)))


# --- reading the input ----------------------------------------------------------------------------


def _editor_axes(geometry: dict) -> tuple[str, list[Axis]]:
    kind = str(geometry.get("geometryType") or geometry.get("type") or "Zone")
    params = geometry.get("parameters") or geometry.get("data") or {}
    x, y, z = ([*(geometry.get("position") or []), 0, 0, 0])[:3]
    x, y, z = _number(x), _number(y), _number(z)
    depth = _number(params.get("depth"), 1.0)
    z_axis = Axis("Z", z - depth / 2, z + depth / 2, _segments(params.get("zSegments")))
    if kind.lower().startswith("cyl"):
        radial = Axis("R", _number(params.get("innerRadius")), _number(params.get("radius"), 1.0), 1)
        return "CYL", [Axis("R", radial.start, radial.stop, _segments(params.get("radialSegments"))), z_axis]
    if kind.lower() in ("mesh", "box"):
        width, height = _number(params.get("width"), 1.0), _number(params.get("height"), 1.0)
        return "MSH", [
            Axis("X", x - width / 2, x + width / 2, _segments(params.get("xSegments"))),
            Axis("Y", y - height / 2, y + height / 2, _segments(params.get("ySegments"))),
            z_axis,
        ]
    return "ZONE", [Axis("Z", z, z, 1)]


def _editor_quantities(output: dict) -> list[tuple[str, str]]:
    quantities = output.get("quantities") or []
    if isinstance(quantities, dict):
        quantities = quantities.get("active") or []
    result = []
    for quantity in quantities:
        if isinstance(quantity, dict):
            keyword = str(quantity.get("keyword") or "Dose")
            result.append((str(quantity.get("name") or keyword), keyword))
    return result


def editor_beam_and_scorers(project: dict) -> tuple[Beam, list[Scorer]]:
    """The beam and one scorer per scoring output of an editor project."""
    beam = project.get("beam") or {}
    particle = beam.get("particle") or {}
    position = [*(beam.get("position") or []), 0, 0, 0]
    z = max(1, int(_number(particle.get("z"), 1)))
    a = max(1, int(_number(particle.get("a"), 1)))
    parsed_beam = Beam(energy=max(_number(beam.get("energy"), 150.0), 1.0), a=a, z=z, start_z=_number(position[2]))
    detectors = {}
    for detector in (project.get("detectorManager") or {}).get("detectors") or []:
        if isinstance(detector, dict):
            detectors[detector.get("uuid")] = detector
    scorers = []
    for output in (project.get("scoringManager") or {}).get("outputs") or []:
        if not isinstance(output, dict):
            continue
        detector = detectors.get(output.get("detectorUuid")) or {}
        geo_type, axes = _editor_axes(detector.get("geometryData") or {})
        name = str(output.get("name") or "output")
        scorers.append(
            Scorer(
                name=name,
                file_name=_slug(name) + "_",
                geo_type=geo_type,
                geo_name=str(detector.get("name") or ""),
                axes=axes,
                quantities=_editor_quantities(output),
            )
        )
    return parsed_beam, scorers


def _blocks(text: str) -> list[tuple[str, list[list[str]]]]:
    """detect.dat as (block keyword line, [tokens of each following line]) in order."""
    blocks: list[tuple[str, list[list[str]]]] = []
    for raw in text.splitlines():
        line = raw.split("!")[0].split("#")[0].strip()
        if not line:
            continue
        tokens = line.split()
        if tokens[0] in ("Geometry", "Output", "Filter"):
            blocks.append((" ".join(tokens), []))
        elif blocks:
            blocks[-1][1].append(tokens)
    return blocks


def files_beam_and_scorers(files: dict[str, str]) -> tuple[Beam, list[Scorer]]:
    """The beam (beam.dat: TMAX0, JPART0, HIPROJ) and the scorers (detect.dat: Geometry and Output blocks)."""
    cards = {}
    for raw in files.get("beam.dat", "").splitlines():
        tokens = raw.split("!")[0].split()
        if tokens:
            cards[tokens[0].upper()] = tokens[1:]
    energy = _number((cards.get("TMAX0") or [150])[0], 150.0)
    a, z = 1, 1
    if (cards.get("JPART0") or ["2"])[0] == "25" and len(cards.get("HIPROJ") or []) >= 2:
        a, z = int(_number(cards["HIPROJ"][0], 1)), int(_number(cards["HIPROJ"][1], 1))
    position = [*(cards.get("BEAMPOS") or []), 0, 0, 0]
    beam = Beam(energy=max(energy, 1.0), a=max(a, 1), z=max(z, 1), start_z=_number(position[2]))

    geometries: dict[str, tuple[str, list[Axis]]] = {}
    scorers = []
    for head, lines in _blocks(files.get("detect.dat", "")):
        values = {tokens[0]: tokens[1:] for tokens in lines}
        if head.startswith("Geometry"):
            kind = head.split()[1].upper() if len(head.split()) > 1 else "ZONE"
            axes = []
            for axis_name in ("X", "Y", "Z", "R"):
                if axis_name in values and len(values[axis_name]) >= 3:
                    start, stop, bins = values[axis_name][:3]
                    axes.append(Axis(axis_name, _number(start), _number(stop), _segments(bins)))
            if kind == "CYL":
                axes.sort(key=lambda axis: axis.name != "R")
            geometries[" ".join(values.get("Name", [""]))] = (
                {"MESH": "MSH"}.get(kind, kind),
                axes or [Axis("Z", 0, 0, 1)],
            )
        elif head == "Output":
            file_name = (values.get("Filename") or ["output.bdo"])[0].rsplit(".", 1)[0]
            geo_name = " ".join(values.get("Geo", [""]))
            geo_type, axes = geometries.get(geo_name, ("ZONE", [Axis("Z", 0, 0, 1)]))
            quantities = [
                (" ".join(tokens[1:]), tokens[1]) for tokens in lines if tokens[0] == "Quantity" and len(tokens) > 1
            ]
            scorers.append(Scorer(file_name, file_name, geo_type, geo_name, axes, quantities))
    return beam, scorers


# --- the physical model ---------------------------------------------------------------------------


def _range_spread(beam: Beam) -> float:
    """Range straggling in water (Bortfeld) with a 1 % energy spread of the beam, added in quadrature."""
    rng = beam.range_cm
    return max(math.hypot(0.012 * rng**0.935, 0.01 * P_EXPONENT * rng), 0.02)


def depth_dose(beam: Beam, depth_cm: np.ndarray) -> np.ndarray:
    """Relative dose at each depth: 1 at the entrance, a Bragg peak near the range, then zero."""
    rng, sigma = beam.range_cm, _range_spread(beam)
    step = min(sigma / 4, rng / 200)
    grid = np.arange(-5 * sigma, rng + 6 * sigma, step)
    residual = np.clip(rng - np.clip(grid, 0, None), step / 2, None)
    # Bragg-Kleeman stopping power (R - d)^(1/p - 1), and a 1 %/cm loss of primaries to nuclear reactions.
    pristine = np.where(grid < rng, residual ** (1 / P_EXPONENT - 1) * (1 - 0.01 * np.clip(grid, 0, None)), 0.0)
    kernel_x = np.arange(-4 * sigma, 4 * sigma + step, step)
    kernel = np.exp(-(kernel_x**2) / (2 * sigma**2))
    smeared = np.convolve(pristine, kernel / kernel.sum(), mode="same")
    smeared /= np.interp(0.0, grid, smeared)
    return np.where(depth_cm >= 0, np.interp(depth_cm, grid, smeared, right=0.0), 0.0)


def _fluence(beam: Beam, depth_cm: np.ndarray) -> np.ndarray:
    """Primary fluence: slow loss to nuclear reactions, then the distal fall-off at the range."""
    rng, sigma = beam.range_cm, _range_spread(beam)
    fall = 0.5 * np.vectorize(math.erfc)((depth_cm - rng) / (sigma * math.sqrt(2)))
    return np.where(depth_cm >= 0, (1 - 0.01 * depth_cm) * fall, 0.0)


def _model(beam: Beam, keyword: str, depth_cm: np.ndarray) -> np.ndarray:
    kind = keyword.lower()
    if "fluence" in kind:
        return _fluence(beam, depth_cm)
    if "energy" in kind:
        rng = beam.range_cm
        residual = np.clip(rng - depth_cm, 0, None)
        return np.where(depth_cm >= 0, (residual * beam.z**2 / beam.a / ALPHA_CM) ** (1 / P_EXPONENT), 0.0)
    return depth_dose(beam, depth_cm)


def _page_values(beam: Beam, scorer: Scorer, keyword: str) -> tuple[list[Axis], np.ndarray]:
    """The page's axes (those with more than one bin, at most two) and its noiseless values on them."""
    by_name = {axis.name: axis for axis in scorer.axes}
    z_axis = by_name.get("Z", Axis("Z", 0, 0, 1))
    axes = [axis for axis in scorer.axes if axis.bins > 1][-2:]
    depth = z_axis.centres - beam.start_z if z_axis.bins > 1 or z_axis.stop > z_axis.start else None
    if depth is None:
        depth = np.array([beam.range_cm / 2])
    longitudinal = _model(beam, keyword, depth)
    if len(axes) == 2 and axes[1].name == "Z":
        width = 0.3 + 0.03 * np.clip(depth, 0, None)
        offsets = axes[0].centres
        profile = np.exp(-(offsets[:, None] ** 2) / (2 * width[None, :] ** 2))
        return axes, profile * longitudinal[None, :]
    if len(axes) == 2:
        a, b = axes[0].centres, axes[1].centres
        return axes, np.exp(-(a[:, None] ** 2 + b[None, :] ** 2) / (2 * 0.5**2)) * longitudinal.mean()
    if axes and axes[0].name != "Z":
        width = 0.3 + 0.03 * float(np.clip(depth, 0, None).mean())
        return axes, np.exp(-(axes[0].centres ** 2) / (2 * width**2)) * longitudinal.mean()
    if axes:
        return axes, longitudinal
    return [], np.array([longitudinal.mean()])


def _axis_json(axis: Axis) -> dict:
    names = {"X": "Position (X)", "Y": "Position (Y)", "Z": "Position (Z)", "R": "Position (R)"}
    return {"name": names[axis.name], "unit": "cm", "values": axis.centres.tolist()}


def build_estimators(beam: Beam, scorers: list[Scorer], primaries: int, seed: int) -> list[dict]:
    """Estimators and pages (REFERENCE section 4) for `primaries` primaries, with noise drawn from `seed`."""
    rng = np.random.default_rng(seed)
    estimators = []
    for scorer in scorers:
        pages = []
        for number, (page_name, keyword) in enumerate(scorer.quantities):
            axes, values = _page_values(beam, scorer, keyword)
            values = np.asarray(values, dtype=float)
            relative_noise = math.sqrt(max(values.size, 1) / max(primaries, 1))
            noisy = np.clip(values * (1 + relative_noise * rng.standard_normal(values.shape)), 0, None)
            unit = QUANTITY_UNITS.get(keyword.lower(), "")
            page = {
                "metadata": {
                    "page_number": str(number),
                    "name": page_name,
                    "unit": unit,
                    "dettyp": keyword.upper(),
                },
                "dimensions": len(axes),
                "data": {"name": page_name, "unit": unit, "values": noisy.ravel(order="F").tolist()},
            }
            for index, axis in enumerate(axes):
                page[f"axis_dim{index + 1}"] = _axis_json(axis)
            pages.append(page)
        metadata = {
            "file_corename": scorer.file_name,
            "page_count": str(len(pages)),
            "number_of_primaries": str(primaries),
            "geotyp": scorer.geo_type,
            "geo_name": scorer.geo_name,
        }
        estimators.append({"name": scorer.name, "metadata": metadata, "pages": pages})
    return estimators


# --- the simulator --------------------------------------------------------------------------------


def _check_knobs(options: dict, scorers: list[Scorer], field: str) -> None:
    """The dummy's knobs within bounds: each task's run time and the bins it scores (its memory) in all pages."""
    seconds = options.get("seconds")
    for value in seconds if isinstance(seconds, list) else [seconds]:
        if value is None:
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= settings.DUMMY_MAX_SECONDS
        ):
            raise InvalidInput(
                f"dummy seconds must be numbers from 0 to {settings.DUMMY_MAX_SECONDS:g} (DUMMY_MAX_SECONDS), "
                f"got {value!r}",
                field=field,
            )
    bins = sum(math.prod(axis.bins for axis in scorer.axes) * max(len(scorer.quantities), 1) for scorer in scorers)
    if bins > settings.DUMMY_MAX_BINS:
        raise InvalidInput(
            f"the dummy scores at most {settings.DUMMY_MAX_BINS} bins in all pages (DUMMY_MAX_BINS); "
            f"this input asks for {bins}",
            field=field,
        )


class DummySimulator:
    """Simulator interface (base.Simulator) over the model above; needs no executable."""

    name = "dummy"

    def prepare(
        self, *, input_type: str, input_json: dict | None, input_files: dict[str, str] | None, ntasks: int = 1
    ) -> PreparedInput:
        """An editor project runs as it is; FILES are SHIELD-HIT12A's (primaries from NSTAT of beam.dat)."""
        if input_type == InputType.EDITOR:
            prepared = PreparedInput(files={}, primaries=editor_primaries(input_json))
            _check_knobs(
                self._options({"input_json": input_json}), editor_beam_and_scorers(input_json)[1], "input_json"
            )
            return prepared
        files = validated_files(input_files, label="dummy")
        if "beam.dat" not in files:
            raise InvalidInput("input_files has no beam.dat", field="input_files")
        prepared = PreparedInput(files=files, primaries=nstat(files["beam.dat"]))
        options = self._options({"input_type": "FILES", "input_files": files})
        _check_knobs(options, files_beam_and_scorers(files)[1], "input_files")
        return prepared

    def check_available(self) -> None:
        """Always available."""

    @staticmethod
    def _options(input_data: dict) -> dict:
        if input_data.get("input_type") == "FILES":
            try:
                return json.loads((input_data.get("input_files") or {}).get("dummy.json") or "{}")
            except ValueError:
                return {}
        options = (input_data.get("input_json") or {}).get("dummy")
        return options if isinstance(options, dict) else {}

    def run(self, run: TaskRun, *, progress: Progress, should_stop: Callable[[], bool]) -> list[dict]:
        """Waits the configured run time while reporting progress, then returns the model's estimators."""
        options = self._options(run.input_data)
        seconds = options.get("seconds")
        if isinstance(seconds, list):
            seconds = seconds[run.task_id] if run.task_id < len(seconds) else None
        if seconds is None:
            seconds = settings.DUMMY_SECONDS_PER_MILLION * run.primaries / 1e6
        seconds = min(max(_number(seconds), 0.0), settings.DUMMY_MAX_SECONDS)
        started = time.monotonic()
        last_report = -math.inf
        while True:
            if should_stop():
                raise SimulationCanceled()
            elapsed = time.monotonic() - started
            done = min(elapsed / seconds, 1.0) if seconds > 0 else 1.0
            if done >= 1.0:
                break
            if elapsed - last_report >= PROGRESS_SECONDS:
                progress(int(run.primaries * done), math.ceil(seconds - elapsed))
                last_report = elapsed
            time.sleep(min(STEP_SECONDS, seconds - elapsed))
        if run.task_id in (options.get("fail_tasks") or []):
            log = f"dummy: task {run.task_id} failed on request (seed {run.seed})\n"
            raise SimulatorFailed(f"task {run.task_id} failed on request", logs={"dummy.log": log})
        if run.input_data.get("input_type") == "FILES":
            beam, scorers = files_beam_and_scorers(run.input_data.get("input_files") or {})
        else:
            beam, scorers = editor_beam_and_scorers(run.input_data.get("input_json") or {})
        progress(run.primaries, 0)
        return build_estimators(beam, scorers, run.primaries, run.seed)
