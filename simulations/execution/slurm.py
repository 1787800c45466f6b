"""BATCH execution on Slurm clusters over SSH: submit, cancel, reconcile. Celery tasks call these; no HTTP request does.

Progress is pushed, state is reconciled: each array task reports to the worker channel itself (when the compute
nodes can reach the backend), and a periodic round per (cluster, user) asks Slurm about all their active jobs in
one squeue and one sacct over one connection, then applies what the push did not deliver. sacct lags squeue
and may answer a partial list: a job it does not list is unknown, never failed. Every write goes through the
services, so the rules (states only move forward, a terminal job is final) hold here too.
"""

import json
import logging
import posixpath
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from accounts.models import KeycloakUser
from clusters import slurm
from clusters.models import Cluster
from clusters.ssh import (
    ClusterSession,
    ClusterUnreachable,
    CommandFailed,
    CredentialsError,
    check_certificate,
    cluster_session,
)
from yaptide_site.celery import app
from yaptide_site.errors import InvalidInput

from .. import services
from ..choices import TERMINAL_STATES, JobState
from ..merge import EstimatorMerger
from ..models import BatchSimulation, Input, Task
from ..runner import task_seed
from ..services import TaskUpdate
from ..simulators.base import TaskRun
from ..simulators.process import read_estimators
from ..simulators.shieldhit import ShieldhitSimulator, estimator_name
from . import DispatchFailed

SUBMIT = "simulations.slurm_submit"
CANCEL = "simulations.slurm_cancel"

logger = logging.getLogger(__name__)

ACTIVE_STATES = (JobState.PENDING, JobState.RUNNING, JobState.MERGING_QUEUED, JobState.MERGING_RUNNING)
CLUSTER_SCRIPTS = ("yaptide_batch.py",)
# Slurm's "finished" states, and what each means for a task whose own report never arrived.
SLURM_FAILURES = {
    "TIMEOUT": "the task ran out of its time limit (--time)",
    "OUT_OF_MEMORY": "the task ran out of memory (--mem)",
    "NODE_FAIL": "the node running the task failed",
    "BOOT_FAIL": "the node for the task failed to boot",
    "DEADLINE": "the task missed its deadline",
    "PREEMPTED": "the task was preempted",
    "CANCELLED": "the task was cancelled on the cluster (by an administrator or the scheduler), not by its owner",
    "FAILED": "the task failed",
    "REVOKED": "the task was revoked",
    "SPECIAL_EXIT": "the task ended in a special exit state",
}


