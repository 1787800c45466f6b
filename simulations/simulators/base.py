"""The interface every simulator implements."""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


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


class Simulator(Protocol):
    name: str

    def convert(self, input_json: dict) -> dict[str, str]:
        """The simulator's input files (name -> text) for an editor project; InvalidInput for what it cannot express."""

    def check_available(self, input_data: dict) -> None:
        """Raises yaptide_site.errors.InvalidInput saying why this input cannot run here (e.g. no executable)."""

    def run(self, run: TaskRun, *, progress: Progress, should_stop: Callable[[], bool]) -> list[dict]:
        """Runs the task and returns its estimators as REFERENCE section 4 JSON.

        Calls `progress` at least every few seconds; polls `should_stop` and, when it is true, kills
        any child process and raises SimulationCanceled. Raises SimulatorFailed with the logs on failure.
        """
