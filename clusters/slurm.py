"""Pure builders and parsers of Slurm commands (sbatch, squeue, sacct, scancel) and of batch_options.

Nothing here opens a connection: builders return shell command lines (every value quoted), parsers take
command output. sacct lags squeue and can answer a partial list, so parsers never invent a row: a job that
is not in the output is simply absent from the result (unknown to the caller, never a failure).
"""

import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from yaptide_site.errors import InvalidInput

# sbatch options a user may set on the array or the collect job. Everything that decides where files go,
# what runs or how jobs chain (--output, --wrap, --dependency, --array, --chdir, --export...) stays ours.
ALLOWED_SBATCH_OPTIONS = frozenset(
    {
        "--account",
        "--constraint",
        "--cpus-per-task",
        "--exclusive",
        "--gres",
        "--mail-type",
        "--mail-user",
        "--mem",
        "--mem-per-cpu",
        "--nice",
        "--nodes",
        "--ntasks",
        "--ntasks-per-node",
        "--partition",
        "--qos",
        "--reservation",
        "--time",
        "--tmp",
    }
)
SHORT_OPTIONS = {"-A": "--account", "-C": "--constraint", "-c": "--cpus-per-task", "-N": "--nodes"}
SHORT_OPTIONS |= {"-n": "--ntasks", "-p": "--partition", "-q": "--qos", "-t": "--time"}
FLAG_OPTIONS = frozenset({"--exclusive"})
# Values are plain words: no shell syntax can get through even before quoting.
_VALUE = re.compile(r"[A-Za-z0-9_.:,=@+/%-]{1,200}")
BATCH_OPTION_KEYS = ("cluster_name", "array_options", "array_header", "collect_options", "collect_header")

