import os

import pytest

from accounts.models import KeycloakUser
from clusters.models import Cluster
from tests.conftest import api_client_for

from .loopback import loopback

SLURM_BACKEND = "simulations.execution.slurm.SlurmBackend"
# Where `make test-slurm` installed the cluster-side tools (convertmc, the fake shieldhit).
CLUSTER_TOOLS = os.environ.get("SLURM_CLUSTER_TOOLS", "/opt/yaptide-cluster")
BASE_PRELUDE = f'export PATH="{CLUSTER_TOOLS}/bin:$PATH"'


@pytest.fixture(scope="session")
def cluster_side():
    return loopback()


@pytest.fixture
def cluster(db, cluster_side):
    """The loopback cluster as an operator would add it: pinned host keys, $SCRATCH, the cluster-side tools."""
    return Cluster.objects.create(
        cluster_name="loopback",
        ssh_host=cluster_side.host,
        ssh_port=cluster_side.port,
        host_keys=cluster_side.known_hosts.read_text(),
        prelude=BASE_PRELUDE,
        scratch="$SCRATCH",
        poll_seconds=10,
        max_channels=4,
    )


@pytest.fixture
def plg_user(db, cluster_side):
    """The Keycloak user whose certificate the cluster accepts (as the certificate service would store it)."""
    return KeycloakUser.objects.create(
        username=cluster_side.user, cert=cluster_side.cert.read_text(), private_key=cluster_side.key.read_text()
    )


@pytest.fixture
def batch_stack(transactional_db, live_server, celery_workers, cluster, plg_user, cluster_side, settings):
    """A live server the cluster calls back, a real Celery worker with beat (the reconciler), and the user.

    Afterwards every job of the cluster user is cancelled, so a failed test leaves nothing running."""
    settings.SIMULATION_BACKENDS = {**settings.SIMULATION_BACKENDS, "BATCH": SLURM_BACKEND}
    cluster.callback_url = live_server.url
    cluster.save()
    worker = celery_workers.start(
        concurrency=3,
        beat=True,
        YAPTIDE_TEST_SLURM="1",
        SLURM_RECONCILE_TICK_SECONDS="1",
        SLURM_RETRY_SECONDS="1",
    )
    yield BatchStack(cluster=cluster, user=plg_user, client=api_client_for(plg_user), worker=worker)
    celery_workers.stop_all()
    cluster_side.ssh(f"scancel --user={cluster_side.user}", check=False)


class BatchStack:
    def __init__(self, *, cluster, user, client, worker):
        self.cluster, self.user, self.client, self.worker = cluster, user, client, worker

    def set_prelude(self, *lines: str) -> None:
        """Cluster-side environment of the jobs (the fake simulator reads FAKE_SIM_* variables)."""
        self.cluster.prelude = "\n".join([BASE_PRELUDE, *lines])
        self.cluster.save()
