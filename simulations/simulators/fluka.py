"""FLUKA: runs `rfluka -N0 -M1` on the task's copy of the *.inp file and reads its USRxxx binary outputs."""

import re
from pathlib import Path

from yaptide_site.errors import InvalidInput

from .base import Progress, TaskRun
from .editor import fluka as editor_fluka
from .process import failure, find_executable, input_files_of, read_estimators, run_logs, run_process, write_input_files

LABEL = "FLUKA"
# FLUKA's RANDOMIZ seed (WHAT(2)) must be below 9E8.
MAX_SEED = 899_999_999
_FREE_SPLIT = re.compile(r"[\s,]+")
_START = re.compile(r"^\s*START\b", re.MULTILINE | re.IGNORECASE)


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


def fluka_seed(seed: int) -> int:
    """The task's seed mapped into FLUKA's RANDOMIZ range 1..MAX_SEED."""
    return 1 + (seed - 1) % MAX_SEED


def rewrite_input(text: str, *, primaries: int, seed: int) -> str:
    """The input with START WHAT(1) = primaries and RANDOMIZ (1., seed), added before START if missing.

    Cards keep the format they are in (fixed columns, or free between FREE and FIXED cards).
    """
    lines, free, has_seed, started = [], False, False, False
    for line in text.splitlines():
        card = _card_name(line, free=free)
        if card == "FREE":
            free = True
        elif card == "FIXED":
            free = False
        elif card == "RANDOMIZ" and not started:
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


def _read_usrxxx(path: Path):
    from pymchelper.input_output import fromfile

    return fromfile(str(path))


class FlukaSimulator:
    """Runs FLUKA with the task's primaries (START card) and seed (RANDOMIZ card); results from *_fort.NN files."""

    name = "fluka"

    def convert(self, input_json: dict) -> dict[str, str]:
        """FLUKA input files (fl_sim.inp, info.json) of an editor project (InvalidInput if inexpressible)."""
        return editor_fluka.convert(input_json)

    def _files(self, input_data: dict) -> tuple[dict[str, str], str]:
        files = input_files_of(input_data, label=LABEL, convert=self.convert)
        inputs = [name for name in files if name.endswith(".inp")]
        if len(inputs) != 1:
            raise InvalidInput(
                f"{LABEL} input_files need exactly one .inp file, got {len(inputs)}", field="input_files"
            )
        if not _START.search(files[inputs[0]]):
            raise InvalidInput(f"{inputs[0]} has no START card", field="input_files")
        return files, inputs[0]

    @staticmethod
    def output_names(input_data: dict) -> dict[str, str]:
        """Output unit ("21") -> the editor output's name, for an EDITOR input; empty for FILES."""
        if str(input_data.get("input_type", "")).upper() != "EDITOR":
            return {}
        return {str(unit): name for unit, name in editor_fluka.output_units(input_data.get("input_json")).items()}

    def check_available(self, input_data: dict) -> None:
        """Raises InvalidInput when the input is not one FLUKA .inp file or `rfluka` cannot be found."""
        self._files(input_data)
        find_executable(setting="FLUKA_PATH", default_name="rfluka", label=LABEL)

    def command(self, executable: str, input_name: str) -> list[str]:
        """rfluka with no previous cycles (-N0) and one cycle (-M1) of the input (named without .inp)."""
        return [executable, "-N0", "-M1", input_name.removesuffix(".inp")]

    def run(self, run: TaskRun, *, progress: Progress, should_stop) -> list[dict]:
        """Runs one task in run.workdir and returns its estimators (one per FLUKA output unit)."""
        try:
            files, input_name = self._files(run.input_data)
            executable = find_executable(setting="FLUKA_PATH", default_name="rfluka", label=LABEL)
        except InvalidInput as error:
            raise failure(error.message) from error
        workdir = Path(run.workdir)
        stem = input_name.removesuffix(".inp")
        files = {**files, input_name: rewrite_input(files[input_name], primaries=run.primaries, seed=run.seed)}
        write_input_files(workdir, files)
        log_patterns = (f"{stem}001.out", f"{stem}001.err", f"{stem}001.log", "fluka_*/*.out", "fluka_*/*.err")
        output = run_process(
            command=self.command(executable, input_name),
            workdir=workdir,
            label=LABEL,
            parse_line=FlukaProgress(),
            progress=progress,
            should_stop=should_stop,
            total_primaries=run.primaries,
            # rfluka runs FLUKA in a fluka_<pid> directory; progress is in the cycle's .out file there.
            watch_file=lambda: next(iter(sorted(workdir.glob(f"fluka_*/{stem}001.out"))), None),
            log_patterns=log_patterns,
        )
        names = self.output_names(run.input_data)
        return read_estimators(
            sorted(workdir.glob(f"{stem}001_fort.*")),
            label=LABEL,
            read=_read_usrxxx,
            # An editor output's name, else named by output unit as pymchelper and yaptide do ("21" for _fort.21).
            name_of=lambda path, _estimator: names.get(path.name.rsplit(".", 1)[-1], path.name.rsplit(".", 1)[-1]),
            failure_logs=lambda: run_logs(LABEL, output, workdir, log_patterns),
        )
