"""FLUKA: runs `rfluka -N0 -M1` on the task's copy of the *.inp file and reads its USRxxx binary outputs."""

import re
from pathlib import Path

from yaptide_site.errors import InvalidInput

from .base import TaskRun, positive_count
from .editor import fluka as editor_fluka
from .process import ProcessSimulator

LABEL = "FLUKA"
# FLUKA's RANDOMIZ seed (WHAT(2)) must be below 9E8.
MAX_SEED = 899_999_999
_FREE_SPLIT = re.compile(r"[\s,]+")


def _number(value: float) -> str:
    """A WHAT field of a fixed-format card: 10 characters, as flair writes it."""
    from pymchelper.flair.common.bmath import format_number

    return format_number(value, 10, useD=False).rjust(10)


def _set_whats(line: str, whats: dict[int, float], *, free: bool) -> str:
    if free:
        tokens = _FREE_SPLIT.split(line.strip())
        tokens += [""] * (max(whats) + 1 - len(tokens))
        for what, value in whats.items():
            tokens[what] = _number(value).strip()
        return " ".join(token or "0" for token in tokens)
    padded = line.ljust(80)
    for what, value in whats.items():
        padded = padded[: 10 * what] + _number(value) + padded[10 * what + 10 :]
    return padded.rstrip()


def _card_name(line: str, *, free: bool) -> str:
    if line.startswith(("*", "!")) or not line.strip():
        return ""
    if free:
        return _FREE_SPLIT.split(line.strip(), maxsplit=1)[0].upper()
    return line[:10].strip().upper()


def _cards(text: str):
    """(card name, line, free format?) of each line, following FREE and FIXED cards."""
    free = False
    for line in text.splitlines():
        card = _card_name(line, free=free)
        yield card, line, free
        if card == "FREE":
            free = True
        elif card == "FIXED":
            free = False


def start_primaries(text: str, *, where: str) -> int:
    """WHAT(1) of the first START card (fixed columns or free format, indented or not)."""
    for card, line, free in _cards(text):
        if card == "START":
            what = _FREE_SPLIT.split(line.strip())[1:2] if free else [line[10:20]]
            return positive_count(
                (what or [""])[0].strip().replace("D", "E").replace("d", "e"), f"START card of {where}"
            )
    raise InvalidInput(f"{where} has no START card", field="input_files")


def fluka_seed(seed: int) -> int:
    """The task's seed mapped into FLUKA's RANDOMIZ range 1..MAX_SEED."""
    return 1 + (seed - 1) % MAX_SEED


def rewrite_input(text: str, *, primaries: int, seed: int) -> str:
    """The input with START WHAT(1) = primaries and RANDOMIZ (1., seed), added before START if missing.

    Cards keep the format they are in (fixed columns, or free between FREE and FIXED cards).
    """
    lines, has_seed, started = [], False, False
    for card, line, free in _cards(text):
        if card == "RANDOMIZ" and not started:
            line = _set_whats(line, {1: 1, 2: fluka_seed(seed)}, free=free)
            has_seed = True
        elif card == "START" and not started:
            if not has_seed:
                lines.append(_set_whats("RANDOMIZ", {1: 1, 2: fluka_seed(seed)}, free=free))
                has_seed = True
            line = _set_whats(line, {1: primaries}, free=free)
            started = True
        lines.append(line)
    return "\n".join(lines) + "\n"


class FlukaProgress:
    """Reads the progress lines FLUKA writes to its .out file after each "NEXT SEEDS:" line.

    A progress line has six numbers: primaries handled, primaries left, ..., average seconds per primary, ...
    """

    def __init__(self) -> None:
        self.in_progress = False

    def __call__(self, line: str) -> tuple[int, int | None] | None:
        if line.startswith(" NEXT SEEDS:"):
            self.in_progress = True
            return None
        if line.startswith(" All cases handled by Feeder"):
            self.in_progress = False
            return None
        if not self.in_progress:
            return None
        parts = line.split()
        if len(parts) != 6:
            return None
        try:
            done, left, _, per_primary = (float(part) for part in parts[:4])
        except ValueError:
            return None
        return int(done), round(left * per_primary) if per_primary < 1e29 else None


class FlukaSimulator(ProcessSimulator):
    """Runs FLUKA with the task's primaries (START card) and seed (RANDOMIZ card); results from *_fort.NN files."""

    name = "fluka"
    label = LABEL
    executable_setting = "FLUKA_PATH"
    default_executable = "rfluka"
    log_patterns = ("{stem}001.out", "{stem}001.err", "{stem}001.log", "fluka_*/*.out", "fluka_*/*.err")

    def convert(self, project: dict) -> dict[str, str]:
        """The FLUKA input files of an editor project (InvalidInput if inexpressible)."""
        return editor_fluka.convert(project)

    def primaries_in(self, files: dict[str, str]) -> int:
        """WHAT(1) of the START card of the one .inp file."""
        name = self._input_name(files)
        return start_primaries(files[name], where=name)

    @staticmethod
    def _input_name(files: dict[str, str]) -> str:
        inputs = [name for name in files if name.endswith(".inp")]
        if len(inputs) != 1:
            raise InvalidInput(
                f"{LABEL} input_files need exactly one .inp file, got {len(inputs)}", field="input_files"
            )
        return inputs[0]

    def input_stem(self, files: dict[str, str]) -> str:
        return self._input_name(files).removesuffix(".inp")

    def task_files(self, files: dict[str, str], run: TaskRun) -> dict[str, str]:
        name = self._input_name(files)
        return {**files, name: rewrite_input(files[name], primaries=run.primaries, seed=run.seed)}

    def command(self, executable: str, run: TaskRun, files: dict[str, str]) -> list[str]:
        """rfluka with no previous cycles (-N0) and one cycle (-M1) of the input (named without .inp)."""
        return [executable, "-N0", "-M1", self.input_stem(files)]

    def line_parser(self):
        return FlukaProgress()

    def watch_file(self, workdir: Path, files: dict[str, str]):
        # rfluka runs FLUKA in a fluka_<pid> directory; progress is in the cycle's .out file there.
        stem = self.input_stem(files)
        return lambda: next(iter(sorted(workdir.glob(f"fluka_*/{stem}001.out"))), None)

    def output_files(self, workdir: Path, files: dict[str, str]) -> list[Path]:
        return sorted(workdir.glob(f"{self.input_stem(files)}001_fort.*"))

    def estimator_name(self, path: Path, run: TaskRun) -> str:
        """An editor output's name for its unit; else named by output unit as pymchelper and yaptide do ("21")."""
        unit = path.name.rsplit(".", 1)[-1]
        if str(run.input_data.get("input_type", "")).upper() == "EDITOR":
            names = editor_fluka.output_units(run.input_data.get("input_json") or {})
            return names.get(int(unit), unit) if unit.isdigit() else unit
        return unit
