"""Submitting a job: its input checked and prepared by its simulator, its tasks created, dispatch after commit."""

import uuid

from django.db import transaction
from django.utils import timezone

from accounts.limits import limits_of
from accounts.models import User
from clusters.models import Cluster
from yaptide_site.db import bulk_create_polymorphic
from yaptide_site.errors import InvalidInput, QuotaExceeded, StorageExceeded

from .. import selectors
from ..choices import InputType, JobState, Platform
from ..execution import backend_for
from ..models import PLATFORM_CLASSES, Input, Simulation
from ..simulators import SIMULATORS, get_simulator
from .keys import update_key_new
from .lifecycle import simulation_dispatch


def job_id_new(platform: str) -> str:
    """A job id in the reference's format: YYYYmmdd-HHMMSS-<uuid4 hex><DIRECT|BATCH>."""
    return f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex}{platform}"


def _check_limits(user, ntasks: int) -> None:
    """Refuses a job that would take the user past one of their limits (accounts.limits), naming it.

    Holds the user's row locked to the end of the transaction, so parallel submissions are counted one by one.
    """
    User.objects.non_polymorphic().select_for_update().filter(pk=user.pk).first()
    limits = limits_of(user)
    usage = selectors.user_usage(user_id=user.pk)
    if usage["unfinished_jobs"] + 1 > limits.unfinished_jobs:
        raise QuotaExceeded(
            f"limit of {limits.unfinished_jobs} unfinished jobs reached; wait for one to finish or cancel one",
            field="unfinished_jobs",
        )
    if usage["unfinished_tasks"] + ntasks > limits.unfinished_tasks:
        raise QuotaExceeded(
            f"limit of {limits.unfinished_tasks} tasks of unfinished jobs: {usage['unfinished_tasks']} are "
            f"unfinished and this job adds {ntasks}",
            field="unfinished_tasks",
        )
    if usage["stored_bytes"] >= limits.stored_bytes:
        raise StorageExceeded(
            f"limit of {limits.stored_bytes // (1024 * 1024)} MB stored reached ({usage['stored_bytes']} bytes); "
            "delete finished jobs to make room",
            field="stored_bytes",
        )


@transaction.atomic
def simulation_submit(
    *,
    user,
    sim_type: str,
    input_type: str,
    ntasks: int,
    input_json: dict | None = None,
    input_files: dict[str, str] | None = None,
    title: str = "",
    platform: str = Platform.DIRECT,
    cluster: Cluster | None = None,
    batch_options: dict | None = None,
) -> tuple[Simulation, str]:
    """Creates a PENDING simulation with its input and tasks, and dispatches it after commit.

    The simulator checks the input (converting an editor project to its files) and the platform's backend
    checks that it can take the job, both before anything is created (InvalidInput says why not). The
    beam's primaries are split evenly over the tasks, the remainder dropped, as yaptide does. Returns the
    simulation and its update key (shown only here).
    """
    if sim_type not in SIMULATORS:
        raise InvalidInput(f"unknown sim_type {sim_type!r}", field="sim_type")
    if platform not in PLATFORM_CLASSES:
        raise InvalidInput(f"unknown platform {platform!r}", field="platform")
    _check_limits(user, int(ntasks))
    simulator = get_simulator(sim_type)
    prepared = simulator.prepare(input_type=input_type, input_json=input_json, input_files=input_files, ntasks=ntasks)
    backend_for(platform).check(simulator=simulator, user=user, cluster=cluster, batch_options=batch_options)
    ntasks = min(max(int(ntasks), 1), prepared.primaries)
    per_task = prepared.primaries // ntasks
    simulation_class, task_class = PLATFORM_CLASSES[platform]
    key, key_hash = update_key_new()
    simulation = simulation_class(
        job_id=job_id_new(platform),
        user=user,
        title=title or "",
        sim_type=sim_type,
        input_type=input_type,
        job_state=JobState.PENDING,
        update_key_hash=key_hash,
    )
    if cluster is not None and hasattr(simulation_class, "cluster"):
        simulation.cluster = cluster
    simulation.save()  # start_time (a database default) comes back in the INSERT's RETURNING
    first = task_class.FIRST_ORDINAL
    bulk_create_polymorphic(
        task_class,
        (
            task_class(simulation=simulation, task_id=n, requested_primaries=per_task)
            for n in range(first, first + ntasks)
        ),
    )
    payload = {
        "input_type": input_type,
        "input_files": prepared.files,
        "number_of_all_primaries": prepared.primaries,
        "primaries_per_task": per_task,
    }
    if input_type == InputType.EDITOR:
        payload["input_json"] = input_json
    if batch_options:
        payload["batch_options"] = batch_options  # checked by the backend; read again when it submits
    inp = Input(simulation=simulation)
    inp.data = payload
    inp.save()
    transaction.on_commit(lambda: simulation_dispatch(simulation=simulation, update_key=key))
    return simulation, key
