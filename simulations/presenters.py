"""Row -> response body builders, shared by both API faces; the schema serializers (serializers.py) document
these shapes. Times are ISO 8601 UTC by default; a face that shows them otherwise passes its own `time`."""

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from yaptide_site.api import iso_utc

from .selectors import TASK_STATUS_FIELDS

TimeFormat = Callable[[datetime | None], Any]


def progress_of(tasks: Iterable[dict]) -> dict[str, int]:
    """Task count and requested/simulated primaries summed over task rows."""
    tasks = list(tasks)
    return {
        "task_count": len(tasks),
        "requested_primaries": sum(task["requested_primaries"] for task in tasks),
        "simulated_primaries": sum(task["simulated_primaries"] for task in tasks),
    }


def simulation_item(row: dict, progress: dict | None, *, time: TimeFormat = iso_utc) -> dict:
    """The list item of a simulation row (SimulationItemSerializer)."""
    progress = progress or {}
    requested = progress.get("requested_primaries") or 0
    simulated = progress.get("simulated_primaries") or 0
    return {
        "job_id": row["job_id"],
        "title": row["title"],
        "platform": row["platform"],
        "sim_type": row["sim_type"],
        "input_type": row["input_type"],
        "job_state": row["job_state"],
        "start_time": time(row["start_time"]),
        "end_time": time(row["end_time"]),
        "task_count": progress.get("task_count") or 0,
        "requested_primaries": requested,
        "simulated_primaries": simulated,
        "progress": min(simulated / requested, 1.0) if requested else 0.0,
    }


def task_status(task: Any, *, time: TimeFormat = iso_utc) -> dict:
    """One task's status (TaskSerializer), from a task row dict or a Task."""
    get = task.get if isinstance(task, dict) else lambda name: getattr(task, name)
    body = {name: get(name) for name in TASK_STATUS_FIELDS}
    for name in ("start_time", "end_time", "last_update_time"):
        body[name] = time(body[name])
    return body


def simulation_detail(row: dict, tasks: list[dict], *, time: TimeFormat = iso_utc) -> dict:
    """A simulation with its cluster and its tasks' statuses (SimulationDetailSerializer)."""
    body = simulation_item(row, progress_of(tasks), time=time)
    body["cluster_name"] = row["cluster_name"]
    body["tasks"] = [task_status(task, time=time) for task in tasks]
    return body


def simulation_state(simulation: Any, *, time: TimeFormat = iso_utc) -> dict:
    """A job's id, state and end time (WorkerSimulationStateSerializer)."""
    return {"job_id": simulation.job_id, "job_state": simulation.job_state, "end_time": time(simulation.end_time)}


def estimators_listing(estimators: list[dict]) -> dict:
    """The estimators' names and their pages' numbers, names and dimensions (EstimatorListingSerializer)."""
    return {"estimators": estimators}
