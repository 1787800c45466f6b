"""What the real simulators share: finding the executable, running it in the task's workdir, reading its output.

`run_process` streams the child's output, turns progress lines into `progress` calls, polls `should_stop` and
kills the child's whole process group on cancel or on any error. `estimator_json` turns a pymchelper Estimator
into REFERENCE section 4 JSON, as pymchelper's JsonWriter does (which yaptide's workers use).
"""

import logging
import math
import os
import re
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from yaptide_site.errors import InvalidInput

from .base import Progress, SimulationCanceled, SimulatorFailed

logger = logging.getLogger(__name__)

# Progress is sent at most this often when it changes, and at least this often as a heartbeat.
PROGRESS_MIN_SECONDS = 1.0
HEARTBEAT_SECONDS = 3.0
STOP_POLL_SECONDS = 1.0
# After SIGTERM the process group gets this long to exit before SIGKILL.
TERM_GRACE_SECONDS = 1.0
# Only the tail of a simulator's output is kept for the task's logs.
LOG_TAIL_BYTES = 1_000_000

# A line parser returns (simulated primaries, estimated seconds left or None) for a progress line, else None.
LineParser = Callable[[str], tuple[int, int | None] | None]


def find_executable(*, setting: str, default_name: str, label: str) -> str:
    """The executable named by `setting`, else `default_name` on PATH; InvalidInput says what is missing."""
    configured = getattr(settings, setting, "") or ""
    if configured:
        found = shutil.which(configured)
        if not found:
            raise InvalidInput(f"{label} cannot run here: {setting}={configured!r} is not an executable file")
        return found
    found = shutil.which(default_name)
    if not found:
        raise InvalidInput(f"{label} cannot run here: no '{default_name}' executable on PATH and {setting} is not set")
    return found


def input_files_of(input_data: dict, *, label: str, convert: Callable[[dict], dict[str, str]]) -> dict[str, str]:
    """The input files to write into the workdir; InvalidInput for unsafe file names.

    An EDITOR input brings the files converted at submission; before that (the check at submission) the project
    is converted here, so a project the converter cannot express is refused with the converter's reason.
    """
    files = input_data.get("input_files")
    if str(input_data.get("input_type", "")).upper() == "EDITOR" and not files:
        files = convert(input_data.get("input_json"))
    if not isinstance(files, dict) or not files:
        raise InvalidInput(f"{label} needs input_files")
    for name, text in files.items():
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise InvalidInput(f"input file name {name!r} must be a plain file name")
        if not isinstance(text, str):
            raise InvalidInput(f"input file {name} must be text")
    return files


def write_input_files(workdir: Path, files: dict[str, str]) -> None:
    """Writes the input files into the task's workdir with Unix line endings."""
    workdir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (workdir / name).write_text(text, encoding="utf-8", newline="\n")


class _Lines:
    """Splits a byte stream into text lines on \\n or \\r (progress counters often rewrite one line with \\r)."""

    _split = re.compile(r"\r\n|\r|\n")

    def __init__(self) -> None:
        self._rest = ""

    def feed(self, chunk: bytes) -> list[str]:
        parts = self._split.split(self._rest + chunk.decode("utf-8", errors="replace"))
        self._rest = parts.pop()
        return parts

    def flush(self) -> list[str]:
        rest, self._rest = self._rest, ""
        return [rest] if rest else []


