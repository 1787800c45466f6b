"""SSH connections per batch job and per reconcile round on the loopback Slurm cluster, and sshd processes left.

`make bench-slurm` (starts the cluster). Jobs have no route back (empty callback URL), so the reconciler alone
moves them: every round is one connection with one squeue and one sacct for all of the user's active jobs.
Connections are counted on the server side (sshd's "Accepted publickey" lines), open ones as the cluster user's
sshd processes. Figures are printed, never asserted.
"""

import logging
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yaptide_site.settings")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DATABASE_URL", "sqlite:///var/bench-slurm.sqlite3")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from accounts.models import KeycloakUser  # noqa: E402
from clusters.models import Cluster  # noqa: E402
from simulations.execution import slurm as backend  # noqa: E402
from simulations.execution.slurm import SlurmBackend  # noqa: E402
from simulations.models import BatchSimulation  # noqa: E402
from simulations.services import simulation_submit  # noqa: E402
from tests.slurm.loopback import loopback  # noqa: E402

JOBS = int(os.environ.get("BENCH_SLURM_JOBS", "20"))
TASKS = int(os.environ.get("BENCH_SLURM_TASKS", "2"))
TOOLS = os.environ.get("SLURM_CLUSTER_TOOLS", "/opt/yaptide-cluster")
FILES = {"beam.dat": "NSTAT 2000 0\n", "geo.dat": "g\n", "mat.dat": "m\n", "detect.dat": "d\n"}


def sshd_left(side, patience: float = 5.0) -> int:
    """The cluster user's sshd processes once closed connections had `patience` seconds to wind down."""
    deadline = time.monotonic() + patience
    while side.sshd_sessions() and time.monotonic() < deadline:
        time.sleep(0.1)
    return side.sshd_sessions()


class HeldDispatch(SlurmBackend):
    """The real checks; the bench submits and reconciles itself, in this process, to count connections."""

    def dispatch(self, *, simulation_id: int, update_key: str) -> None:
        pass


def main() -> int:
    for name in ("paramiko", "simulations", "clusters"):
        logging.getLogger(name).setLevel(logging.WARNING)  # the table is the output
    call_command("migrate", verbosity=0)
    settings.SIMULATION_BACKENDS = {**settings.SIMULATION_BACKENDS, "BATCH": f"{__name__}.HeldDispatch"}
    side = loopback()
    BatchSimulation.objects.all().delete()
    cluster, _ = Cluster.objects.update_or_create(
        cluster_name="loopback-bench",
        defaults=dict(
            ssh_host=side.host,
            ssh_port=side.port,
            host_keys=side.known_hosts.read_text(),
            prelude=f'export PATH="{TOOLS}/bin:$PATH"\nexport FAKE_SIM_SECONDS=2',
            poll_seconds=10,
            callback_url="",
        ),
    )
    user, _ = KeycloakUser.objects.update_or_create(
        username=side.user, defaults=dict(cert=side.cert.read_text(), private_key=side.key.read_text())
    )
    jobs = []
    for _ in range(JOBS):
        simulation, key = simulation_submit(
            user=user, sim_type="shieldhit", input_type="FILES", ntasks=TASKS, input_files=FILES,
            platform="BATCH", cluster=cluster,
        )  # fmt: skip
        jobs.append((simulation, key))
    started = time.monotonic()
    before = side.accepted_logins()
    for simulation, key in jobs:
        backend.submit(simulation_id=simulation.pk, update_key=key)
    submit_logins = side.accepted_logins() - before
    print(f"submitted {JOBS} jobs of {TASKS} tasks in {time.monotonic() - started:.1f} s")
    print(f"SSH connections per submitted job: {submit_logins / JOBS:.2f}; sshd left open: {sshd_left(side)}")
    print("round  active jobs  connections  squeue  sacct  seconds  sshd left open")
    for number in range(1, 200):
        before, started = side.accepted_logins(), time.monotonic()
        report = backend.reconcile(cluster_id=cluster.pk, user_id=user.pk)
        seconds = time.monotonic() - started
        print(
            f"{number:5d}  {report.jobs:11d}  {side.accepted_logins() - before:11d}  {report.squeue_calls:6d}  "
            f"{report.sacct_calls:5d}  {seconds:7.2f}  {sshd_left(side):14d}"
            + (f"  error: {report.error}" if report.error else "")
        )
        if not report.jobs:
            break
    states = BatchSimulation.objects.values_list("job_state", flat=True)
    print(f"job states: { {state: list(states).count(state) for state in set(states)} }")
    side.ssh(f"scancel --user={side.user}", check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
