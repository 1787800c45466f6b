import pytest

from accounts.models import KeycloakUser
from clusters.models import Cluster

from .loopback import loopback


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
        prelude='export PATH="/opt/yaptide-cluster/bin:$PATH"',
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
