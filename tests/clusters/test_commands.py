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


def test_add_cluster_takes_ssh_settings_and_pins_host_keys_from_a_file(tmp_path):
    keys = tmp_path / "known_hosts"
    keys.write_text(
        "[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    )

    run(
        "add_cluster", "ares", "--host=127.0.0.1", "--port=2222", f"--host-keys-file={keys}",
        "--prelude=module load python", "--sbatch-options=--partition=plgrid", "--poll-seconds=15",
        "--max-channels=4", "--callback-url=https://yaptide.example.org",
    )  # fmt: skip

    cluster = Cluster.objects.get()
    assert (cluster.ssh_host, cluster.ssh_port, cluster.poll_seconds, cluster.max_channels) == (
        "127.0.0.1",
        2222,
        15,
        4,
    )
    assert cluster.reachable and cluster.prelude == "module load python"


@pytest.mark.parametrize(
    ("option", "error"),
    [
        ("--poll-seconds=5", "at least 10"),
        ("--sbatch-options=--wrap=x", "not allowed"),
        ("--max-channels=0", "max_channels"),
    ],
)
def test_add_cluster_refuses_unusable_settings(option, error):
    with pytest.raises(CommandError, match=error):
        run("add_cluster", "ares", option)
    assert not Cluster.objects.exists()
