import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from clusters.models import Cluster
from simulations.models import BatchSimulation
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


def test_cluster_has_a_unique_name():
    Cluster.objects.create(cluster_name="ares")

    with pytest.raises(IntegrityError), transaction.atomic():
        Cluster.objects.create(cluster_name="ares")
    assert str(Cluster.objects.get()) == "ares"


def test_cluster_lists_its_batch_simulations_and_cannot_be_deleted_while_it_has_any(submit):
    cluster = ClusterFactory()
    simulation, _ = submit(platform="BATCH", cluster=cluster)

    assert list(cluster.simulations.all()) == [BatchSimulation.objects.get(pk=simulation.pk)]
    with pytest.raises(ProtectedError):
        cluster.delete()
