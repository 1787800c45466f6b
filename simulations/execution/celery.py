"""DIRECT execution on Celery workers: one Celery task per Task row, sent by name (the tasks module is not
imported here), with its Celery id recorded on the CeleryTask first so that a cancel can
revoke it.

There is no chord: the task update that ends the last task moves the job to MERGING_QUEUED (services), which
calls `merge`; the job's progress lives in the database, so a restarted worker or broker loses nothing. What
the broker still holds can be asked (`in_broker`), so the reaper can tell a lost message from a queued one.
"""

import json
import logging
import uuid
from collections.abc import Iterable, Iterator

from celery.utils.serialization import b64decode
from django.conf import settings
from django.db.models import Case, CharField, Value, When
from django_celery_results.models import TaskResult

from yaptide_site.celery import app
from yaptide_site.errors import InvalidInput

from ..choices import JobState
from ..models import CelerySimulation, CeleryTask
from . import BrokerView, DispatchFailed

logger = logging.getLogger(__name__)

RUN_TASK = "simulations.run_task"
MERGE_RESULTS = "simulations.merge_results"


def _send(name: str, **options):
    """Sends the task registered under `name` (the app's registry, so the tasks module is not imported here).

    Not a signature: a signature drops options that are None, and time_limit=None must reach the message, so
    that the worker applies its own limits instead of this process's.
    """
    task = app.tasks.get(name)
    return task.apply_async(**options) if task is not None else app.send_task(name, **options)


def _message_id(raw: bytes | str | dict) -> str:
    message = json.loads(raw) if not isinstance(raw, dict) else raw
    return (message.get("headers") or {}).get("id") or (message.get("properties") or {}).get("correlation_id", "")


class CeleryBackend:
    """Sends tasks to the queue of the Celery workers and revokes them on cancel."""

    def check(self, *, simulator, user, cluster, batch_options: dict | None) -> None:
        """The simulator must be able to run on this server's workers; batch options do not apply."""
        if batch_options:
            raise InvalidInput("batch_options apply to BATCH simulations only", field="batch_options")
        if cluster is not None:
            raise InvalidInput("cluster applies to BATCH simulations only", field="cluster")
        simulator.check_available()

    def dispatch(self, *, simulation_id: int, update_key: str) -> None:
        """Sends one message per task. Workers write through the services directly, so they need no update key."""
        self.redispatch(simulation_id=simulation_id, task_ids=None)

    def redispatch(self, *, simulation_id: int, task_ids: Iterable[int] | None) -> None:
        """Sends the messages of these tasks (all, if None), each under a fresh Celery id recorded first."""
        tasks = CeleryTask.objects.filter(simulation_id=simulation_id).order_by("task_id")
        if task_ids is not None:
            tasks = tasks.filter(task_id__in=list(task_ids))
        ordinals = list(tasks.values_list("pk", "task_id"))
        celery_ids = {pk: uuid.uuid4().hex for pk, _ in ordinals}
        if celery_ids:
            CeleryTask.objects.filter(pk__in=celery_ids).update(
                celery_id=Case(
                    *(When(pk=pk, then=Value(cid)) for pk, cid in celery_ids.items()), output_field=CharField()
                )
            )
        try:
            for pk, task_id in ordinals:
                # No time limits in the message: the worker that runs the simulation applies its own settings.
                _send(
                    RUN_TASK,
                    args=(simulation_id, task_id),
                    task_id=celery_ids[pk],
                    queue=settings.CELERY_TASK_DEFAULT_QUEUE,
                    time_limit=None,
                    soft_time_limit=None,
                )
        except Exception as exc:
            raise DispatchFailed(f"the Celery broker did not take the tasks: {exc!r}") from exc

    def cancel(self, *, simulation_id: int) -> None:
        """Revokes the canceled tasks' messages where the broker can broadcast (not the embedded one).

        Workers poll the database and stop on their own within about a second, so this is only an extra.
        """
        if settings.EMBEDDED_BROKER:
            return
        celery_ids = list(
            CeleryTask.objects.filter(simulation_id=simulation_id, task_state=JobState.CANCELED)
            .exclude(celery_id="")
            .values_list("celery_id", flat=True)
        )
        try:
            if celery_ids:
                app.control.revoke(celery_ids)
        except Exception:
            logger.warning("revoke of simulation %s failed; workers stop by polling", simulation_id, exc_info=True)

    def merge(self, *, simulation_id: int) -> None:
        """Enqueues the merge, recording its Celery id as merge_id first."""
        merge_id = uuid.uuid4().hex
        CelerySimulation.objects.filter(pk=simulation_id).update(merge_id=merge_id)
        _send(MERGE_RESULTS, args=(simulation_id,), task_id=merge_id, queue=settings.CELERY_TASK_DEFAULT_QUEUE)

    def reaps_stale_tasks(self) -> bool:
        return True

    def in_broker(self, task_pks: Iterable[int]) -> BrokerView | None:
        """Which of these tasks' messages Redis holds: waiting in the queue, or taken by a worker and not yet
        acknowledged. None on the embedded broker, which cannot be read that way."""
        celery_ids = dict(CeleryTask.objects.filter(pk__in=list(task_pks)).values_list("celery_id", "pk"))
        if settings.EMBEDDED_BROKER or not celery_ids:
            return None if settings.EMBEDDED_BROKER else BrokerView(frozenset(), frozenset())
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            client = channel.client
            # kombu keeps a queue's messages in one list per priority step, and taken ones in the unacked hash.
            keys = {channel._q_for_pri(queue, priority) for priority in channel.priority_steps}
            waiting = {_message_id(raw) for key in keys for raw in client.lrange(key, 0, -1)}
            taken = {_message_id(json.loads(raw)[0]) for raw in client.hvals(channel.unacked_key)}
        return BrokerView(
            waiting=frozenset(pk for cid, pk in celery_ids.items() if cid in waiting),
            taken=frozenset(pk for cid, pk in celery_ids.items() if cid in taken),
        )


# Task results read per query by the merge: a page holds this many compressed results at most (a task with three
# 200 x 200 pages stores about 1 MB), so the merge's memory does not grow with the number of tasks.
RESULTS_PAGE_TASKS = 4


def completed_task_results(simulation_id: int) -> Iterator[tuple[list[dict], int]]:
    """(estimators, simulated primaries) of each COMPLETED task, from the Celery result backend, one at a time:
    one query for the tasks, then one per RESULTS_PAGE_TASKS results, each decoded only when it is merged.

    A COMPLETED task whose stored result is missing or empty is logged and left out, never a merge failure.
    """
    completed = list(
        CeleryTask.objects.filter(simulation_id=simulation_id, task_state=JobState.COMPLETED)
        .exclude(celery_id="")
        .order_by("task_id")
        .values_list("celery_id", "simulated_primaries")
    )
    for start in range(0, len(completed), RESULTS_PAGE_TASKS):
        page = dict(completed[start : start + RESULTS_PAGE_TASKS])
        stored = {
            celery_id: (encoding, result)
            for celery_id, encoding, result in TaskResult.objects.filter(
                task_id__in=page, status="SUCCESS"
            ).values_list("task_id", "content_encoding", "result")
        }
        for celery_id, primaries in page.items():
            encoding, result = stored.pop(celery_id, (None, None))
            estimators = app.backend.decode(b64decode(result) if encoding == "binary" else result) if result else None
            if not estimators:
                logger.warning(
                    "simulation %s: completed task %s has no stored result; merged without it", simulation_id, celery_id
                )
                continue
            yield estimators, primaries