class _Reporter:
    """Sends progress no more often than PROGRESS_MIN_SECONDS, and at least every HEARTBEAT_SECONDS."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.total = total
        self.started = time.monotonic()
        self.primaries = 0
        self.eta: int | None = None
        self.sent_at = -math.inf
        self.sent_primaries = -1

    def note(self, primaries: int, eta: int | None) -> None:
        if primaries < self.primaries:
            return
        self.primaries = primaries
        if eta is None and 0 < primaries <= self.total:
            # No estimate printed: extrapolate from the rate so far.
            eta = round((self.total - primaries) * (time.monotonic() - self.started) / primaries)
        self.eta = eta

    def tick(self, *, force: bool = False) -> None:
        now = time.monotonic()
        changed = self.primaries != self.sent_primaries
        due = now - self.sent_at >= (PROGRESS_MIN_SECONDS if changed else HEARTBEAT_SECONDS)
        if not due and not (force and changed):
            return
        self.sent_at = now
        self.sent_primaries = self.primaries
        self.progress(self.primaries, self.eta)


def _kill_group(process: subprocess.Popen) -> None:
    """SIGTERM to the child's process group, SIGKILL after TERM_GRACE_SECONDS; the child is reaped."""
    for sig, wait in ((signal.SIGTERM, TERM_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            if sig == signal.SIGTERM:
                # The leader is gone; make sure nothing it started keeps running.
                os.killpg(process.pid, signal.SIGKILL)
            break
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            break
    if process.poll() is None:
        process.wait()


def collect_logs(workdir: Path, patterns: Iterable[str]) -> dict[str, str]:
    """Text of the simulator's own log files (tail only), by file name."""
    logs = {}
    for pattern in patterns:
        for path in sorted(workdir.glob(pattern)):
            if path.is_file():
                with path.open("rb") as handle:
                    handle.seek(max(0, path.stat().st_size - LOG_TAIL_BYTES))
                    logs[path.name] = handle.read().decode("utf-8", errors="replace")
    return logs


def failure(message: str, logs: dict[str, str] | None = None) -> SimulatorFailed:
    """A SimulatorFailed whose logs start with error.log saying why (the worker keeps the logs, not the message)."""
    return SimulatorFailed(message, logs={"error.log": f"{message}\n", **(logs or {})})


def run_logs(label: str, output: str, workdir: Path, patterns: Iterable[str]) -> dict[str, str]:
    """The logs kept for a failed run: the simulator's output and its own log files."""
    return {f"{label}_output.log": output, **collect_logs(workdir, patterns)}


def run_process(
    *,
    command: list[str],
    workdir: Path,
    label: str,
    parse_line: LineParser,
    progress: Progress,
    should_stop: Callable[[], bool],
    total_primaries: int,
    watch_file: Callable[[], Path | None] | None = None,
    log_patterns: Iterable[str] = (),
) -> str:
    """Runs `command` in `workdir` and returns its output (tail).

    Progress lines come from the child's stdout/stderr, or from the file `watch_file` finds once it exists.
    Raises SimulationCanceled once `should_stop` is true, and SimulatorFailed with the logs on a non-zero exit;
    on any exception the whole process group is killed first.
    """
    logger.info("Running %s in %s: %s", label, workdir, " ".join(command))
    try:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as error:
        raise failure(f"{label} could not start: {error}") from error

    reporter = _Reporter(progress, total_primaries)
    output = bytearray()
    stdout_lines, file_lines = _Lines(), _Lines()
    watched = None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    stdout_open, exited_at, next_stop_check = True, None, 0.0

    def handle(lines: list[str]) -> None:
        for line in lines:
            found = parse_line(line)
            if found is not None:
                reporter.note(*found)

    try:
        reporter.tick()
        while True:
            if stdout_open:
                for _ in selector.select(timeout=0.2):
                    chunk = os.read(process.stdout.fileno(), 65536)
                    if not chunk:
                        stdout_open = False
                        selector.unregister(process.stdout)
                        break
                    output += chunk
                    del output[:-LOG_TAIL_BYTES]
                    if watch_file is None:
                        handle(stdout_lines.feed(chunk))
            else:
                time.sleep(0.2)
            if watch_file is not None:
                if watched is None and (path := watch_file()) is not None:
                    watched = path.open("rb")
                if watched is not None:
                    handle(file_lines.feed(watched.read()))
            now = time.monotonic()
            if process.poll() is not None:
                # A grandchild may hold the pipe open after the simulator exited; don't wait for it long.
                exited_at = exited_at or now
                if not stdout_open or now - exited_at > 1.0:
                    break
            if now >= next_stop_check:
                next_stop_check = now + STOP_POLL_SECONDS
                if should_stop():
                    logger.info("Stopping %s (pid %s): the task was canceled", label, process.pid)
                    _kill_group(process)
                    raise SimulationCanceled(f"{label} was stopped")
            reporter.tick()
        handle(stdout_lines.flush() if watch_file is None else file_lines.flush())
        reporter.tick(force=True)
    except SoftTimeLimitExceeded as error:
        # Keep what the simulator printed: the task is failed with these logs.
        _kill_group(process)
        text = output.decode("utf-8", errors="replace")
        message = f"{label} was stopped: the task's time limit was reached"
        raise failure(message, run_logs(label, text, workdir, log_patterns)) from error
    finally:
        selector.close()
        if watched is not None:
            watched.close()
        _kill_group(process)
        process.stdout.close()

    text = output.decode("utf-8", errors="replace")
    if process.returncode != 0:
        how = f"signal {-process.returncode}" if process.returncode < 0 else f"exit code {process.returncode}"
        raise failure(f"{label} failed with {how}", run_logs(label, text, workdir, log_patterns))
    return text


def _text(value) -> str:
    """A metadata value as pymchelper's JsonWriter writes it (a string without double quotes); bytes decoded."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return str(value).replace('"', "")


def estimator_json(estimator, *, name: str) -> dict:
    """One pymchelper Estimator as REFERENCE section 4 JSON (pymchelper's JsonWriter layout, values kept finite).

    Pages of more than two dimensions are left out (results store 0-, 1- and 2-D pages); non-finite values become 0.
    """
    estimator.file_corename = name
    skip = {"data", "data_raw", "error", "error_raw", "counter", "pages", "x", "y", "z"}
    metadata = {key: _text(value) for key, value in vars(estimator).items() if key not in skip}
    page_skip = {"data_raw", "error_raw", "estimator", "diff_axis1", "diff_axis2"} | set(vars(estimator))
    pages = []
    for index, page in enumerate(estimator.pages):
        dimensions = page.dimension
        if dimensions > 2:
            logger.warning("Leaving out page %s of %s: %s-D pages are not stored", index, name, dimensions)
            continue
        if not hasattr(page, "page_number"):
            page.page_number = index
        values = np.nan_to_num(np.asarray(page.data_raw, dtype=float).ravel(), nan=0.0, posinf=0.0, neginf=0.0)
        page_json = {
            "metadata": {key: _text(value) for key, value in vars(page).items() if key not in page_skip},
            "dimensions": dimensions,
            "data": {"name": str(page.name), "unit": str(page.unit), "values": values.tolist()},
        }
        for axis_number in range(dimensions):
            axis = page.plot_axis(axis_number)
            page_json[f"axis_dim{axis_number + 1}"] = {
                "name": str(axis.name),
                "unit": str(axis.unit),
                "values": axis.data.tolist(),
            }
        pages.append(page_json)
    metadata["page_count"] = str(len(pages))
    return {"name": name, "metadata": metadata, "pages": pages}


def read_estimators(
    paths: Iterable[Path],
    *,
    label: str,
    read: Callable[[Path], object | None],
    name_of: Callable[[Path, object], str],
    failure_logs: Callable[[], dict[str, str]],
) -> list[dict]:
    """The output files read with pymchelper (`read`), as JSON, one estimator per file.

    Raises SimulatorFailed with `failure_logs()` when no file can be read.
    """
    estimators, problems = [], []
    for path in paths:
        try:
            estimator = read(path)
        except Exception as error:  # noqa: BLE001 - pymchelper raises bare Exceptions on unknown formats
            problems.append(f"{path.name}: {error}")
            continue
        if estimator is None or not estimator.pages:
            problems.append(f"{path.name}: no pages")
            continue
        estimators.append(estimator_json(estimator, name=name_of(path, estimator)))
    if problems:
        logger.warning("%s output files pymchelper could not read: %s", label, "; ".join(problems))
    if not estimators:
        detail = f" ({'; '.join(problems)})" if problems else ""
        raise failure(f"{label} finished without output files pymchelper can read{detail}", failure_logs())
    return estimators
