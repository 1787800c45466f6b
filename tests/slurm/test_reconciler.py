"""The reconciler and the SSH discipline on the loopback cluster: expired certificates, sshd going away,
and 50 active jobs of one user in one round over one connection."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from django.core.cache import cache

from clusters import ssh
from simulations.execution import slurm as backend
from simulations.models import BatchSimulation
from simulations.services import simulation_submit
from tests.simulations.pipeline_helpers import detail, logfiles, task_states, wait_for_state
from tests.workers import wait_for

from .conftest import SLURM_BACKEND
from .loopback import BASE, sign_certificate
from .test_batch_jobs import FILES, submit_batch

pytestmark = [pytest.mark.slurm, pytest.mark.integration]
ROOT = Path(__file__).resolve().parent.parent.parent
LOOPBACK_SCRIPT = Path(os.environ.get("SLURM_LOOPBACK_SCRIPT", ROOT.parent / "shared" / "slurm-loopback.sh"))


@pytest.fixture
def real_backend(settings):
    settings.SIMULATION_BACKENDS = {**settings.SIMULATION_BACKENDS, "BATCH": SLURM_BACKEND}


def submitted(user, cluster, *, ntasks: int = 1) -> tuple[BatchSimulation, str]:
    """A BATCH job created by the submit service (not yet sent: these tests call the backend themselves)."""
    files = FILES | {"beam.dat": "NSTAT 1000 0\n"}
    return simulation_submit(
        user=user, sim_type="shieldhit", input_type="FILES", ntasks=ntasks, input_files=files,
        platform="BATCH", cluster=cluster,
    )  # fmt: skip


def test_a_certificate_that_expired_after_submission_fails_the_job_with_its_reason_and_no_ssh(
    real_backend, cluster, plg_user, cluster_side, tmp_path
):
    simulation, key = submitted(plg_user, cluster)
    plg_user.cert = sign_certificate(cluster_side, tmp_path, validity="20200101:20200102", principal=plg_user.username)
    plg_user.save()
    before = cluster_side.accepted_logins(), cluster_side.sshd_log.stat().st_size, ssh.connections_opened

    outcome = backend.submit(simulation_id=simulation.pk, update_key=key)

    assert outcome == "failed"
    simulation.refresh_from_db()
    assert simulation.job_state == "FAILED" and simulation.array_id == ""
    assert "certificate expired at 2020-01-02 00:00:00 UTC" in simulation.logfiles.data["submit.log"]
    assert (cluster_side.accepted_logins(), cluster_side.sshd_log.stat().st_size, ssh.connections_opened) == before


def _stop_sshd() -> None:
    # Only stop what can be started again.
    assert LOOPBACK_SCRIPT.exists(), f"{LOOPBACK_SCRIPT} not found (set SLURM_LOOPBACK_SCRIPT)"
    pid = int((BASE / "run" / "sshd.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=15, what="sshd stopped")


def _start_sshd() -> None:
    subprocess.run(["bash", str(LOOPBACK_SCRIPT), "start"], check=True, capture_output=True, timeout=300)


def test_sshd_stopped_mid_job_changes_nothing_backs_off_and_recovers(batch_stack, cluster_side):
    batch_stack.cluster.callback_url = "http://127.0.0.1:9"  # only the reconciler moves the job
    batch_stack.set_prelude("export FAKE_SIM_SECONDS=8")
    job_id = submit_batch(batch_stack.client, ntasks=2)
    simulation = wait_for(
        lambda: (s := BatchSimulation.objects.get(job_id=job_id)).array_id and s, timeout=60, what="submitted"
    )
    round_key = f"yaptide:slurm-round:{simulation.cluster_id}:{simulation.user_id}"
    log = batch_stack.worker.log_path
    failures_logged = log.read_text().count("reconcile loopback/plguser failed")

    _stop_sshd()
    try:
        wait_for(
            lambda: log.read_text().count("reconcile loopback/plguser failed") > failures_logged,
            timeout=60,
            what="a reconcile round failing",
        )
        state = cache.get(round_key)
        body = detail(batch_stack.client, job_id)
        assert state["failures"] >= 1
        # Backed off: the next round waits the poll interval times 2 per failure, from the failure on.
        assert state["next"] - time.time() > batch_stack.cluster.poll_seconds
        assert body["job_state"] in ("PENDING", "RUNNING")
        assert set(task_states(body).values()) <= {"PENDING", "RUNNING"}
    finally:
        _start_sshd()

    body = wait_for_state(batch_stack.client, job_id, "COMPLETED", "FAILED", timeout=180)
    assert body["job_state"] == "COMPLETED", logfiles(batch_stack.client, job_id)
    # Only the reconciler could complete it (no route from the cluster): its rounds succeed again.
    assert cache.get(round_key)["failures"] == 0


def test_fifty_active_jobs_of_one_user_take_one_connection_one_squeue_and_one_sacct_per_round(
    real_backend, cluster, plg_user, cluster_side
):
    cluster.prelude += "\nexport FAKE_SIM_SECONDS=600"
    cluster.save()
    jobs = [submitted(plg_user, cluster) for _ in range(50)]
    logins = cluster_side.accepted_logins()
    try:
        for simulation, key in jobs:
            assert backend.submit(simulation_id=simulation.pk, update_key=key) == "submitted"
        per_job = (cluster_side.accepted_logins() - logins) / len(jobs)
        before = cluster_side.accepted_logins()

        report = backend.reconcile(cluster_id=cluster.pk, user_id=plg_user.pk)

        assert (report.jobs, report.squeue_calls, report.sacct_calls, report.error) == (50, 1, 1, "")
        assert cluster_side.accepted_logins() - before == 1
        wait_for(lambda: cluster_side.sshd_sessions() == 0, timeout=10, what="no sshd left open")
        print(f"SSH connections: {per_job:.1f} per submitted job, 1 per reconcile round of 50 jobs")
        assert BatchSimulation.objects.filter(job_state="FAILED").count() == 0
    finally:
        cluster_side.ssh(f"scancel --user={cluster_side.user}", check=False)


def test_a_submission_while_sshd_is_down_is_retried_with_backoff_and_goes_through_when_it_is_back(batch_stack):
    batch_stack.set_prelude("export FAKE_SIM_SECONDS=1")
    log = batch_stack.worker.log_path
    _stop_sshd()
    try:
        job_id = submit_batch(batch_stack.client, ntasks=2)
        wait_for(lambda: log.read_text().count("retry in") >= 2, timeout=60, what="two submission retries")
        delays = [
            int(line.rsplit("retry in ", 1)[1].split()[0])
            for line in log.read_text().splitlines()
            if "retry in" in line
        ]
        assert delays[:2] == [1, 2]  # SLURM_RETRY_SECONDS doubling
        body = detail(batch_stack.client, job_id)
        assert body["job_state"] == "PENDING" and set(task_states(body).values()) == {"PENDING"}
        assert BatchSimulation.objects.get(job_id=job_id).array_id == ""
    finally:
        _start_sshd()

    body = wait_for_state(batch_stack.client, job_id, "COMPLETED", "FAILED", timeout=180)
    assert body["job_state"] == "COMPLETED", logfiles(batch_stack.client, job_id)


def test_a_retried_submission_finds_the_job_folder_and_never_submits_twice(
    real_backend, cluster, plg_user, cluster_side
):
    simulation, key = submitted(plg_user, cluster, ntasks=2)
    assert backend.submit(simulation_id=simulation.pk, update_key=key) == "submitted"
    first = BatchSimulation.objects.get(pk=simulation.pk)
    # As if the first attempt died after sbatch but before the ids were stored.
    BatchSimulation.objects.filter(pk=simulation.pk).update(job_dir="", array_id="", collect_id="")

    assert backend.submit(simulation_id=simulation.pk, update_key=key) == "submitted"

    again = BatchSimulation.objects.get(pk=simulation.pk)
    assert (again.job_dir, again.array_id, again.collect_id) == (first.job_dir, first.array_id, first.collect_id)
    try:
        listed = cluster_side.ssh("squeue --noheader '--format=%i|%j' --user=plguser").stdout.split()
        name = f"yaptide-{simulation.job_id[:15]}"
        assert {line.split("|")[0].split("_")[0] for line in listed if f"|{name}" in line} == {
            first.array_id,
            first.collect_id,
        }
    finally:
        cluster_side.ssh("scancel --user=plguser", check=False)


def test_a_second_task_for_the_same_user_and_cluster_waits_for_the_first_connection(cluster, plg_user, cluster_side):
    import threading

    opened = []
    with ssh.cluster_session(cluster, plg_user):
        logins = cluster_side.accepted_logins()

        def second():
            with ssh.cluster_session(cluster, plg_user) as session:
                opened.append(session.run("echo second").stdout.strip())

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=3)
        assert thread.is_alive() and opened == []  # waiting for the lock, not connected
        assert cluster_side.accepted_logins() == logins
    thread.join(timeout=30)
    assert opened == ["second"]
    assert cluster_side.accepted_logins() == logins + 1
