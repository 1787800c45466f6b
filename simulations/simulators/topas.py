"""TOPAS: runs `topas <parameter file>` on the task's copy of the input and reads its CSV scorer outputs."""

import re
from pathlib import Path

from yaptide_site.errors import InvalidInput

from .base import Progress, TaskRun
from .editor import topas as editor_topas
from .process import failure, find_executable, input_files_of, read_estimators, run_logs, run_process, write_input_files

LABEL = "TOPAS"
# TOPAS seeds are 32-bit signed integers.
MAX_SEED = 2**31 - 1
# TOPAS parameter names are case-insensitive; the value is the first token after "=", a comment may follow.
_HISTORIES = re.compile(r"^(\s*i:So/[^/\s]+/NumberOfHistoriesInRun\s*=\s*)(\S+)", re.MULTILINE | re.IGNORECASE)
_SEED = re.compile(r"^(\s*i:Ts/Seed\s*=\s*)(\S+)", re.MULTILINE | re.IGNORECASE)
_INTERVAL = re.compile(r"^(\s*i:Ts/ShowHistoryCountAtInterval\s*=\s*)(\S+)", re.MULTILINE | re.IGNORECASE)
# "Begin processing for Run: 0, History: 1000" (TsEventAction), possibly after a time stamp or on one \r line.
_PROGRESS = re.compile(r"Begin processing for Run:\s*\d+,\s*History:\s*(\d+)")


def parse_progress(line: str) -> tuple[int, int | None] | None:
    """(histories done, None) from a TOPAS history count line; the time left is estimated from the rate."""
    found = _PROGRESS.search(line)
    return (int(found.group(1)), None) if found else None


def _set_parameter(text: str, pattern: re.Pattern, line: str, value: int) -> str:
    if pattern.search(text):
        return pattern.sub(lambda found: f"{found.group(1)}{value}", text)
    return text.rstrip("\n") + f"\n{line} = {value}\n"


def rewrite_parameters(text: str, *, primaries: int, seed: int) -> str:
    """The parameter file with every source's NumberOfHistoriesInRun, Ts/Seed and a history count interval set."""
    text = _HISTORIES.sub(lambda found: f"{found.group(1)}{primaries}", text)
    text = _set_parameter(text, _SEED, "i:Ts/Seed", 1 + (seed - 1) % MAX_SEED)
    # About a hundred progress lines per run.
    return _set_parameter(text, _INTERVAL, "i:Ts/ShowHistoryCountAtInterval", max(1, primaries // 100))


def _read_csv(path: Path):
    from pymchelper.estimator import Estimator
    from pymchelper.readers.topas import TopasReader

    estimator = Estimator()
    return estimator if TopasReader(str(path)).read(estimator) else None


class TopasSimulator:
    """Runs TOPAS with the task's histories and seed written into its parameter file; results from CSV scorers."""

    name = "topas"

    def convert(self, input_json: dict) -> dict[str, str]:
        """TOPAS input files (topas_config.txt, info.json) of an editor project (InvalidInput if inexpressible)."""
        return editor_topas.convert(input_json)

    def _files(self, input_data: dict) -> tuple[dict[str, str], str]:
        files = input_files_of(input_data, label=LABEL, convert=self.convert)
        # The main parameter file is the one that sets the histories (as counted at submission).
        main = next((name for name, text in files.items() if name.endswith(".txt") and _HISTORIES.search(text)), None)
        if main is None:
            raise InvalidInput(f"{LABEL} input_files need a .txt parameter file with NumberOfHistoriesInRun")
        return files, main

    def check_available(self, input_data: dict) -> None:
        """Raises InvalidInput when the input has no TOPAS parameter file or `topas` cannot be found."""
        self._files(input_data)
        find_executable(setting="TOPAS_PATH", default_name="topas", label=LABEL)

    def command(self, executable: str, parameter_file: str) -> list[str]:
        """topas with the main parameter file."""
        return [executable, parameter_file]

    def run(self, run: TaskRun, *, progress: Progress, should_stop) -> list[dict]:
        """Runs one task in run.workdir and returns its estimators (one per CSV scorer file)."""
        try:
            files, main = self._files(run.input_data)
            executable = find_executable(setting="TOPAS_PATH", default_name="topas", label=LABEL)
        except InvalidInput as error:
            raise failure(error.message) from error
        workdir = Path(run.workdir)
        files = {**files, main: rewrite_parameters(files[main], primaries=run.primaries, seed=run.seed)}
        write_input_files(workdir, files)
        output = run_process(
            command=self.command(executable, main),
            workdir=workdir,
            label=LABEL,
            parse_line=parse_progress,
            progress=progress,
            should_stop=should_stop,
            total_primaries=run.primaries,
        )
        return read_estimators(
            sorted(path for path in workdir.glob("*.csv") if path.name not in files),
            label=LABEL,
            read=_read_csv,
            name_of=lambda path, _estimator: path.stem,
            failure_logs=lambda: run_logs(LABEL, output, workdir, ()),
        )
