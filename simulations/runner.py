"""The in-worker life of one DIRECT task: run its simulator with its primaries and seed, reporting progress and
polling for a cancel through the services. Called by the Celery task once it holds the task's claim."""

import logging
import tempfile
import time
import traceback
import zlib
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, connection

from . import services
from .choices import TERMINAL_STATES
from .models import Input, Simulation, Task
from .services import TaskUpdate
from .simulators import get_simulator
from .simulators.base import SimulationCanceled, SimulatorFailed, TaskRun

logger = logging.getLogger(__name__)


def task_seed(job_id: str, task_id: int) -> int:
    """A stable seed per task (CRC-32 of job id and ordinal): a rerun reproduces its task, and tasks of a job differ."""
    return zlib.crc32(f"{job_id}:{task_id}".encode()) & 0x7FFFFFFF


class _Reporter:
    """The simulator's progress and should_stop callbacks, writing through the services.

    Progress is written at most every TASK_HEARTBEAT_SECONDS, and should_stop reads the database about once
    a second; between progress reports it refreshes last_update_time (a heartbeat), so the task's lease holds.
    """

    def __init__(self, simulation: Simulation, task_id: int):
        self.simulation = simulation
        self.task_id = task_id
        self.interval = settings.TASK_HEARTBEAT_SECONDS
        self.last_write = time.monotonic()
        self.last_check = time.monotonic()  # the claim has just seen the task and its job unfinished
        self.pending: TaskUpdate | None = None
        self.stop = False

    def _write(self, update: TaskUpdate) -> None:
        try:
            services.task_apply_update(simulation=self.simulation, task_id=self.task_id, update=update)
        except DatabaseError:
            # Progress is advisory: the simulation goes on through a database outage and reports again later.
            logger.warning("task %s of %s: database unreachable, progress not written", self.task_id, self.simulation)
            connection.close()
        self.last_write = time.monotonic()
        self.pending = None

    def progress(self, simulated_primaries: int, estimated_seconds: int | None) -> None:
        self.pending = TaskUpdate(simulated_primaries=simulated_primaries, estimated_time=estimated_seconds)
        if time.monotonic() - self.last_write >= self.interval:
            self._write(self.pending)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if now - self.last_write >= self.interval:
            self._write(self.pending or TaskUpdate())
        if not self.stop and now - self.last_check >= 1.0:
            self.last_check = now
            try:
                states = Task.objects.filter(simulation_id=self.simulation.pk, task_id=self.task_id).values_list(
                    "task_state", "simulation__job_state"
                )
                self.stop = any(state in TERMINAL_STATES for state in states[0]) if states else True
            except DatabaseError:
                connection.close()  # no answer is no cancel: ask again in a second
        return self.stop


def task_run(
    simulation: Simulation, task_id: int, *, task: Task | None = None, input_data: dict | None = None
) -> list[dict] | None:
    """Runs a claimed task; returns its estimators, or None if it was canceled. A failure is stored as FAILED with
    its logs (through the services) and raised again, so that Celery records it. The task row and the input are
    read here unless the caller already holds them."""
    if task is None:
        task = Task.objects.non_polymorphic().get(simulation_id=simulation.pk, task_id=task_id)
    if input_data is None:
        input_data = Input.objects.get(simulation_id=simulation.pk).data
    reporter = _Reporter(simulation, task_id)
    try:
        with tempfile.TemporaryDirectory(prefix=f"yaptide-{simulation.job_id[:15]}-{task_id}-") as workdir:
            run = TaskRun(
                input_data=input_data,
                primaries=task.requested_primaries,
                seed=task_seed(simulation.job_id, task_id),
                workdir=Path(workdir),
                task_id=task_id,
            )
            return get_simulator(simulation.sim_type).run(
                run, progress=reporter.progress, should_stop=reporter.should_stop
            )
    except SimulationCanceled:
        return None
    except SimulatorFailed as exc:
        services.task_fail(simulation=simulation, task_id=task_id, logs=exc.logs or {"error.log": f"{exc}\n"})
        raise
    except SoftTimeLimitExceeded:
        log = f"time limit of {settings.CELERY_TASK_SOFT_TIME_LIMIT} s exceeded\n"
        services.task_fail(simulation=simulation, task_id=task_id, logs={"error.log": log})
        raise
    except Exception:
        services.task_fail(simulation=simulation, task_id=task_id, logs={"error.log": traceback.format_exc()})
        raise