JOB_ID = re.compile(r"[0-9]{1,20}")
# States after which a Slurm job never runs again (squeue stops listing it; sacct keeps it).
FINISHED_STATES = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "REVOKED",
        "SPECIAL_EXIT",
        "TIMEOUT",
    }
)
RUNNING_STATES = frozenset({"RUNNING", "COMPLETING", "CONFIGURING", "STAGE_OUT", "SUSPENDED", "SIGNALING"})
PENDING_STATES = frozenset({"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "STOPPED"})


class SlurmError(Exception):
    """A Slurm command answered something we cannot use (the message says what)."""


@dataclass(frozen=True)
class SbatchOption:
    name: str  # long form, e.g. --time
    value: str | None  # None for a flag


@dataclass(frozen=True)
class BatchOptions:
    """Validated batch_options: sbatch options and extra #SBATCH header lines of the array and collect jobs."""

    cluster_name: str = ""
    array_options: tuple[SbatchOption, ...] = ()
    array_header: tuple[SbatchOption, ...] = ()
    collect_options: tuple[SbatchOption, ...] = ()
    collect_header: tuple[SbatchOption, ...] = ()

    def array_arguments(self) -> list[str]:
        return option_arguments(self.array_options)

    def collect_arguments(self) -> list[str]:
        return option_arguments(self.collect_options)

    def array_header_lines(self) -> str:
        return header_lines(self.array_header)

    def collect_header_lines(self) -> str:
        return header_lines(self.collect_header)


def _option(name: str, value: str | None, where: str) -> SbatchOption:
    name = SHORT_OPTIONS.get(name, name)
    if name not in ALLOWED_SBATCH_OPTIONS:
        allowed = ", ".join(sorted(ALLOWED_SBATCH_OPTIONS))
        raise InvalidInput(f"{where}: sbatch option {name!r} is not allowed (allowed: {allowed})", field=where)
    if name in FLAG_OPTIONS:
        if value not in (None, ""):
            raise InvalidInput(f"{where}: {name} takes no value", field=where)
        return SbatchOption(name, None)
    if value is None or not _VALUE.fullmatch(str(value)):
        raise InvalidInput(
            f"{where}: {name} needs a plain value (letters, digits, _.:,=@+/%-), got {value!r}", field=where
        )
    return SbatchOption(name, str(value))


def _options_from_words(words: list[str], where: str) -> list[SbatchOption]:
    options = []
    index = 0
    while index < len(words):
        word = words[index]
        if not word.startswith("-"):
            raise InvalidInput(f"{where}: {word!r} is not an sbatch option", field=where)
        if "=" in word:
            name, value = word.split("=", 1)
        else:
            name, value = word, None
            long_name = SHORT_OPTIONS.get(name, name)
            if long_name not in FLAG_OPTIONS and index + 1 < len(words) and not words[index + 1].startswith("-"):
                value = words[index + 1]
                index += 1
        options.append(_option(name, value, where))
        index += 1
    return options


def parse_sbatch_options(value, where: str) -> tuple[SbatchOption, ...]:
    """sbatch options given as a string ("--time=00:10:00 -p plgrid"), a list of words, or {option: value}."""
    if value in (None, "", [], {}):
        return ()
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as error:
            raise InvalidInput(f"{where}: {error}", field=where) from None
        return tuple(_options_from_words(words, where))
    if isinstance(value, list) and all(isinstance(word, str) for word in value):
        return tuple(_options_from_words(value, where))
    if isinstance(value, dict):
        options = []
        for name, option_value in value.items():
            name = str(name) if str(name).startswith("-") else f"--{name}"
            options.append(_option(name, None if option_value in (None, True) else str(option_value), where))
        return tuple(options)
    raise InvalidInput(f"{where} must be a string of sbatch options, a list of them or an object", field=where)


def parse_sbatch_header(value, where: str) -> tuple[SbatchOption, ...]:
    """#SBATCH header lines; blank lines are dropped and every other line must be an allowed #SBATCH option."""
    if value in (None, ""):
        return ()
    if not isinstance(value, str):
        raise InvalidInput(f"{where} must be text of #SBATCH lines", field=where)
    options: list[SbatchOption] = []
    for number, line in enumerate(value.splitlines(), start=1):
        line = line.strip()
        if not line or line == "#!/bin/bash":
            continue
        if not line.startswith("#SBATCH"):
            raise InvalidInput(f"{where} line {number}: only #SBATCH lines are allowed, got {line!r}", field=where)
        try:
            words = shlex.split(line[len("#SBATCH") :])
        except ValueError as error:
            raise InvalidInput(f"{where} line {number}: {error}", field=where) from None
        options += _options_from_words(words, f"{where} line {number}")
    return tuple(options)


def parse_batch_options(value) -> BatchOptions:
    """Validates a submission's batch_options against the allow-list; InvalidInput names what is refused."""
    if value in (None, ""):
        return BatchOptions()
    if not isinstance(value, dict):
        raise InvalidInput("batch_options must be an object", field="batch_options")
    unknown = sorted(set(value) - set(BATCH_OPTION_KEYS))
    if unknown:
        raise InvalidInput(
            f"batch_options: unknown key {unknown[0]!r} (known: {', '.join(BATCH_OPTION_KEYS)})", field="batch_options"
        )
    cluster_name = value.get("cluster_name") or ""
    if not isinstance(cluster_name, str):
        raise InvalidInput("batch_options.cluster_name must be a string", field="batch_options")
    return BatchOptions(
        cluster_name=cluster_name,
        array_options=parse_sbatch_options(value.get("array_options"), "batch_options.array_options"),
        array_header=parse_sbatch_header(value.get("array_header"), "batch_options.array_header"),
        collect_options=parse_sbatch_options(value.get("collect_options"), "batch_options.collect_options"),
        collect_header=parse_sbatch_header(value.get("collect_header"), "batch_options.collect_header"),
    )


def option_arguments(options: Iterable[SbatchOption]) -> list[str]:
    return [option.name if option.value is None else f"{option.name}={option.value}" for option in options]


def header_lines(options: Iterable[SbatchOption]) -> str:
    return "".join(f"#SBATCH {argument}\n" for argument in option_arguments(options))


# --- command builders -----------------------------------------------------------------------------------------


def _command(words: Iterable[str]) -> str:
    return " ".join(shlex.quote(str(word)) for word in words)


def _job_id(value: str) -> str:
    value = str(value)
    if not JOB_ID.fullmatch(value):
        raise SlurmError(f"not a Slurm job id: {value!r}")
    return value


def sbatch_array_command(
    *, script: str, ntasks: int, job_name: str, output: str, options: Iterable[str] = ()
) -> list[str]:
    """sbatch of the task array 1..ntasks (SLURM_ARRAY_TASK_ID = our task ordinal), answering its id."""
    if ntasks < 1:
        raise SlurmError("an array needs at least one task")
    return [
        "sbatch",
        "--parsable",
        f"--array=1-{ntasks}",
        f"--job-name={job_name}",
        f"--output={output}",
        *options,
        script,
    ]


def sbatch_collect_command(
    *, script: str, array_id: str, job_name: str, output: str, options: Iterable[str] = ()
) -> list[str]:
    """sbatch of the collect job, started once every array task has ended, whatever its state."""
    prefix = sbatch_collect_prefix(job_name=job_name, output=output, options=options)
    return [*prefix, f"--dependency=afterany:{_job_id(array_id)}", script]


def parse_sbatch_parsable(output: str) -> str:
    """The job id from `sbatch --parsable` ("123" or "123;cluster"); SlurmError otherwise."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        raise SlurmError("sbatch printed no job id")
    job_id = lines[-1].split(";", 1)[0]
    if not JOB_ID.fullmatch(job_id):
        raise SlurmError(f"sbatch printed {lines[-1]!r}, not a job id")
    return job_id


SQUEUE_FORMAT = "%i|%T|%r"
SACCT_FIELDS = ("JobID", "State", "ExitCode", "Elapsed")


def squeue_command(job_ids: Iterable[str]) -> list[str]:
    """One squeue of all these jobs, an array element per line. A single id is given twice: `squeue -j ID` of a
    finished job exits 1, `-j ID,ID` answers an empty list."""
    ids = sorted({_job_id(job_id) for job_id in job_ids}, key=int)
    if len(ids) == 1:
        ids = ids * 2
    return ["squeue", "--noheader", "--array", f"--format={SQUEUE_FORMAT}", f"--jobs={','.join(ids)}"]


def sacct_command(job_ids: Iterable[str]) -> list[str]:
    """One sacct of all these jobs (allocations only, no steps), machine-readable."""
    ids = sorted({_job_id(job_id) for job_id in job_ids}, key=int)
    return [
        "sacct",
        "--noheader",
        "--parsable2",
        "--allocations",
        "--duplicates",
        f"--format={','.join(SACCT_FIELDS)}",
        f"--jobs={','.join(ids)}",
    ]


def scancel_command(job_ids: Iterable[str]) -> list[str]:
    """One scancel of several jobs (the array and its collect job together: cancelling the array alone would
    let the afterany collect job run)."""
    ids = [_job_id(job_id) for job_id in job_ids if job_id]
    if not ids:
        raise SlurmError("nothing to cancel")
    return ["scancel", *ids]


def sbatch_collect_prefix(*, job_name: str, output: str, options: Iterable[str] = ()) -> list[str]:
    """sbatch_collect_command without the dependency and the script, for submit.sh (which knows the array id)."""
    return ["sbatch", "--parsable", f"--job-name={job_name}", f"--output={output}", *options]


def shell(words: Iterable[str]) -> str:
    """A command line of quoted words."""
    return _command(words)


SCRIPTS = Path(__file__).resolve().parent / "scripts"


def render_script(name: str, **values: str) -> str:
    """A template of clusters/scripts with its @@NAME@@ slots filled; the caller quotes what it passes."""
    text = (SCRIPTS / name).read_text()
    for key, value in values.items():
        slot = f"@@{key.upper()}@@"
        if slot not in text:
            raise KeyError(f"{name} has no slot {slot}")
        text = text.replace(slot, value)
    left = re.findall(r"@@[A-Z_]+@@", text)
    if left:
        raise KeyError(f"{name}: slots left unfilled: {', '.join(left)}")
    return text


# --- parsers --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlurmJobState:
    """What Slurm says about one job or array element: its state, and the reason (squeue) or exit code (sacct)."""

    state: str
    detail: str = ""

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


def _state_word(raw: str) -> str:
    # sacct writes "CANCELLED by 1000"; squeue never adds words.
    return raw.strip().split(" ", 1)[0].upper() if raw.strip() else ""


def _expand_array_id(job_id: str) -> list[str]:
    """123_4 -> [123_4]; 123_[1-3,5%2] (a pending array not yet split) -> [123_1, 123_2, 123_3, 123_5]."""
    match = re.fullmatch(r"([0-9]+)_\[([0-9,\-]+)(?:%[0-9]+)?\]", job_id)
    if not match:
        return [job_id]
    base, ranges = match.groups()
    expanded = []
    for part in ranges.split(","):
        if "-" in part:
            low, high = part.split("-", 1)
            expanded += [f"{base}_{n}" for n in range(int(low), int(high) + 1)]
        elif part:
            expanded.append(f"{base}_{part}")
    return expanded


def parse_squeue(output: str) -> dict[str, SlurmJobState]:
    """{job id or "array_task": state} from squeue_command's output; lines it cannot read are skipped."""
    jobs: dict[str, SlurmJobState] = {}
    for line in output.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 2 or not parts[0]:
            continue
        state = SlurmJobState(_state_word(parts[1]), parts[2].strip() if len(parts) > 2 else "")
        for job_id in _expand_array_id(parts[0].strip()):
            jobs[job_id] = state
    return jobs


def parse_sacct(output: str) -> dict[str, SlurmJobState]:
    """{job id or "array_task": state} from sacct_command's output. With --duplicates a requeued job has several
    rows: the last one counts. Rows of steps (123.batch) are ignored."""
    jobs: dict[str, SlurmJobState] = {}
    for line in output.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 3 or not parts[0] or "." in parts[0]:
            continue
        state = SlurmJobState(_state_word(parts[1]), parts[2].strip())
        for job_id in _expand_array_id(parts[0].strip()):
            jobs[job_id] = state
    return jobs


def exit_code_failed(detail: str) -> bool:
    """sacct's ExitCode "code:signal" says the job failed (non-zero code or a signal)."""
    try:
        code, signal = (int(part) for part in detail.split(":", 1))
    except ValueError:
        return False
    return code != 0 or signal != 0