class SlurmBackend:
    """BATCH: jobs go to a Slurm cluster over SSH, from Celery tasks only (sent by name, after commit)."""

    def check(self, *, simulator, user, cluster, batch_options: dict | None) -> None:
        """A Keycloak user with a usable certificate, a configured cluster, SHIELD-HIT12A, allowed options."""
        submission_check(user=user, cluster=cluster, simulator=simulator, batch_options=batch_options)

    def dispatch(self, *, simulation_id: int, update_key: str) -> None:
        """Sends the submission to a worker (SSH never runs in the request that submitted)."""
        try:
            app.signature(SUBMIT).apply_async(
                args=(simulation_id, update_key), queue=settings.CELERY_TASK_DEFAULT_QUEUE
            )
        except Exception as exc:
            raise DispatchFailed(f"the Celery broker did not take the batch submission: {exc!r}") from exc

    def cancel(self, *, simulation_id: int) -> None:
        """Sends the scancel to a worker; the job and its tasks are CANCELED already."""
        try:
            app.signature(CANCEL).apply_async(args=(simulation_id,), queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        except Exception:
            logger.warning("scancel of simulation %s not sent; the reconciler leaves it be", simulation_id)

    def merge(self, *, simulation_id: int) -> None:
        """Nothing to start: the collect job waits in Slurm for the array (afterany); after a cancel, the cancel
        task merges the completed tasks' outputs itself once Slurm has stopped the array."""

    def reaps_stale_tasks(self) -> bool:
        return False  # the reconciler asks Slurm instead of guessing from silence


# --- submission checks (called by the submit service before anything is created) ------------------------------


def submission_check(*, user, cluster: Cluster | None, simulator, batch_options) -> None:
    """Validates a BATCH submission; InvalidInput says why not. No SSH: the certificate is read, not tried."""
    real_user = user.get_real_instance() if hasattr(user, "get_real_instance") else user
    if not isinstance(real_user, KeycloakUser):
        raise InvalidInput("batch simulations need a Keycloak (PLGrid) account: log in with PLGrid", field="platform")
    if not (real_user.cert or "").strip() or not (real_user.private_key or "").strip():
        raise InvalidInput(
            "your account has no SSH certificate for the clusters yet: log in with PLGrid again to get one",
            field="platform",
        )
    try:
        check_certificate(real_user.cert, principal=real_user.username)
    except CredentialsError as error:
        raise InvalidInput(f"your SSH certificate cannot be used: {error}", field="platform") from None
    if cluster is None:
        named = (batch_options or {}).get("cluster_name") if isinstance(batch_options, dict) else None
        raise InvalidInput(
            f"unknown cluster {named!r}" if named else "batch simulations need a cluster (its name)", field="cluster"
        )
    if not cluster.reachable:
        raise InvalidInput(f"cluster {cluster.cluster_name} is not configured for batch jobs yet", field="cluster")
    if getattr(simulator, "name", "") != "shieldhit":
        raise InvalidInput("batch simulations run SHIELD-HIT12A (sim_type shieldhit) for now", field="sim_type")
    slurm.parse_batch_options(batch_options)


# --- job folder --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobFiles:
    """The files of one job folder on the cluster, rendered before upload."""

    files: dict[str, tuple[str, int]]  # relative path -> (text, mode)


def job_folder(session: ClusterSession, simulation: BatchSimulation) -> str:
    """The job's folder: <scratch>/yaptide/<job_id>, the scratch expression evaluated on the login node."""
    if simulation.job_dir:
        return simulation.job_dir
    scratch = session.run(f'printf "%s" "{simulation.cluster.scratch}"').stdout.strip()
    if not scratch.startswith("/"):
        raise slurm.SlurmError(f"the scratch expression {simulation.cluster.scratch!r} gave {scratch!r}, not a folder")
    return posixpath.join(scratch, settings.SLURM_JOB_FOLDER, simulation.job_id)


def job_files(simulation: BatchSimulation, job_dir: str, update_key: str) -> JobFiles:
    """Everything the job folder holds before sbatch: input, per-task command lines, config, key, scripts."""
    cluster = simulation.cluster
    input_data = Input.objects.get(simulation_id=simulation.pk).data
    options = slurm.parse_batch_options(input_data.get("batch_options"))
    simulator = ShieldhitSimulator()
    tasks = Task.objects.filter(simulation_id=simulation.pk).order_by("task_id")
    input_files = input_data.get("input_files") or {}
    command_lines = {}
    for task in tasks:
        run = TaskRun(
            input_data=input_data,
            primaries=task.requested_primaries,
            seed=task_seed(simulation.job_id, task.task_id),
            workdir=Path(posixpath.join(job_dir, f"task_{task.task_id:04d}")),
            task_id=task.task_id,
        )
        # The direct path's command line, with the cluster's `shieldhit` (found on PATH after the prelude).
        command_lines[str(task.task_id)] = simulator.command("shieldhit", run, simulator.task_files(input_files, run))
    name = f"yaptide-{simulation.job_id[:15]}"
    defaults = slurm.option_arguments(slurm.parse_sbatch_options(cluster.sbatch_options, "sbatch_options"))
    array = slurm.sbatch_array_command(
        script="array.sh",
        ntasks=len(command_lines),
        job_name=name,
        output="logs/task_%a.out",
        options=[*defaults, *options.array_arguments()],
    )
    collect = slurm.sbatch_collect_prefix(
        job_name=f"{name}-collect", output="logs/collect.out", options=[*defaults, *options.collect_arguments()]
    )
    quoted_dir = shlex.quote(job_dir)
    files: dict[str, tuple[str, int]] = {f"input/{file_name}": (text, 0o644) for file_name, text in input_files.items()}
    files["tasks.json"] = (json.dumps(command_lines), 0o644)
    files["config.json"] = (json.dumps({"job_id": simulation.job_id, "url": cluster.callback_url}), 0o644)
    files["update_key"] = (update_key + "\n", 0o600)
    for script in CLUSTER_SCRIPTS:
        files[script] = ((slurm.SCRIPTS / script).read_text(), 0o644)
    prelude = cluster.prelude.strip()
    files["array.sh"] = (
        slurm.render_script("array.sh", header=options.array_header_lines(), job_dir=quoted_dir, prelude=prelude),
        0o755,
    )
    files["collect.sh"] = (
        slurm.render_script("collect.sh", header=options.collect_header_lines(), job_dir=quoted_dir, prelude=prelude),
        0o755,
    )
    files["submit.sh"] = (
        slurm.render_script(
            "submit.sh", job_dir=quoted_dir, sbatch_array=slurm.shell(array), sbatch_collect=slurm.shell(collect)
        ),
        0o755,
    )
    return JobFiles(files)


def _parse_submitted(output: str) -> tuple[str, str]:
    words = output.split()
    if len(words) < 2:
        raise slurm.SlurmError(f"submit.sh printed {output!r}, not two job ids")
    return slurm.parse_sbatch_parsable(words[-2]), slurm.parse_sbatch_parsable(words[-1])


# --- submit ------------------------------------------------------------------------------------------------------


def _fail_job(simulation: BatchSimulation, log_name: str, message: str) -> None:
    services.logfiles_store(simulation=simulation, logfiles={log_name: message})
    for task_id in simulation.tasks.exclude(task_state__in=TERMINAL_STATES).values_list("task_id", flat=True):
        services.task_apply_update(
            simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=JobState.FAILED)
        )
    services.simulation_apply_update(simulation=simulation, job_state=JobState.FAILED, end_time=timezone.now())


