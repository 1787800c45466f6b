"""The loopback Slurm cluster of ../shared/slurm-loopback.sh, as the `slurm` tests see it.

`make test-slurm` starts it; the tests read its env file (SLURM_LOOPBACK_DIR, default the script's own default)
and fail, never skip, when it is not running.
"""

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

BASE = Path(os.environ.get("SLURM_LOOPBACK_DIR", "/tmp/slurm-loopback"))


@dataclass(frozen=True)
class Loopback:
    host: str
    port: int
    user: str
    key: Path
    cert: Path
    known_hosts: Path
    ssh_config: Path
    scratch: str
    ca: Path
    sshd_log: Path

    def ssh(self, command: str, *, check: bool = True) -> subprocess.CompletedProcess:
        """`command` on the login node with the OpenSSH client (the test's own view of the cluster)."""
        return subprocess.run(
            [
                "ssh",
                "-F",
                str(self.ssh_config),
                "-o",
                "ControlMaster=no",
                "-o",
                "ControlPath=none",
                "yaptideci",
                command,
            ],
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def accepted_logins(self) -> int:
        """Certificate logins sshd has accepted so far (each is one SSH connection opened)."""
        text = self.sshd_log.read_text(errors="replace")
        return len(re.findall(rf"Accepted publickey for {self.user} .*CERT", text))

    def sshd_sessions(self) -> int:
        """sshd processes serving the cluster user now (connections still open)."""
        result = subprocess.run(["pgrep", "-u", self.user, "-x", "sshd"], capture_output=True, text=True)
        return len(result.stdout.split())


def loopback() -> Loopback:
    env_file = BASE / "env"
    assert env_file.exists(), (
        f"the loopback Slurm cluster is not running ({env_file} missing): make test-slurm starts it"
    )
    values = dict(re.findall(r"^export (\w+)=(.*)$", env_file.read_text(), flags=re.M))
    return Loopback(
        host=values["SLURM_LOOPBACK_HOST"],
        port=int(values["SLURM_LOOPBACK_PORT"]),
        user=values["SLURM_LOOPBACK_USER"],
        key=Path(values["SLURM_LOOPBACK_KEY"]),
        cert=Path(values["SLURM_LOOPBACK_CERT"]),
        known_hosts=Path(values["SLURM_LOOPBACK_KNOWN_HOSTS"]),
        ssh_config=Path(values["SLURM_LOOPBACK_SSH_CONFIG"]),
        scratch=values["SLURM_LOOPBACK_SCRATCH"],
        ca=Path(values["SLURM_LOOPBACK_CA"]),
        sshd_log=BASE / "log" / "sshd.log",
    )


def sign_certificate(cluster: Loopback, folder: Path, *, validity: str, principal: str | None = None) -> str:
    """A new certificate of the user's key, signed by the cluster's user CA (ssh-keygen -V validity)."""
    public = folder / "id_rsa.pub"
    public.write_text(Path(f"{cluster.key}.pub").read_text())
    command = ["ssh-keygen", "-q", "-s", str(cluster.ca), "-I", "test", "-V", validity]
    if principal is not None:
        command += ["-n", principal]
    subprocess.run([*command, str(public)], check=True, capture_output=True)
    return (folder / "id_rsa-cert.pub").read_text()
