import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from clusters.models import Cluster
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_add_cluster_adds_a_cluster():
    out = run("add_cluster", "ares")

    assert out.startswith("Added cluster 'ares'")
    assert list(Cluster.objects.values_list("cluster_name", flat=True)) == ["ares"]


@pytest.mark.parametrize("name, error", [("ares", "already exists"), ("  ", "must not be empty")])
def test_add_cluster_refuses_a_taken_or_empty_name(name, error):
    ClusterFactory(cluster_name="ares")

    with pytest.raises(CommandError, match=error):
        run("add_cluster", name)
    assert Cluster.objects.count() == 1


def test_list_clusters_shows_names_and_simulation_counts(submit):
    ares = ClusterFactory(cluster_name="ares")
    ClusterFactory(cluster_name="athena")
    submit(platform="BATCH", cluster=ares)

    lines = run("list_clusters").splitlines()

    assert lines[0].split() == ["id", "cluster_name", "simulations"]
    assert [line.split()[1:] for line in lines[1:]] == [["ares", "1"], ["athena", "0"]]


@pytest.mark.parametrize("command", ["add_cluster", "list_clusters"])
def test_commands_have_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command(command, "--help")
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out
