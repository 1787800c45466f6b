"""Broker throughput (`make bench`, after bench.run): one 100-task dummy job with 0 s of simulation on a worker
with 2 processes, timed from submit to COMPLETED, on the embedded broker (kombu's filesystem transport and
SQLite: `make run` without Redis) and on Redis with PostgreSQL. With no simulation time, the figure is what
the broker and the task bookkeeping cost. Prints one table; loopback only; each run bounded.

`python -m bench.broker` runs both; `python -m bench.broker job` is the submitting child (one Django setup per
configuration, as each has its own settings).
"""

import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.mixed import cylinder_project

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_BROKER_DB", "yaptide_bench_broker")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
TASKS = int(os.environ.get("BENCH_BROKER_TASKS", "100"))
CONCURRENCY = 2
JOB_TIMEOUT = 240

PROJECT = cylinder_project(100 * TASKS, seconds=0)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def job(tasks: int) -> None:
    """Child: submits the job through the service (dispatch after commit) and waits for its final state."""
    import django

    django.setup()
    from accounts.models import YaptideUser
    from simulations.choices import TERMINAL_STATES
    from simulations.models import Simulation
    from simulations.services import simulation_submit

    user = YaptideUser.objects.create_user(username=f"bench-{secrets.token_hex(4)}", password=None)
    began = time.perf_counter()
    simulation, _ = simulation_submit(
        user=user, sim_type="dummy", input_type="EDITOR", ntasks=tasks, input_json=PROJECT, title="broker bench"
    )
    submitted = time.perf_counter() - began
    state = ""
    while time.perf_counter() - began < JOB_TIMEOUT:
        state = Simulation.objects.filter(pk=simulation.pk).values_list("job_state", flat=True).get()
        if state in TERMINAL_STATES:
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - began
    done = simulation.tasks.filter(task_state="COMPLETED").count()
    print(json.dumps({"state": state, "seconds": seconds, "submit_seconds": submitted, "completed_tasks": done}))


def configuration_env(kind: str, folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "BENCH_", "CELERY_"))}
    env.pop("REDIS_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="yaptide_site.settings",
        DJANGO_DEBUG="0",
        PUBLIC_SCHEME="http",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        DJANGO_ENV_FILE=str(folder / "none.env"),
        CELERY_QUEUE=f"bench-broker-{secrets.token_hex(4)}",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    if kind == "embedded":
        env.update(DATABASE_URL=f"sqlite:///{folder / 'yaptide.sqlite3'}", CELERY_BROKER_DIR=str(folder / "broker"))
    else:
        env.update(DATABASE_URL=f"{PG}/{DB}", REDIS_URL=REDIS_URL)
    return env


def _postgres(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(statement)


def measure(kind: str) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-broker-{kind}-"))
    env = configuration_env(kind, folder)
    worker = None
    try:
        if kind == "redis":
            _postgres(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
            _postgres(f'CREATE DATABASE "{DB}"')
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        log_path = folder / "worker.log"
        with open(log_path, "wb") as worker_log:
            worker = subprocess.Popen(
                [
                    PYTHON,
                    "-m",
                    "celery",
                    "-A",
                    "yaptide_site",
                    "worker",
                    "-Q",
                    env["CELERY_QUEUE"],
                    "-c",
                    str(CONCURRENCY),
                ]
                + ["-l", "info", "--without-gossip", "--without-mingle", "-n", f"bench-{kind}@%h"],
                cwd=ROOT,
                env=env,
                stdout=worker_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{kind} worker did not start: {log_path.read_text()[-2000:]}")
            time.sleep(0.1)
        child = subprocess.run(
            [PYTHON, "-m", "bench.broker", "job", str(TASKS)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if child.returncode:
            raise RuntimeError(child.stderr[-2000:])
        return {"kind": kind, **json.loads(child.stdout.strip().splitlines()[-1])}
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        if kind == "redis":
            _postgres(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        shutil.rmtree(folder, ignore_errors=True)


LABELS = {"embedded": "embedded: filesystem broker, SQLite", "redis": "Redis, PostgreSQL"}


def main() -> int:
    results = []
    for kind in ("embedded", "redis"):
        log(f"broker throughput: {TASKS}-task dummy job, 0 s of simulation, {CONCURRENCY} worker processes, {kind}")
        results.append(measure(kind))
    print()
    what = f"{TASKS}-task job, 0 s simulation, {CONCURRENCY} processes"
    print(f"| broker ({what}) | final state | submit to end | tasks/s |")
    print("|---|---|---:|---:|")
    for result in results:
        rate = result["completed_tasks"] / result["seconds"] if result["seconds"] else 0
        print(f"| {LABELS[result['kind']]} | {result['state']} | {result['seconds']:.1f} s | {rate:.1f} |")
    return 0 if all(result["state"] == "COMPLETED" for result in results) else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["job"]:
        job(int(sys.argv[2]))
    else:
        sys.exit(main())
