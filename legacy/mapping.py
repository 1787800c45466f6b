"""Legacy rows -> what the new schema stores: pure functions, no database; every fix is recorded in the report.

Rules (README "Importing a yaptide database" states them for operators):
- usernames: surrounding whitespace stripped, cut to 150 characters, empty -> `yaptide-user-<legacy id>`;
  a changed name that another account of the same provider holds gets `-<legacy id>` appended;
- unfinished jobs, and unfinished tasks of any job, are closed as CANCELED (CLOSED_STATE) with an import
  log entry (`import_yaptide.log`) that names the original states; times stay as they were;
- duplicate estimators of one (simulation, file_name): the first (id order) that has pages is kept, the
  pages of the others are added where its page numbers are missing; duplicate pages: the first with data;
- several Logfiles rows: one dict, files in row order; a name already taken with other text is stored as
  `<name>~<n>` (n = the row's 1-based position among the simulation's Logfiles rows);
- payloads are copied as stored; one whose JSON holds NaN/Infinity is stored again with null there.
"""

import gzip
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from simulations.choices import TERMINAL_STATES, JobState, Platform
from simulations.payloads import compress_json, decompress, encode

from .report import ImportReport
from .source import SimulationRows

USERNAME_MAX = 150
TEXT_MAX = 255
JOB_ID_MAX = 64
CLOSED_STATE = JobState.CANCELED.value
IMPORT_LOG = "import_yaptide.log"
PLACEHOLDER_USERNAME = "yaptide-import-orphans"


# --- users ----------------------------------------------------------------------------------------


def username_candidate(legacy_username: str, legacy_id: int) -> str:
    """The name a legacy account signs in with here, before the uniqueness check."""
    name = (legacy_username or "").strip()[:USERNAME_MAX]
    return name or f"yaptide-user-{legacy_id}"


def username_with_suffix(name: str, legacy_id: int, attempt: int = 1) -> str:
    suffix = f"-{legacy_id}" if attempt == 1 else f"-{legacy_id}-{attempt}"
    return name[: USERNAME_MAX - len(suffix)] + suffix


# --- payloads -------------------------------------------------------------------------------------


def _non_finite_to_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_non_finite_to_none(item) for item in value]
    if isinstance(value, dict):
        return {key: _non_finite_to_none(item) for key, item in value.items()}
    return value


def checked_payload(blob: bytes | None) -> tuple[bytes | None, str]:
    """(blob to store, "ok" | "nonfinite" | "unreadable"): stored as it was unless its JSON holds NaN/Infinity."""
    if blob is None:
        return None, "ok"
    blob = bytes(blob)
    try:
        raw = decompress(blob)
    except (ValueError, OSError, EOFError, gzip.BadGzipFile):
        return blob, "unreadable"
    try:
        orjson.loads(raw)
        return blob, "ok"
    except orjson.JSONDecodeError:
        pass
    try:
        data = json.loads(raw)  # Python's parser takes the bare NaN / Infinity / -Infinity yaptide wrote
    except ValueError:
        return blob, "unreadable"
    return encode(_non_finite_to_none(data)), "nonfinite"


def payload_data(blob: bytes | None) -> Any:
    """The parsed payload (non-finite numbers as None); None for no or unreadable data."""
    blob, status = checked_payload(blob)
    if blob is None or status == "unreadable":
        return None
    return orjson.loads(decompress(blob))


# --- planned rows ---------------------------------------------------------------------------------


@dataclass
class PlannedPage:
    legacy_id: int
    page_number: int
    page_name: str
    page_dimension: int
    compressed_data: bytes | None


@dataclass
class PlannedEstimator:
    legacy_id: int
    name: str
    file_name: str
    position: int
    compressed_data: bytes | None
    pages: list[PlannedPage] = field(default_factory=list)


@dataclass
class PlannedTask:
    legacy_id: int
    platform: str
    task_id: int
    requested_primaries: int
    simulated_primaries: int
    task_state: str
    estimated_time: int | None
    start_time: datetime | None
    end_time: datetime | None
    last_update_time: datetime
    celery_id: str