def _batch_simulation(simulation_id: int) -> BatchSimulation | None:
    return BatchSimulation.objects.select_related("cluster", "user").filter(pk=simulation_id).first()


def _keycloak_user(simulation: BatchSimulation) -> KeycloakUser:
    return KeycloakUser.objects.get(pk=simulation.user_id)


def submit(*, simulation_id: int, update_key: str, final_attempt: bool = False) -> str:
    """Submits a job over one connection: folder, files over SFTP, then submit.sh (array + collect, once).

    A retried call finds the folder and the ids recorded by the first submit.sh and stores those instead of
    submitting again. Raises ClusterUnreachable to be retried; a permanent failure marks the job FAILED.
    """
    simulation = _batch_simulation(simulation_id)
    if simulation is None or simulation.job_state in TERMINAL_STATES:
        return "gone"
    try:
        with cluster_session(simulation.cluster, _keycloak_user(simulation)) as session:
            job_dir = job_folder(session, simulation)
            found = session.run(f"cat {shlex.quote(job_dir)}/submitted 2>/dev/null || true").stdout
            if found.strip():
                array_id, collect_id = _parse_submitted(found)
            else:
                session.run(f"mkdir -p {shlex.quote(job_dir)}/input {shlex.quote(job_dir)}/logs")
                for relative, (text, mode) in job_files(simulation, job_dir, update_key).files.items():
                    session.put_text(posixpath.join(job_dir, relative), text, mode)
                array_id, collect_id = _parse_submitted(session.run(f"bash {shlex.quote(job_dir)}/submit.sh").stdout)
            services.simulation_apply_update(
                simulation=simulation, job_dir=job_dir, array_id=array_id, collect_id=collect_id
            )
            # Canceled while we were submitting: the cancel found no ids to scancel, so do it here.
            simulation.refresh_from_db(fields=["job_state"])
            if simulation.job_state == JobState.CANCELED:
                session.run(slurm.shell(slurm.scancel_command([array_id, collect_id])), check=False)
    except CredentialsError as error:
        _fail_job(simulation, "submit.log", f"cannot connect to {simulation.cluster.cluster_name}: {error}\n")
        return "failed"
    except (CommandFailed, slurm.SlurmError) as error:
        _fail_job(simulation, "submit.log", f"submission to {simulation.cluster.cluster_name} failed: {error}\n")
        return "failed"
    except ClusterUnreachable as error:
        if final_attempt:
            _fail_job(simulation, "submit.log", f"{simulation.cluster.cluster_name} stayed unreachable: {error}\n")
            return "failed"
        raise
    logger.info("submitted %s: array %s, collect %s in %s", simulation.job_id, array_id, collect_id, job_dir)
    return "submitted"


