"""Real Celery worker processes for integration tests, on the test database and a queue of their own."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
# One queue per test session: workers of other sessions on the same Redis never take these tasks.
SESSION_QUEUE = f"test-{uuid.uuid4().hex[:12]}"


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, interval: float = 0.2):
    """Polls `condition` until it returns something truthy, or fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def worker_database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test_<name>), for the worker processes."""
    db = connection.settings_dict
    assert connection.vendor == "postgresql", "worker integration tests need PostgreSQL"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def children_of(pid: int) -> list[int]:
    """Direct child processes of `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class Worker:
    """`celery -A yaptide_site worker` in its own process group, logging to a file."""

    def __init__(self, log_path: Path, env: dict[str, str], concurrency: int, beat: bool):
        self.log_path = log_path
        command = [sys.executable, "-m", "celery", "-A", "yaptide_site", "worker", "-Q", env["CELERY_QUEUE"]]
        command += ["-c", str(concurrency), "--pool=prefork", "-l", "info", "-n", f"{uuid.uuid4().hex[:8]}@%h"]
        command += ["--without-gossip", "--without-mingle"]
        if beat:
            command += ["-B", "-s", str(log_path.with_suffix(".schedule"))]
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for(self._ready, timeout=60, what=f"worker ready (log {log_path})")

    def _ready(self) -> bool:
        assert self.process.poll() is None, f"worker exited: {self.log_path.read_text()[-3000:]}"
        return b" ready." in self.log_path.read_bytes()

    @property
    def pool_pids(self) -> list[int]:
        return children_of(self.process.pid)

    def kill_pool(self) -> list[int]:
        """SIGKILLs the pool processes (which run the tasks), as the kernel's OOM killer would."""
        pids = self.pool_pids
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return pids

    def kill(self) -> None:
        """SIGKILLs the whole worker: main process and pool, nothing gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        else:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


class Workers:
    """Starts workers for one test and stops them all before the test database is flushed."""

    def __init__(self, tmp_path: Path, queue: str):
        self.tmp_path = tmp_path
        self.queue = queue
        self.started: list[Worker] = []

    def start(self, *, concurrency: int = 2, beat: bool = False, **env: str) -> Worker:
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "yaptide_site.settings_test",
            "DATABASE_URL": worker_database_url(),
            "CELERY_QUEUE": self.queue,
            "TASK_HEARTBEAT_SECONDS": "1",
            "TASK_LEASE_SECONDS": "3",
            "DUMMY_SECONDS_PER_MILLION": "1",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        worker = Worker(self.tmp_path / f"worker{len(self.started)}.log", environment, concurrency, beat)
        self.started.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()