@dataclass
class PlannedSimulation:
    legacy_id: int
    job_id: str
    legacy_user_id: int | None
    start_time: datetime
    end_time: datetime | None
    title: str
    platform: str
    input_type: str
    sim_type: str
    job_state: str
    merge_id: str
    legacy_cluster_id: int | None
    job_dir: str
    array_id: str
    collect_id: str
    tasks: list[PlannedTask] = field(default_factory=list)
    input: tuple[int, bytes | None] | None = None
    estimators: list[PlannedEstimator] = field(default_factory=list)
    logfiles: tuple[int, bytes | None] | None = None


def _text(value: str | None, limit: int, report: ImportReport, where: dict) -> str:
    value = value or ""
    if len(value) > limit:
        report.add("names_truncated", {**where, "full": value})
        return value[:limit]
    return value


def _payload(blob, report: ImportReport, table: str, where: dict) -> bytes | None:
    blob, status = checked_payload(blob)
    if status != "ok":
        report.add(f"payloads_{status}", {"table": table, **where})
    return blob


def plan_simulations(rows: SimulationRows, report: ImportReport, now: datetime) -> list[PlannedSimulation]:
    """Maps one batch of legacy rows onto the new schema's rows, recording every merge and fix."""
    by_simulation: dict[int, dict[str, list]] = {
        row["id"]: {"tasks": [], "inputs": [], "estimators": [], "logfiles": []} for row in rows.simulations
    }
    for kind in ("tasks", "inputs", "estimators", "logfiles"):
        for row in getattr(rows, kind):
            by_simulation[row["simulation_id"]][kind].append(row)
    pages_by_estimator: dict[int, list[dict]] = {}
    for page in rows.pages:
        pages_by_estimator.setdefault(page["estimator_id"], []).append(page)

    planned = []
    for row in rows.simulations:
        children = by_simulation[row["id"]]
        simulation = _plan_simulation(row, children, report, now)
        if simulation is None:
            report.count("Simulation", "skipped")
            for kind, table in (
                ("tasks", "Task"),
                ("inputs", "Input"),
                ("estimators", "Estimator"),
                ("logfiles", "Logfiles"),
            ):
                report.count(table, "skipped", len(children[kind]))
            report.count(
                "Page", "skipped", sum(len(pages_by_estimator.get(e["id"], [])) for e in children["estimators"])
            )
            continue
        _plan_input(simulation, children["inputs"], report)
        _plan_estimators(simulation, children["estimators"], pages_by_estimator, report)
        closing_log = _close_unfinished(simulation, report, now)
        _plan_logfiles(simulation, children["logfiles"], closing_log, report)
        planned.append(simulation)
    return planned


def _plan_simulation(row: dict, children: dict, report: ImportReport, now: datetime) -> PlannedSimulation | None:
    job_id = row["job_id"] or ""
    if row["platform"] not in (Platform.DIRECT, Platform.BATCH):
        report.add("simulations_skipped", {"job_id": job_id, "reason": f"unknown platform {row['platform']!r}"})
        return None
    if not job_id or len(job_id) > JOB_ID_MAX:
        report.add("simulations_skipped", {"job_id": job_id, "reason": f"job_id longer than {JOB_ID_MAX}"})
        return None
    title = row["title"] or ""
    if len(title) > TEXT_MAX:
        report.add("titles_truncated", {"job_id": job_id, "title": title})
        title = title[:TEXT_MAX]
    start_time = row["start_time"]
    if start_time is None:
        candidates = [t["start_time"] for t in children["tasks"] if t["start_time"]] + [row["end_time"]]
        start_time = min((c for c in candidates if c), default=now)
        report.add("times_filled", {"job_id": job_id, "column": "Simulation.start_time", "value": start_time})
    simulation = PlannedSimulation(
        legacy_id=row["id"],
        job_id=job_id,
        legacy_user_id=row["user_id"],
        start_time=start_time,
        end_time=row["end_time"],
        title=title,
        platform=row["platform"],
        input_type=row["input_type"] or "",
        sim_type=row["sim_type"] or "",
        job_state=row["job_state"],
        merge_id=row["merge_id"] or "",
        legacy_cluster_id=row["cluster_id"],
        job_dir=row["job_dir"] or "",
        array_id="" if row["array_id"] is None else str(row["array_id"]),
        collect_id="" if row["collect_id"] is None else str(row["collect_id"]),
    )
    for task in children["tasks"]:
        simulation.tasks.append(_plan_task(simulation, task, report))
    return simulation