# --- cancel ------------------------------------------------------------------------------------------------------


def cancel(*, simulation_id: int) -> str:
    """One scancel of the array and the collect job together; once Slurm no longer lists them, the completed
    tasks' outputs are merged here (partial results, as a canceled direct job keeps) and the job folder is
    removed. The job and its tasks are CANCELED already (services). Raises ClusterUnreachable to retry."""
    simulation = _batch_simulation(simulation_id)
    if simulation is None or not simulation.array_id:
        return "nothing to cancel"  # not submitted yet: submit() scancels what it submits for a canceled job
    ids = [simulation.array_id, simulation.collect_id]
    try:
        with cluster_session(simulation.cluster, _keycloak_user(simulation)) as session:
            session.run(slurm.shell(slurm.scancel_command(ids)), check=False)
            listed = slurm.parse_squeue(session.run(slurm.shell(slurm.squeue_command(ids)), check=False).stdout)
            if listed:
                return "waiting"  # the caller retries; the folder goes once the jobs are gone
            if simulation.job_dir:
                _merge_completed(session, simulation)
                session.run(f"rm -rf {shlex.quote(simulation.job_dir)}", check=False)
    except CredentialsError as error:
        services.logfiles_store(simulation=simulation, logfiles={"cancel.log": f"scancel failed: {error}\n"})
        return "failed"
    return "canceled"


def _merge_completed(session: ClusterSession, simulation: BatchSimulation) -> None:
    """Fetches the COMPLETED tasks' output files over SFTP and merges them as the direct path merges its tasks."""
    completed = dict(
        simulation.tasks.filter(task_state=JobState.COMPLETED).values_list("task_id", "simulated_primaries")
    )
    if not completed:
        return
    simulator = ShieldhitSimulator()
    merger = EstimatorMerger()
    with tempfile.TemporaryDirectory(prefix="yaptide-cancel-") as local:
        for task_id, primaries in sorted(completed.items()):
            folder = posixpath.join(simulation.job_dir, f"task_{task_id:04d}")
            seed = task_seed(simulation.job_id, task_id)
            paths = []
            for name in sorted(session.list_files(folder)):
                if name.endswith(".bdo"):
                    paths.append(Path(local) / f"{task_id}" / name)
                    paths[-1].parent.mkdir(exist_ok=True)
                    session.get_file(posixpath.join(folder, name), str(paths[-1]))
            try:
                estimators = read_estimators(
                    paths,
                    label=simulator.label,
                    read=simulator.read_output,
                    name_of=lambda path, _estimator, seed=seed: estimator_name(path, seed),
                    failure_logs=dict,
                )
            except Exception as error:  # a damaged output: keep the others' results
                logger.warning("partial merge of %s: task %s unreadable: %s", simulation.job_id, task_id, error)
                continue
            merger.add(estimators, primaries)
    merged = merger.result()
    if merged:
        services.simulation_merge_finish(simulation=simulation, estimators=merged)


# --- reconcile ---------------------------------------------------------------------------------------------------


def active_pairs() -> list[tuple[int, int]]:
    """(cluster, user) pairs with submitted batch jobs that are not finished."""
    return list(
        BatchSimulation.objects.filter(job_state__in=ACTIVE_STATES)
        .exclude(array_id="")
        .exclude(cluster=None)
        .values_list("cluster_id", "user_id")
        .distinct()
        .order_by("cluster_id", "user_id")
    )


