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


def test_cluster_can_be_added_and_renamed(admin_client):
    response = admin_client.post(reverse("admin:clusters_cluster_add"), {"cluster_name": "ares"})
    assert response.status_code == 302
    cluster = Cluster.objects.get()

    page = admin_client.get(reverse("admin:clusters_cluster_change", args=[cluster.pk]))
    renamed = admin_client.post(reverse("admin:clusters_cluster_change", args=[cluster.pk]), {"cluster_name": "athena"})

    assert page.status_code == 200 and 'value="ares"' in page.content.decode()
    assert renamed.status_code == 302
    assert Cluster.objects.get().cluster_name == "athena"


def test_adding_a_cluster_with_a_taken_name_shows_an_error(admin_client):
    ClusterFactory(cluster_name="ares")

    response = admin_client.post(reverse("admin:clusters_cluster_add"), {"cluster_name": "ares"})

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Cluster.objects.count() == 1
