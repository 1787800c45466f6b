"""The interface every simulator implements."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from yaptide_site.errors import InvalidInput


class SimulationCanceled(Exception):
    """Raised by a simulator when `should_stop` said to stop; its process has been killed."""


class SimulatorFailed(Exception):
    """A run that did not produce results; `logs` maps file names to text kept as the task's Logfiles."""

    def __init__(self, message: str, *, logs: dict[str, str] | None = None):
        super().__init__(message)
        self.logs = logs or {}


@dataclass(frozen=True)
class TaskRun:
    """What one task runs: the stored Input data (REFERENCE section 3), its primaries and its seed."""

    input_data: dict
    primaries: int
    seed: int
    workdir: Path
    task_id: int = 0  # the task's ordinal in its simulation (for logs, and the dummy's failure hook)


# progress(simulated_primaries, estimated_seconds_left or None)
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class PreparedInput:
    """A submission's input as its tasks run it: the simulator's files (converted for an editor project) and the
    number of primaries of the whole job."""

    files: dict[str, str]
    primaries: int


# The most primaries a job may ask for: 2^53, the largest whole number the UI (JavaScript) holds exactly.
MAX_PRIMARIES = 2**53


def positive_count(value: Any, where: str) -> int:
    """A count of primaries from 1 to MAX_PRIMARIES, given as a number or numeric text; InvalidInput names
    `where` (and the request field it is in: input_json for an editor project, else input_files) otherwise."""
    field = "input_json" if where.startswith("input_json") else "input_files"
    try:
        if isinstance(value, bool):
            raise TypeError
        text = value.strip() if isinstance(value, str) else None
        # Whole numbers exactly (no float rounding), others through float ("1e6"); inf and 1e400 overflow.
        number = int(text) if text is not None and text.lstrip("+-").isdigit() else int(float(value))
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{where} must be a whole number, got {value!r}", field=field) from None
    if not 1 <= number <= MAX_PRIMARIES:
        raise InvalidInput(f"{where} must be from 1 to {MAX_PRIMARIES}, got {number}", field=field)
    return number


def editor_primaries(project: Any) -> int:
    """The number of primaries an editor project asks for: its beam's numberOfParticles."""
    beam = project.get("beam") if isinstance(project, dict) else None
    if not isinstance(beam, dict) or "numberOfParticles" not in beam:
        raise InvalidInput("input_json.beam.numberOfParticles is missing", field="input_json")
    return positive_count(beam["numberOfParticles"], "input_json.beam.numberOfParticles")


class Simulator(Protocol):
    name: str

    def prepare(
        self, *, input_type: str, input_json: dict | None, input_files: dict[str, str] | None, ntasks: int = 1
    ) -> PreparedInput:
        """Validates a submission's input (converting an editor project) and counts its primaries.

        An editor project is converted as each of its `ntasks` tasks runs it: its beam's numberOfParticles
        divided by ntasks (remainder dropped), as yaptide did; `primaries` stays the whole job's.

        Raises yaptide_site.errors.InvalidInput saying what is wrong, before anything is stored.
        """

    def check_available(self) -> None:
        """Raises InvalidInput saying why this simulator cannot run here (e.g. its executable is missing)."""

    def run(self, run: TaskRun, *, progress: Progress, should_stop: Callable[[], bool]) -> list[dict]:
        """Runs the task and returns its estimators as REFERENCE section 4 JSON.

        Calls `progress` at least every few seconds; polls `should_stop` and, when it is true, kills
        any child process and raises SimulationCanceled. Raises SimulatorFailed with the logs on failure.
        """