def _round_key(cluster_id: int, user_id: int) -> str:
    return f"yaptide:slurm-round:{cluster_id}:{user_id}"


def pairs_due(now=None) -> list[tuple[int, int]]:
    """The active pairs whose next round is due (the cluster's poll interval, doubled per failed round)."""
    now = (now or timezone.now()).timestamp()
    intervals = dict(Cluster.objects.values_list("pk", "poll_seconds"))
    due = []
    for cluster_id, user_id in active_pairs():
        state = cache.get(_round_key(cluster_id, user_id)) or {"next": 0}
        if now >= state["next"]:
            due.append((cluster_id, user_id))
            # Claimed for one interval; the round itself sets the next time (with backoff if it failed).
            cache.set(_round_key(cluster_id, user_id), {**state, "next": now + intervals[cluster_id]}, 86400)
    return due


def _record_round(cluster: Cluster, user_id: int, ok: bool) -> int:
    key = _round_key(cluster.pk, user_id)
    state = cache.get(key) or {"failures": 0}
    failures = 0 if ok else state.get("failures", 0) + 1
    delay = min(cluster.poll_seconds * 2**failures, settings.SLURM_MAX_BACKOFF_SECONDS)
    cache.set(key, {"failures": failures, "next": timezone.now().timestamp() + delay}, 86400)
    return failures


@dataclass
class RoundReport:
    jobs: int = 0
    squeue_calls: int = 0
    sacct_calls: int = 0
    applied: int = 0
    error: str = ""


def reconcile(*, cluster_id: int, user_id: int) -> RoundReport:
    """One round for one (cluster, user): one connection, one squeue and one sacct for all their active jobs."""
    report = RoundReport()
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    user = KeycloakUser.objects.filter(pk=user_id).first()
    if cluster is None or user is None:
        return report
    simulations = list(
        BatchSimulation.objects.filter(cluster_id=cluster_id, user_id=user_id, job_state__in=ACTIVE_STATES)
        .exclude(array_id="")
        .select_related("cluster")
        .order_by("pk")
    )
    report.jobs = len(simulations)
    if not simulations:
        return report
    ids = [job_id for simulation in simulations for job_id in (simulation.array_id, simulation.collect_id) if job_id]
    try:
        with cluster_session(cluster, user) as session:
            live_result = session.run(slurm.shell(slurm.squeue_command(ids)), check=False)
            report.squeue_calls += 1
            accounting_result = session.run(slurm.shell(slurm.sacct_command(ids)), check=False)
            report.sacct_calls += 1
            live = slurm.parse_squeue(live_result.stdout) if live_result.exit_status == 0 else {}
            accounted = slurm.parse_sacct(accounting_result.stdout) if accounting_result.exit_status == 0 else {}
            for simulation in simulations:
                report.applied += _reconcile_job(session, simulation, live, accounted)
    except (ClusterUnreachable, CredentialsError) as error:
        # No state changes on a failed round: the next one (later, with backoff) asks again.
        failures = _record_round(cluster, user_id, ok=False)
        report.error = str(error)
        logger.warning("reconcile %s/%s failed (%s in a row): %s", cluster, user.username, failures, error)
        return report
    _record_round(cluster, user_id, ok=True)
    return report


def _task_log(session: ClusterSession, simulation: BatchSimulation, task_id: int) -> str:
    text = session.get_text(posixpath.join(simulation.job_dir, f"task_{task_id:04d}", "task.log"), limit=200_000)
    slurm_out = session.get_text(posixpath.join(simulation.job_dir, "logs", f"task_{task_id}.out"), limit=50_000)
    return (text or "") + (f"\n--- Slurm output ---\n{slurm_out}" if slurm_out else "")


@dataclass(frozen=True)
class TaskOutcome:
    """What Slurm's view means for one unfinished task: a new state, and for a failure, why."""

    task_state: str
    reason: str = ""


