"""clusters.ssh against the loopback cluster's real sshd: certificates, pinned host keys, one connection, closed."""

from datetime import UTC, datetime

import pytest

from clusters import ssh
from tests.workers import wait_for

from .conftest import CLUSTER_TOOLS
from .loopback import sign_certificate

pytestmark = pytest.mark.slurm


def test_a_session_runs_commands_after_the_prelude_and_closes(cluster, plg_user, cluster_side):
    before = cluster_side.accepted_logins()
    with ssh.cluster_session(cluster, plg_user) as session:
        first = session.run('printf %s "$SCRATCH"; echo; printf %s "$PATH"')
        second = session.run("sinfo --noheader --format=%T")
        session.put_text(f"{cluster_side.scratch}/ssh-test.txt", "hello\n")
        assert session.get_text(f"{cluster_side.scratch}/ssh-test.txt") == "hello\n"
        assert session.get_text(f"{cluster_side.scratch}/missing.txt") is None
        session.run(f"rm {cluster_side.scratch}/ssh-test.txt")
    scratch, path = first.stdout.splitlines()
    assert scratch == cluster_side.scratch and path.startswith(f"{CLUSTER_TOOLS}/bin:")
    assert second.stdout.strip() in {"idle", "mixed", "allocated"}
    assert cluster_side.accepted_logins() == before + 1
    wait_for(lambda: cluster_side.sshd_sessions() == 0, timeout=10, what="no sshd left for the user")


def test_a_failing_command_raises_with_its_stderr(cluster, plg_user):
    with ssh.cluster_session(cluster, plg_user) as session, pytest.raises(ssh.CommandFailed, match="no such"):
        session.run("echo 'no such thing' >&2; exit 3")


@pytest.mark.parametrize(
    ("validity", "principal", "reason"),
    [
        ("20200101:20200102", "plguser", "certificate expired at 2020-01-02"),
        ("+1d:+2d", "plguser", "certificate not valid before"),
        ("-5m:+1d", "someone-else", "is for someone-else, not for 'plguser'"),
        ("-5m:+1d", None, "names no principal"),
    ],
)
def test_an_unusable_certificate_fails_with_its_reason_before_any_ssh(
    cluster, plg_user, cluster_side, tmp_path, validity, principal, reason
):
    plg_user.cert = sign_certificate(cluster_side, tmp_path, validity=validity, principal=principal)
    before = cluster_side.accepted_logins(), cluster_side.sshd_log.stat().st_size, ssh.connections_opened

    with pytest.raises(ssh.CredentialsError, match=reason):
        with ssh.cluster_session(cluster, plg_user):
            pass

    assert (cluster_side.accepted_logins(), cluster_side.sshd_log.stat().st_size, ssh.connections_opened) == before


def test_the_certificate_check_reads_the_validity_window():
    with pytest.raises(ssh.CredentialsError, match="no SSH certificate"):
        ssh.check_certificate("", principal="plguser", now=datetime.now(UTC))


def test_a_host_key_that_is_not_pinned_is_refused(cluster, plg_user, tmp_path):
    other = tmp_path / "other_key"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    cluster.host_keys = other.with_suffix(".pub").read_text()
    with pytest.raises(ssh.CredentialsError, match="not pinned|not the pinned one"):
        with ssh.cluster_session(cluster, plg_user):
            pass


def test_a_cluster_without_pinned_keys_is_never_contacted(cluster, plg_user):
    cluster.host_keys = ""
    opened = ssh.connections_opened
    with pytest.raises(ssh.CredentialsError, match="no usable pinned host keys"):
        with ssh.cluster_session(cluster, plg_user):
            pass
    assert ssh.connections_opened == opened
