"""A PostgreSQL server of a test's own (never the shared one), that the test can stop and start again, with a
web server and worker processes of the project on it: for database outages."""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import requests

from .test_make_run import free_port
from .workers import ROOT, Worker, wait_for

PG_BIN = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]) if Path("/usr/lib/postgresql").exists() else None


class PrivatePostgres:
    """initdb in a temporary folder, run as the `postgres` system user on a free loopback port, trust auth."""

    def __init__(self) -> None:
        assert PG_BIN is not None, "PostgreSQL server binaries are needed (/usr/lib/postgresql/*/bin)"
        self.folder = Path(tempfile.mkdtemp(prefix="yaptide-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        owner = pwd.getpwnam("postgres")
        os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self._as_postgres("initdb", "-D", str(self.data), "--auth=trust", "-U", "postgres", "--no-sync")
        self.start()
        self._as_postgres("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "yaptide")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/yaptide"

    def _as_postgres(self, program: str, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / program), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


def project_env(database_url: str, queue: str, **extra: str) -> dict[str, str]:
    """The environment of the project's processes on that database (Redis and the queue of the test)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "yaptide_site.settings_test",
        "DATABASE_URL": database_url,
        "CELERY_QUEUE": queue,
        "TASK_HEARTBEAT_SECONDS": "1",
        "TASK_LEASE_SECONDS": "3",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


class WebServer:
    """`manage.py runserver` of the project on a free loopback port."""

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}", "--noreload", "--nothreading"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._up, timeout=60, what=f"web server up (log {log_path})")

    def _up(self) -> bool:
        assert self.process.poll() is None, "web server exited"
        try:
            return requests.get(f"{self.base}/health/?checks=database", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)
        self.log.close()


__all__ = ["PrivatePostgres", "WebServer", "Worker", "project_env"]