def _plan_task(simulation: PlannedSimulation, row: dict, report: ImportReport) -> PlannedTask:
    platform = row["platform"] if row["platform"] in (Platform.DIRECT, Platform.BATCH) else simulation.platform
    estimated = row["estimated_time"]
    if estimated is not None and estimated < 0:
        report.add("tasks_fixed", {"job_id": simulation.job_id, "task_id": row["task_id"], "estimated_time": estimated})
        estimated = None
    last_update = row["last_update_time"]
    if last_update is None:
        last_update = row["end_time"] or row["start_time"] or simulation.start_time
        report.add(
            "times_filled",
            {
                "job_id": simulation.job_id,
                "task_id": row["task_id"],
                "column": "Task.last_update_time",
                "value": last_update,
            },
        )
    return PlannedTask(
        legacy_id=row["id"],
        platform=platform,
        task_id=row["task_id"],
        requested_primaries=row["requested_primaries"],
        simulated_primaries=row["simulated_primaries"],
        task_state=row["task_state"],
        estimated_time=estimated,
        start_time=row["start_time"],
        end_time=row["end_time"],
        last_update_time=last_update,
        celery_id=row["celery_id"] or "",
    )


def _plan_input(simulation: PlannedSimulation, inputs: list[dict], report: ImportReport) -> None:
    if not inputs:
        return
    first = inputs[0]
    if len(inputs) > 1:
        report.add(
            "inputs_merged",
            {"job_id": simulation.job_id, "kept": first["id"], "dropped": [i["id"] for i in inputs[1:]]},
        )
        report.count("Input", "merged", len(inputs) - 1)
    blob = _payload(first["compressed_data"], report, "Input", {"job_id": simulation.job_id})
    simulation.input = (first["id"], blob)


def _plan_estimators(
    simulation: PlannedSimulation, estimators: list[dict], pages_by_estimator: dict[int, list[dict]], report
) -> None:
    groups: dict[str, list[dict]] = {}
    for estimator in estimators:  # id order: the order users saw
        # Schemas older than the file_name column (it reads as NULL there) told estimators apart by name.
        file_name = estimator["file_name"] if estimator["file_name"] is not None else estimator["name"]
        groups.setdefault(file_name or "", []).append(estimator)
    for position, (file_name, group) in enumerate(groups.items()):
        kept = next((e for e in group if pages_by_estimator.get(e["id"])), group[0])
        where = {"job_id": simulation.job_id, "file_name": file_name}
        planned = PlannedEstimator(
            legacy_id=kept["id"],
            name=_text(kept["name"], TEXT_MAX, report, {**where, "column": "Estimator.name"}),
            file_name=_text(file_name, TEXT_MAX, report, {**where, "column": "Estimator.file_name"}),
            position=position,
            compressed_data=_payload(kept["compressed_data"], report, "Estimator", where),
        )
        # The kept estimator's pages first, then the duplicates' in id order; per number the first with data.
        ordered = [kept] + [e for e in group if e is not kept]
        candidates: dict[int, list[dict]] = {}
        for estimator in ordered:
            for page in pages_by_estimator.get(estimator["id"], []):
                candidates.setdefault(page["page_number"], []).append(page)
        added_from_duplicates = []
        for number in sorted(candidates):
            rows = candidates[number]
            page = next((p for p in rows if p["compressed_data"] is not None), rows[0])
            if len(rows) > 1:
                report.add(
                    "pages_merged",
                    {
                        **where,
                        "page_number": number,
                        "kept": page["id"],
                        "dropped": [p["id"] for p in rows if p is not page],
                    },
                )
                report.count("Page", "merged", len(rows) - 1)
            if page["estimator_id"] != kept["id"]:
                added_from_duplicates.append(number)
            page_where = {**where, "page_number": number}
            blob = _payload(page["compressed_data"], report, "Page", page_where)
            if blob is None:
                # The API splices stored pages into responses; JSON null is what yaptide answered for no data.
                report.add("pages_null", page_where)
                blob = compress_json(b"null")
            page_name, dimension = page["page_name"], page["page_dimension"]
            if page_name is None or dimension is None:  # schemas before these columns: read them off the page
                data = payload_data(blob)
                data = data if isinstance(data, dict) else {}
                page_name = (data.get("metadata") or {}).get("name", "") if page_name is None else page_name
                dimension = data.get("dimensions", 0) if dimension is None else dimension
            planned.pages.append(
                PlannedPage(
                    legacy_id=page["id"],
                    page_number=number,
                    page_name=_text(str(page_name), TEXT_MAX, report, {**page_where, "column": "Page.page_name"}),
                    page_dimension=dimension if dimension in (0, 1, 2) else 0,
                    compressed_data=blob,
                )
            )
        if len(group) > 1:
            report.add(
                "estimators_merged",
                {
                    **where,
                    "kept": kept["id"],
                    "dropped": [e["id"] for e in group if e is not kept],
                    "pages_added": added_from_duplicates,
                },
            )
            report.count("Estimator", "merged", len(group) - 1)
        simulation.estimators.append(planned)


