"""SSH to a cluster's login node: one connection per (cluster, user) at a time, always closed, channels capped.

The user's key and OpenSSH certificate come from their KeycloakUser row (encrypted at rest, decrypted only in
memory here). Before any connection the certificate's validity window and principals are checked, so an
expired certificate is reported as such instead of sshd's bare "Permission denied (publickey)". Host keys are
pinned on the Cluster row; an unknown host key is refused (no trust on first use). Only Celery tasks call this:
no HTTP request ever waits for SSH.
"""

import base64
import contextlib
import fcntl
import io
import logging
import shlex
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import paramiko
from cryptography.hazmat.primitives.serialization import SSHCertificate, load_ssh_public_identity
from django.conf import settings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 15
LOCK_WAIT_SECONDS = 120
LOCK_HOLD_SECONDS = 900
HOST_KEY_TYPES = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
}

# Connections opened by this process (for benchmarks and tests).
connections_opened = 0


class CredentialsError(Exception):
    """Connecting cannot work until someone acts: no certificate, an expired one, a wrong principal, a host key
    that is not pinned... (the message says which). Retrying does not help."""


class ClusterUnreachable(Exception):
    """The login node could not be reached or refused us for a reason that may pass (retry later)."""


class ClusterBusy(ClusterUnreachable):
    """Another task holds this user's connection to this cluster."""


class CommandFailed(Exception):
    def __init__(self, command: str, result: "CommandResult"):
        super().__init__(f"{command.split(' ', 1)[0]} exited with {result.exit_status}: {result.stderr.strip()[:500]}")
        self.result = result


class _PinnedKeysOnly(paramiko.MissingHostKeyPolicy):
    """Refuses any host key that is not pinned on the cluster (paramiko's RejectPolicy, with our error)."""

    def missing_host_key(self, client, hostname, key):
        raise CredentialsError(
            f"the host key of {hostname} ({key.get_name()} {key.get_fingerprint().hex()}) is not pinned on the cluster"
        )


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: str
    stderr: str


def parse_host_keys(text: str) -> list[paramiko.PKey]:
    """Public host keys from lines 'TYPE BASE64 [comment]' or known_hosts lines 'HOSTS TYPE BASE64 [comment]'."""
    keys = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0].startswith("@"):
            raise ValueError(f"line {number}: markers such as {words[0]} are not supported")
        if words[0] not in HOST_KEY_TYPES and len(words) >= 3:
            words = words[1:]  # known_hosts: drop the host names (we pin to the cluster's host)
        if len(words) < 2 or words[0] not in HOST_KEY_TYPES:
            raise ValueError(f"line {number}: not a public key of type {', '.join(sorted(HOST_KEY_TYPES))}")
        try:
            keys.append(paramiko.PKey.from_type_string(words[0], base64.b64decode(words[1], validate=True)))
        except Exception as error:  # paramiko raises several types for a damaged key
            raise ValueError(f"line {number}: cannot read the {words[0]} key ({error})") from None
    if not keys:
        raise ValueError("no host key given")
    return keys


def check_certificate(cert_text: str, *, principal: str, now: datetime | None = None) -> SSHCertificate:
    """The user's OpenSSH certificate if it is valid now for `principal`; CredentialsError says why not."""
    if not cert_text.strip():
        raise CredentialsError("no SSH certificate: log in with Keycloak (PLGrid) again to get one")
    try:
        certificate = load_ssh_public_identity(cert_text.strip().encode())
    except (ValueError, TypeError) as error:
        raise CredentialsError(f"the SSH certificate cannot be read: {error}") from None
    if not isinstance(certificate, SSHCertificate):
        raise CredentialsError("the SSH certificate is a plain public key, not a certificate")
    moment = (now or datetime.now(UTC)).timestamp()
    valid_after = datetime.fromtimestamp(certificate.valid_after, UTC)
    if moment < certificate.valid_after:
        raise CredentialsError(f"certificate not valid before {valid_after:%Y-%m-%d %H:%M:%S} UTC")
    # 2**64-1 means "forever"
    if certificate.valid_before < 2**64 - 1 and moment >= certificate.valid_before:
        expired = datetime.fromtimestamp(certificate.valid_before, UTC)
        raise CredentialsError(f"certificate expired at {expired:%Y-%m-%d %H:%M:%S} UTC: log in again to renew it")
    principals = [name.decode() for name in certificate.valid_principals]
    if not principals:
        raise CredentialsError("the SSH certificate names no principal, so no cluster account accepts it")
    if principal not in principals:
        raise CredentialsError(f"the SSH certificate is for {', '.join(principals)}, not for {principal!r}")
    return certificate


