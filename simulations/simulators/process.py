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
from typing import Any

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings

from yaptide_site.errors import InvalidInput

from ..choices import InputType
from .base import PreparedInput, Progress, SimulationCanceled, SimulatorFailed, TaskRun, editor_primaries
from .editor import split_primaries

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


def validated_files(input_files: Any, *, label: str) -> dict[str, str]:
    """A FILES input's files; InvalidInput for a missing input or unsafe file names."""
    if not isinstance(input_files, dict) or not input_files:
        raise InvalidInput(f"{label} needs input_files", field="input_files")
    for name, text in input_files.items():
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise InvalidInput(f"input file name {name!r} must be a plain file name", field="input_files")
        if not isinstance(text, str):
            raise InvalidInput(f"input file {name} must be text", field="input_files")
    return input_files


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


class ProcessSimulator:
    """The shared life of a simulator that runs an executable: prepare the input at submission, then per task
    write the files, run the executable with the task's primaries and seed, and read its output files.

    A subclass names its executable and says how its input is read (`primaries_in`, `convert`), what a task
    changes in it (`task_files`), its command line and its output files.
    """

    name = ""
    label = ""
    executable_setting = ""
    default_executable = ""
    log_patterns: tuple[str, ...] = ()

    # --- submission -------------------------------------------------------------------------------

    def prepare(
        self, *, input_type: str, input_json: dict | None, input_files: dict[str, str] | None, ntasks: int = 1
    ) -> PreparedInput:
        """Converts an editor project to one task's files, or checks the files given; counts primaries."""
        if input_type == InputType.EDITOR:
            primaries = editor_primaries(input_json)
            return PreparedInput(files=self.convert(split_primaries(input_json, ntasks)), primaries=primaries)
        files = validated_files(input_files, label=self.label)
        return PreparedInput(files=files, primaries=self.primaries_in(files))

    def convert(self, project: dict) -> dict[str, str]:
        """This simulator's input files for an editor project (the editor package's converter for it);
        InvalidInput names the field it cannot express and why."""
        raise NotImplementedError

    def primaries_in(self, files: dict[str, str]) -> int:
        """The number of primaries the files ask for; InvalidInput says what is missing."""
        raise NotImplementedError

    def executable(self) -> str:
        return find_executable(setting=self.executable_setting, default_name=self.default_executable, label=self.label)

    def check_available(self) -> None:
        """Raises InvalidInput when the executable cannot be found."""
        self.executable()

    # --- one task ---------------------------------------------------------------------------------

    def task_files(self, files: dict[str, str], run: TaskRun) -> dict[str, str]:
        """The files one task runs (by default the prepared files as they are)."""
        return files

    def command(self, executable: str, run: TaskRun, files: dict[str, str]) -> list[str]:
        raise NotImplementedError

    def line_parser(self) -> LineParser:
        raise NotImplementedError

    def watch_file(self, workdir: Path, files: dict[str, str]) -> Callable[[], Path | None] | None:
        """Where progress lines appear if not on the executable's output (FLUKA's .out file)."""
        return None

    def output_files(self, workdir: Path, files: dict[str, str]) -> list[Path]:
        raise NotImplementedError

    def read_output(self, path: Path):
        from pymchelper.input_output import fromfile

        return fromfile(str(path))

    def estimator_name(self, path: Path, run: TaskRun) -> str:
        return path.stem

    def run(self, run: TaskRun, *, progress: Progress, should_stop: Callable[[], bool]) -> list[dict]:
        """Runs one task in run.workdir and returns its estimators (REFERENCE section 4 JSON)."""
        try:
            files = validated_files(run.input_data.get("input_files"), label=self.label)
            executable = self.executable()
        except InvalidInput as error:
            raise failure(error.message) from error
        workdir = Path(run.workdir)
        files = self.task_files(files, run)
        write_input_files(workdir, files)
        log_patterns = tuple(pattern.format(stem=self.input_stem(files)) for pattern in self.log_patterns)
        output = run_process(
            command=self.command(executable, run, files),
            workdir=workdir,
            label=self.label,
            parse_line=self.line_parser(),
            progress=progress,
            should_stop=should_stop,
            total_primaries=run.primaries,
            watch_file=self.watch_file(workdir, files),
            log_patterns=log_patterns,
        )
        return read_estimators(
            self.output_files(workdir, files),
            label=self.label,
            read=self.read_output,
            name_of=lambda path, _estimator: self.estimator_name(path, run),
            failure_logs=lambda: run_logs(self.label, output, workdir, log_patterns),
        )

    def input_stem(self, files: dict[str, str]) -> str:
        """The name the simulator gives its outputs and logs after (FLUKA's input file stem)."""
        return ""
