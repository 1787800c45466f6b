"""TOPAS: runs `topas <parameter file>` on the task's copy of the input and reads its CSV scorer outputs."""

import re
from pathlib import Path

from yaptide_site.errors import InvalidInput

from .base import TaskRun, positive_count
from .editor import topas as editor_topas
from .process import ProcessSimulator

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


class TopasSimulator(ProcessSimulator):
    """Runs TOPAS with the task's histories and seed written into its parameter file; results from CSV scorers."""

    name = "topas"
    label = LABEL
    executable_setting = "TOPAS_PATH"
    default_executable = "topas"

    def convert(self, project: dict) -> dict[str, str]:
        """The TOPAS input files of an editor project (InvalidInput if inexpressible)."""
        return editor_topas.convert(project)

    @staticmethod
    def _main(files: dict[str, str]) -> str:
        # The main parameter file is the one that sets the histories.
        main = next((name for name, text in files.items() if name.endswith(".txt") and _HISTORIES.search(text)), None)
        if main is None:
            raise InvalidInput(
                f"{LABEL} input_files need a .txt parameter file with NumberOfHistoriesInRun", field="input_files"
            )
        return main

    def primaries_in(self, files: dict[str, str]) -> int:
        """NumberOfHistoriesInRun of the main parameter file (parameter names in any case)."""
        main = self._main(files)
        return positive_count(_HISTORIES.search(files[main]).group(2), f"NumberOfHistoriesInRun in {main}")

    def task_files(self, files: dict[str, str], run: TaskRun) -> dict[str, str]:
        main = self._main(files)
        return {**files, main: rewrite_parameters(files[main], primaries=run.primaries, seed=run.seed)}

    def command(self, executable: str, run: TaskRun, files: dict[str, str]) -> list[str]:
        """topas with the main parameter file."""
        return [executable, self._main(files)]

    def line_parser(self):
        return parse_progress

    def output_files(self, workdir: Path, files: dict[str, str]) -> list[Path]:
        return sorted(path for path in workdir.glob("*.csv") if path.name not in files)

    def read_output(self, path: Path):
        return _read_csv(path)
