"""SHIELD-HIT12A: runs the `shieldhit` executable on beam.dat, geo.dat, mat.dat, detect.dat and reads its .bdo files."""

import re
from pathlib import Path

from yaptide_site.errors import InvalidInput

from .base import TaskRun, positive_count
from .editor import shieldhit as editor_shieldhit
from .process import ProcessSimulator

LABEL = "SHIELD-HIT12A"
REQUIRED_FILES = ("beam.dat", "geo.dat", "mat.dat", "detect.dat")
LOG_PATTERNS = ("*.log",)
_NSTAT = re.compile(r"^\s*NSTAT\s+(\S+)", re.MULTILINE | re.IGNORECASE)
# "Primary particle no.    5000 ETR:   0 hour(s)  1 minute(s) 12 second(s)", as yaptide's workers parse it.
_PROGRESS = re.compile(
    r"Primary particle no\.\s*(\d+)\s+ETR:\s*(\d+)\s*hour\S*\s*(\d+)\s*minute\S*\s*(\d+)\s*second", re.IGNORECASE
)


def parse_progress(line: str) -> tuple[int, int | None] | None:
    """(simulated primaries, seconds left) from a SHIELD-HIT12A progress line."""
    found = _PROGRESS.search(line)
    if not found:
        return None
    primaries, hours, minutes, seconds = (int(group) for group in found.groups())
    return primaries, hours * 3600 + minutes * 60 + seconds


def nstat(beam_dat: str) -> int:
    """The number of primaries of a SHIELD-HIT12A beam.dat (its NSTAT card, in any case, indented or not)."""
    found = _NSTAT.search(beam_dat)
    if not found:
        raise InvalidInput("beam.dat has no NSTAT line", field="input_files")
    return positive_count(found.group(1), "NSTAT in beam.dat")


def estimator_name(path: Path, seed: int) -> str:
    """The output's core name: SHIELD-HIT12A adds the RNG seed (-N) as a 4-digit suffix to each .bdo file."""
    stem = path.stem
    for suffix in (f"{seed:04d}", f"{seed}"):
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)].rstrip("_") or stem
    return stem


class ShieldhitSimulator(ProcessSimulator):
    """Runs SHIELD-HIT12A with the task's primaries (-n) and seed (-N); results come from its .bdo files."""

    name = "shieldhit"
    label = LABEL
    executable_setting = "SHIELDHIT_PATH"
    default_executable = "shieldhit"
    log_patterns = LOG_PATTERNS

    def convert(self, project: dict) -> dict[str, str]:
        """The SHIELD-HIT12A input files of an editor project (InvalidInput if inexpressible)."""
        return editor_shieldhit.convert(project)

    def primaries_in(self, files: dict[str, str]) -> int:
        """NSTAT of beam.dat; the four input files must all be there."""
        missing = [name for name in REQUIRED_FILES if name not in files]
        if missing:
            raise InvalidInput(f"{LABEL} input_files need {', '.join(missing)}", field="input_files")
        return nstat(files["beam.dat"])

    def command(self, executable: str, run: TaskRun, files: dict[str, str]) -> list[str]:
        """The command line: input files by name, primaries, RNG seed, then the working directory."""
        return [
            executable,
            "--beamfile=beam.dat",
            "--geofile=geo.dat",
            "--matfile=mat.dat",
            "--detectfile=detect.dat",
            "-n",
            str(run.primaries),
            "-N",
            str(run.seed),
            str(run.workdir),
        ]

    def line_parser(self):
        return parse_progress

    def output_files(self, workdir: Path, files: dict[str, str]) -> list[Path]:
        return sorted(workdir.glob("*.bdo"))

    def estimator_name(self, path: Path, run: TaskRun) -> str:
        return estimator_name(path, run.seed)