def task_outcome(
    key: str, task_state: str, live: dict[str, slurm.SlurmJobState], accounted: dict[str, slurm.SlurmJobState]
) -> TaskOutcome | None:
    """The change Slurm's answers imply for the array element `key` (e.g. "123_4"), or None (nothing known or
    nothing new). A row sacct does not have is unknown, never a failure; squeue's live row wins over sacct's."""
    seen = live.get(key) or accounted.get(key)
    if seen is None or task_state in TERMINAL_STATES:
        return None
    if seen.state in slurm.RUNNING_STATES:
        return TaskOutcome(JobState.RUNNING) if task_state == JobState.PENDING else None
    if key in live or not seen.finished:
        return None
    if seen.state == "COMPLETED" and not slurm.exit_code_failed(seen.detail):
        return TaskOutcome(JobState.COMPLETED)
    reason = SLURM_FAILURES.get(seen.state, f"Slurm state {seen.state}")
    return TaskOutcome(JobState.FAILED, f"Slurm: {seen.state} (exit code {seen.detail}): {reason}")


def _reconcile_job(session: ClusterSession, simulation: BatchSimulation, live: dict, accounted: dict) -> int:
    """Applies Slurm's view of one job that the push did not deliver; returns the number of changes made."""
    applied = 0
    tasks = dict(simulation.tasks.values_list("task_id", "task_state"))
    for task_id, state in sorted(tasks.items()):
        outcome = task_outcome(f"{simulation.array_id}_{task_id}", state, live, accounted)
        if outcome is None:
            continue
        if outcome.reason:
            log = f"{outcome.reason}\n\n{_task_log(session, simulation, task_id)}"
            services.logfiles_store(simulation=simulation, logfiles={f"task_{task_id}/slurm.log": log})
        services.task_apply_update(
            simulation=simulation, task_id=task_id, update=TaskUpdate(task_state=outcome.task_state)
        )
        applied += 1
    simulation.refresh_from_db(fields=["job_state"])
    if simulation.job_state in TERMINAL_STATES:
        return applied
    collect_live = live.get(simulation.collect_id)
    collect = collect_live or accounted.get(simulation.collect_id)
    if collect is None:
        return applied
    if collect.state in slurm.RUNNING_STATES and simulation.job_state == JobState.MERGING_QUEUED:
        services.simulation_apply_update(simulation=simulation, job_state=JobState.MERGING_RUNNING)
        return applied + 1
    if collect_live is not None or not collect.finished:
        return applied
    if simulation.tasks.exclude(task_state__in=TERMINAL_STATES).exists():
        return applied  # the collect job ended but some task rows are not in sacct yet: next round
    return applied + _apply_collect_end(session, simulation, collect)


def _apply_collect_end(session: ClusterSession, simulation: BatchSimulation, collect: slurm.SlurmJobState) -> int:
    """The collect job has ended and the job is not finished: its push did not arrive. Fetch over SFTP."""
    output = posixpath.join(simulation.job_dir, "output")
    if collect.state == "COMPLETED" and not slurm.exit_code_failed(collect.detail):
        text = session.get_text(posixpath.join(output, "results.json"))
        estimators = (json.loads(text) if text else {}).get("estimators") or []
        if estimators:
            services.results_store(simulation=simulation, estimators=estimators)
            services.simulation_apply_update(
                simulation=simulation, job_state=JobState.COMPLETED, end_time=timezone.now()
            )
            return 1
    log = session.get_text(posixpath.join(output, "collect.log"), limit=200_000) or ""
    slurm_out = session.get_text(posixpath.join(simulation.job_dir, "logs", "collect.out"), limit=50_000) or ""
    reason = SLURM_FAILURES.get(collect.state, f"Slurm state {collect.state}").replace("task", "collect job")
    services.logfiles_store(
        simulation=simulation,
        logfiles={"collect.log": f"Slurm: {collect.state} (exit code {collect.detail}): {reason}\n\n{log}{slurm_out}"},
    )
    services.simulation_apply_update(simulation=simulation, job_state=JobState.FAILED, end_time=timezone.now())
    return 1
