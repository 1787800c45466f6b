"""SHIELD-HIT12A: runs the `shieldhit` executable on beam.dat, geo.dat, mat.dat, detect.dat and reads its .bdo files."""

import re
from pathlib import Path

from yaptide_site.errors import InvalidInput

from .base import Progress, TaskRun
from .editor import shieldhit as editor_shieldhit
from .process import failure, find_executable, input_files_of, read_estimators, run_logs, run_process, write_input_files

LABEL = "SHIELD-HIT12A"
REQUIRED_FILES = ("beam.dat", "geo.dat", "mat.dat", "detect.dat")
LOG_PATTERNS = ("*.log",)
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


def estimator_name(path: Path, seed: int) -> str:
    """The output's core name: SHIELD-HIT12A adds the RNG seed (-N) as a 4-digit suffix to each .bdo file."""
    stem = path.stem
    for suffix in (f"{seed:04d}", f"{seed}"):
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)].rstrip("_") or stem
    return stem


def _read_bdo(path: Path):
    from pymchelper.input_output import fromfile

    return fromfile(str(path))


class ShieldhitSimulator:
    """Runs SHIELD-HIT12A with the task's primaries (-n) and seed (-N); results come from its .bdo files."""

    name = "shieldhit"

    def convert(self, input_json: dict) -> dict[str, str]:
        """The SHIELD-HIT12A input files of an editor project (InvalidInput if inexpressible)."""
        return editor_shieldhit.convert(input_json)

    def _files(self, input_data: dict) -> dict[str, str]:
        files = input_files_of(input_data, label=LABEL, convert=self.convert)
        missing = [name for name in REQUIRED_FILES if name not in files]
        if missing:
            raise InvalidInput(f"{LABEL} input_files need {', '.join(missing)}", field="input_files")
        return files

    def check_available(self, input_data: dict) -> None:
        """Raises InvalidInput when the input is not SHIELD-HIT12A files or `shieldhit` cannot be found."""
        self._files(input_data)
        find_executable(setting="SHIELDHIT_PATH", default_name="shieldhit", label=LABEL)

    def command(self, executable: str, run: TaskRun) -> list[str]:
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

    def run(self, run: TaskRun, *, progress: Progress, should_stop) -> list[dict]:
        """Runs one task in run.workdir and returns its estimators (one per .bdo file)."""
        try:
            files = self._files(run.input_data)
            executable = find_executable(setting="SHIELDHIT_PATH", default_name="shieldhit", label=LABEL)
        except InvalidInput as error:
            raise failure(error.message) from error
        workdir = Path(run.workdir)
        write_input_files(workdir, files)
        output = run_process(
            command=self.command(executable, run),
            workdir=workdir,
            label=LABEL,
            parse_line=parse_progress,
            progress=progress,
            should_stop=should_stop,
            total_primaries=run.primaries,
            log_patterns=LOG_PATTERNS,
        )
        return read_estimators(
            sorted(workdir.glob("*.bdo")),
            label=LABEL,
            read=_read_bdo,
            name_of=lambda path, _estimator: estimator_name(path, run.seed),
            failure_logs=lambda: run_logs(LABEL, output, workdir, LOG_PATTERNS),
        )
