import pytest
from django.urls import reverse

from clusters.models import Cluster
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


def test_cluster_list_shows_clusters_with_links_to_their_simulations(admin_client, submit):
    cluster = ClusterFactory(cluster_name="ares")
    submit(platform="BATCH", cluster=cluster)

    response = admin_client.get(reverse("admin:clusters_cluster_changelist"), {"q": "are"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "ares" in html
    assert f"?batchsimulation__cluster__id__exact={cluster.pk}" in html


DEFAULTS = {"ssh_port": 22, "scratch": "$SCRATCH", "poll_seconds": 30, "max_channels": 8}
HOST_KEY = "[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def test_cluster_can_be_added_and_renamed(admin_client):
    response = admin_client.post(reverse("admin:clusters_cluster_add"), {"cluster_name": "ares", **DEFAULTS})
    assert response.status_code == 302
    cluster = Cluster.objects.get()

    page = admin_client.get(reverse("admin:clusters_cluster_change", args=[cluster.pk]))
    renamed = admin_client.post(
        reverse("admin:clusters_cluster_change", args=[cluster.pk]), {"cluster_name": "athena", **DEFAULTS}
    )

    assert page.status_code == 200 and 'value="ares"' in page.content.decode()
    assert renamed.status_code == 302
    assert Cluster.objects.get().cluster_name == "athena"


def test_adding_a_cluster_with_a_taken_name_shows_an_error(admin_client):
    ClusterFactory(cluster_name="ares")

    response = admin_client.post(reverse("admin:clusters_cluster_add"), {"cluster_name": "ares", **DEFAULTS})

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Cluster.objects.count() == 1


def test_cluster_ssh_settings_are_kept_and_bad_ones_named(admin_client):
    good = {"cluster_name": "ares", **DEFAULTS, "ssh_host": "127.0.0.1", "ssh_port": 2222, "host_keys": HOST_KEY}
    response = admin_client.post(
        reverse("admin:clusters_cluster_add"),
        {**good, "sbatch_options": "--partition=plgrid", "prelude": "module load x"},
    )
    assert response.status_code == 302
    cluster = Cluster.objects.get()
    assert (cluster.ssh_port, cluster.sbatch_options, cluster.reachable) == (2222, "--partition=plgrid", True)

    for field, value, message in [
        ("host_keys", "ssh-ed25519 not-base64", "cannot read"),
        ("sbatch_options", "--wrap=reboot", "not allowed"),
        ("poll_seconds", 5, "at least 10"),
    ]:
        bad = admin_client.post(reverse("admin:clusters_cluster_add"), {**good, "cluster_name": "x", field: value})
        assert bad.status_code == 200 and message in bad.content.decode(), field
    assert Cluster.objects.count() == 1