def _close_unfinished(simulation: PlannedSimulation, report: ImportReport, now: datetime) -> str | None:
    """Closes an unfinished job and its unfinished tasks; returns the import log text, or None if nothing closed."""
    open_tasks = [task for task in simulation.tasks if task.task_state not in TERMINAL_STATES]
    job_open = simulation.job_state not in TERMINAL_STATES
    if not job_open and not open_tasks:
        return None
    lines = [f"Imported from yaptide at {now.isoformat()} by manage.py import_yaptide."]
    if job_open:
        lines.append(
            f"The job was {simulation.job_state} in yaptide. Its workers cannot report to this backend, "
            f"so the import closed it as {CLOSED_STATE}."
        )
    else:
        lines.append(f"The job was {simulation.job_state} in yaptide and keeps that state.")
    for task in open_tasks:
        lines.append(f"Task {task.task_id} was {task.task_state} in yaptide; closed as {CLOSED_STATE}.")
    report.add(
        "simulations_closed",
        {
            "job_id": simulation.job_id,
            "legacy_state": simulation.job_state,
            "state": CLOSED_STATE if job_open else simulation.job_state,
            "tasks": {task.task_id: task.task_state for task in open_tasks},
        },
    )
    report.count("Simulation", "closed", int(job_open))
    report.count("Task", "closed", len(open_tasks))
    if job_open:
        simulation.job_state = CLOSED_STATE
    for task in open_tasks:
        task.task_state = CLOSED_STATE
    return "\n".join(lines) + "\n"


def _plan_logfiles(simulation: PlannedSimulation, rows: list[dict], closing_log: str | None, report) -> None:
    where = {"job_id": simulation.job_id}
    if len(rows) == 1 and closing_log is None:
        simulation.logfiles = (rows[0]["id"], _payload(rows[0]["compressed_data"], report, "Logfiles", where))
        return
    if not rows and closing_log is None:
        return
    merged: dict[str, str] = {}
    renamed: dict[str, str] = {}
    for ordinal, row in enumerate(rows, start=1):
        blob, status = checked_payload(row["compressed_data"])
        if status != "ok":
            report.add(f"payloads_{status}", {"table": "Logfiles", **where, "row": ordinal})
        files = payload_data(blob) if status != "unreadable" else None
        if files is None:
            continue
        if not isinstance(files, dict):
            files = {f"logfiles~{ordinal}": json.dumps(files)}
        for name, text in files.items():
            text = text if isinstance(text, str) else json.dumps(text)
            if name not in merged:
                merged[name] = text
            elif merged[name] != text:
                key = f"{name}~{ordinal}"
                merged[key] = text
                renamed[f"{name} (row {ordinal})"] = key
    if len(rows) > 1:
        report.add("logfiles_merged", {**where, "rows": [row["id"] for row in rows], "renamed": renamed})
        report.count("Logfiles", "merged", len(rows) - 1)
    if closing_log is not None:
        key = IMPORT_LOG if IMPORT_LOG not in merged else f"{IMPORT_LOG}~{len(rows) + 1}"
        merged[key] = closing_log
    simulation.logfiles = (rows[0]["id"] if rows else None, encode(merged))
