"""Execution backends: where a job's tasks run. One backend per platform, chosen by `backend_for(platform)`.

A backend only moves work to and from its platform; every rule (what a failed dispatch does, whether a canceled
job's completed tasks are merged, the merge outcome) lives in the services, which call these hooks after their
transaction commits. Adding a platform is one module here and its entry in settings.SIMULATION_BACKENDS.
"""

from typing import NamedTuple, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from yaptide_site.errors import InvalidInput


class DispatchFailed(Exception):
    """The platform did not take the job's tasks; the message says why (kept as the job's dispatch log)."""


class BrokerView(NamedTuple):
    """Of some tasks, those whose messages the broker holds: waiting in a queue, or taken by a worker."""

    waiting: frozenset[int]
    taken: frozenset[int]


class ExecutionBackend(Protocol):
    def check(self, *, simulator, user, cluster, batch_options: dict | None) -> None:
        """Raises InvalidInput saying why this platform cannot take the job (before anything is created)."""

    def dispatch(self, *, simulation_id: int, update_key: str) -> None:
        """Hands a freshly submitted job's tasks to the platform; raises DispatchFailed if it cannot."""

    def cancel(self, *, simulation_id: int) -> None:
        """Tells the platform to stop a canceled job's tasks (best effort: workers also stop on their own)."""

    def merge(self, *, simulation_id: int) -> None:
        """Starts the merge of a job's completed tasks."""

    def reaps_stale_tasks(self) -> bool:
        """Whether the reaper looks after this platform's tasks (silent RUNNING ones, lost messages, lost merges).
        A backend that does also has `in_broker(task_pks) -> BrokerView | None` and `redispatch(simulation_id=,
        task_ids=)`."""


def platforms() -> list[str]:
    """The platforms this server runs jobs on (settings.SIMULATION_BACKENDS)."""
    return list(settings.SIMULATION_BACKENDS)


def backend_for(platform: str) -> ExecutionBackend:
    """The execution backend of a platform (one of choices.Platform), as settings.SIMULATION_BACKENDS names it."""
    path = settings.SIMULATION_BACKENDS.get(platform)
    if path is None:
        raise InvalidInput(f"{platform} simulations are not available on this server", field="platform")
    return import_string(path)()


def reaped_platforms() -> list[str]:
    """The platforms whose silent RUNNING tasks and lost merges the stale-task reaper looks after."""
    return [platform for platform in platforms() if backend_for(platform).reaps_stale_tasks()]