def _user_key(private_key: str, cert_text: str) -> paramiko.PKey:
    if not private_key.strip():
        raise CredentialsError("no SSH private key: log in with Keycloak (PLGrid) again to get one")
    key = None
    for key_class in (paramiko.RSAKey, paramiko.Ed25519Key, paramiko.ECDSAKey):
        try:
            key = key_class.from_private_key(io.StringIO(private_key))
            break
        except (paramiko.SSHException, ValueError):
            continue
    if key is None:
        raise CredentialsError("the SSH private key cannot be read (RSA, Ed25519 or ECDSA without a passphrase)")
    try:
        key.load_certificate(cert_text.strip())
    except ValueError as error:
        raise CredentialsError(f"the SSH certificate does not belong to the private key: {error}") from None
    return key


@contextlib.contextmanager
def _pair_lock(cluster_id: int, user_id: int) -> Iterator[None]:
    """Cross-process lock of one (cluster, user): Redis when configured (several machines), else a file lock."""
    name = f"yaptide:ssh:{cluster_id}:{user_id}"
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        lock = client.lock(name, timeout=LOCK_HOLD_SECONDS, blocking_timeout=LOCK_WAIT_SECONDS)
        try:
            if not lock.acquire():
                raise ClusterBusy(f"another task has held the SSH connection for over {LOCK_WAIT_SECONDS} s")
            try:
                yield
            finally:
                with contextlib.suppress(redis.exceptions.LockError):
                    lock.release()
        finally:
            client.close()
        return
    folder = settings.VAR_DIR / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"ssh-{cluster_id}-{user_id}.lock", "w") as handle:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ClusterBusy(
                        f"another task has held the SSH connection for over {LOCK_WAIT_SECONDS} s"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class ClusterSession:
    """An open SSH connection to a cluster as one user; commands run after the cluster's prelude."""

    def __init__(self, client: paramiko.SSHClient, cluster, max_channels: int):
        self.client = client
        self.cluster = cluster
        self.channels = threading.BoundedSemaphore(max_channels)
        self._sftp: paramiko.SFTPClient | None = None
        self.commands_run = 0

    def run(self, command: str, *, timeout: float = 120, check: bool = True, input_text: str | None = None):
        """Runs `command` in a login shell's environment after the prelude; CommandFailed on a non-zero exit."""
        prelude = self.cluster.prelude.strip()
        full = f"{prelude}\n{command}" if prelude else command
        with self.channels:
            transport = self.client.get_transport()
            if transport is None or not transport.is_active():
                raise ClusterUnreachable("the SSH connection was lost")
            try:
                channel = transport.open_session(timeout=CONNECT_TIMEOUT)
                channel.settimeout(timeout)
                channel.exec_command(f"bash -c {shlex.quote(full)}")
                if input_text is not None:
                    channel.sendall(input_text.encode())
                channel.shutdown_write()
                stdout = channel.makefile("rb").read().decode("utf-8", errors="replace")
                stderr = channel.makefile_stderr("rb").read().decode("utf-8", errors="replace")
                status = channel.recv_exit_status()
                channel.close()
            except (TimeoutError, paramiko.SSHException, OSError, EOFError) as error:
                raise ClusterUnreachable(f"SSH command failed: {error}") from None
        self.commands_run += 1
        result = CommandResult(status, stdout, stderr)
        if check and status != 0:
            raise CommandFailed(command, result)
        return result

    @property
    def sftp(self) -> paramiko.SFTPClient:
        """One SFTP channel for the whole session (counted against the channel cap while open)."""
        if self._sftp is None:
            self.channels.acquire()
            try:
                self._sftp = self.client.open_sftp()
            except (paramiko.SSHException, OSError, EOFError) as error:
                self.channels.release()
                raise ClusterUnreachable(f"SFTP failed: {error}") from None
        return self._sftp

    def put_text(self, path: str, text: str, mode: int = 0o644) -> None:
        try:
            with self.sftp.open(path, "w") as handle:
                handle.write(text.encode())
            self.sftp.chmod(path, mode)
        except OSError as error:
            raise ClusterUnreachable(f"SFTP write of {path} failed: {error}") from None

    def get_text(self, path: str, limit: int = 50_000_000) -> str | None:
        """The file's text (its last `limit` bytes), or None if it does not exist."""
        try:
            with self.sftp.open(path, "r") as handle:
                size = handle.stat().st_size
                if size > limit:
                    handle.seek(size - limit)
                return handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ClusterUnreachable(f"SFTP read of {path} failed: {error}") from None

    def list_files(self, folder: str) -> list[str]:
        """Names in a folder, or [] if it does not exist."""
        try:
            return self.sftp.listdir(folder)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise ClusterUnreachable(f"SFTP listing of {folder} failed: {error}") from None

    def get_file(self, remote: str, local: str) -> None:
        try:
            self.sftp.get(remote, local)
        except OSError as error:
            raise ClusterUnreachable(f"SFTP read of {remote} failed: {error}") from None

    def close(self) -> None:
        if self._sftp is not None:
            with contextlib.suppress(Exception):
                self._sftp.close()
            self._sftp = None
            self.channels.release()
        self.client.close()


@contextlib.contextmanager
def cluster_session(cluster, user) -> Iterator[ClusterSession]:
    """The one SSH connection of `user` (a KeycloakUser) to `cluster`, closed when the block ends.

    CredentialsError before any network traffic when the credentials cannot work; ClusterUnreachable when the
    host cannot be reached, its key is not pinned, or it refuses us (retry later); ClusterBusy when another task
    holds this pair's connection.
    """
    global connections_opened
    if not cluster.ssh_host:
        raise CredentialsError(f"cluster {cluster.cluster_name} has no SSH host configured")
    try:
        host_keys = parse_host_keys(cluster.host_keys)
    except ValueError as error:
        raise CredentialsError(f"cluster {cluster.cluster_name} has no usable pinned host keys: {error}") from None
    cert_text = getattr(user, "cert", "") or ""
    check_certificate(cert_text, principal=user.username)
    key = _user_key(getattr(user, "private_key", "") or "", cert_text)
    with _pair_lock(cluster.pk, user.pk):
        client = paramiko.SSHClient()
        host = cluster.ssh_host if cluster.ssh_port == 22 else f"[{cluster.ssh_host}]:{cluster.ssh_port}"
        for host_key in host_keys:
            client.get_host_keys().add(host, host_key.get_name(), host_key)
        client.set_missing_host_key_policy(_PinnedKeysOnly())
        try:
            connections_opened += 1
            client.connect(
                cluster.ssh_host,
                port=cluster.ssh_port,
                username=user.username,
                pkey=key,
                look_for_keys=False,
                allow_agent=False,
                timeout=CONNECT_TIMEOUT,
                banner_timeout=CONNECT_TIMEOUT,
                auth_timeout=CONNECT_TIMEOUT,
            )
        except paramiko.BadHostKeyException as error:
            client.close()
            raise CredentialsError(f"{cluster.cluster_name}: the host key is not the pinned one ({error})") from None
        except CredentialsError:
            client.close()
            raise
        except paramiko.AuthenticationException as error:
            client.close()
            raise CredentialsError(f"{cluster.cluster_name} refused the SSH certificate: {error}") from None
        except (paramiko.SSHException, OSError, EOFError) as error:
            client.close()
            raise ClusterUnreachable(f"{cluster.cluster_name}: cannot connect: {error}") from None
        session = ClusterSession(client, cluster, cluster.max_channels)
        try:
            yield session
        finally:
            session.close()
