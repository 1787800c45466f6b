"""`make run`'s embedded defaults (SQLite, filesystem broker): web, worker and beat start and stop together.

Starts `docker/entrypoint.sh dev` (what `make run` runs) on a free port with its own database and broker
folder, logs in with the printed admin password, runs a dummy simulation over HTTP, then stops it all.
"""

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.factories import editor_project
from tests.workers import wait_for

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.integration

PROJECT = editor_project(primaries=1_000_000)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_processes(session_id: int) -> list[int]:
    """Processes still alive in a session (Linux /proc; zombies count as gone)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session_id and fields[0] != "Z":
                alive.append(int(entry.name))
    return alive


@pytest.fixture
def dev_server(tmp_path):
    port = free_port()
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_QUEUE", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'yaptide.sqlite3'}",
        CELERY_BROKER_DIR=str(tmp_path / "broker"),
        PORT=str(port),
        PATH=f"{Path(sys.executable).parent}:{env['PATH']}",
        DUMMY_SECONDS_PER_MILLION="8",
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "dev.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(ROOT / "docker" / "entrypoint.sh"), "dev"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process, f"http://127.0.0.1:{port}", log_path
    finally:
        if session_processes(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
            for pid in session_processes(process.pid):
                os.kill(pid, signal.SIGKILL)


def test_make_run_serves_the_admin_runs_a_dummy_simulation_and_stops_everything(dev_server):
    process, base, log_path = dev_server

    def healthy():
        assert process.poll() is None, log_path.read_text()[-3000:]
        try:
            return requests.get(f"{base}/health/", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    wait_for(healthy, timeout=120, what="web, broker and worker healthy", interval=0.5)
    password = re.search(r"Created superuser 'admin' with password: (\S+)", log_path.read_text()).group(1)

    admin = requests.Session()
    admin.get(f"{base}/admin/login/", timeout=10)
    signed_in = admin.post(
        f"{base}/admin/login/?next=/admin/",
        data={"username": "admin", "password": password, "csrfmiddlewaretoken": admin.cookies["csrftoken"]},
        headers={"Referer": f"{base}/admin/login/"},
        timeout=10,
    )
    assert signed_in.url == f"{base}/admin/" and "Site administration" in signed_in.text

    session = requests.Session()
    session.headers["Origin"] = base  # a browser's cookie-authenticated POST says where it comes from (CSRF check)
    login = session.post(f"{base}/api/auth/login/", json={"username": "admin", "password": password}, timeout=10)
    assert login.status_code == 200, login.text

    submitted = session.post(
        f"{base}/api/simulations/",
        json={"sim_type": "dummy", "ntasks": 2, "input_type": "editor", "input_json": PROJECT},
        timeout=10,
    )
    assert submitted.status_code == 201, submitted.text
    job_id = submitted.json()["job_id"]
    seen = set()

    def finished():
        body = session.get(f"{base}/api/simulations/{job_id}/", timeout=10).json()
        seen.add(body["job_state"])
        return body if body["job_state"] in ("COMPLETED", "FAILED", "CANCELED") else None

    body = wait_for(finished, timeout=120, what="the job to finish", interval=0.3)
    assert body["job_state"] == "COMPLETED", log_path.read_text()[-3000:]
    assert "RUNNING" in seen and body["progress"] == 1.0
    [estimator] = session.get(f"{base}/api/simulations/{job_id}/results/", timeout=10).json()["estimators"]
    page = estimator["pages"][0]
    depth, dose = np.array(page["axis_dim1"]["values"]), np.array(page["data"]["values"])
    assert estimator["name"] == "z_profile" and 14 < depth[dose.argmax()] < 17

    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    wait_for(lambda: not session_processes(process.pid), timeout=30, what="every process of `make run` to exit")


def test_make_manage_runs_an_operator_command_in_a_second_terminal(tmp_path):
    """The README's operator commands on a `make run` checkout: no virtualenv on PATH, no debug variable set."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DJANGO_", "VIRTUAL_ENV"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'yaptide.sqlite3'}",
        DJANGO_ENV_FILE=str(tmp_path / "none.env"),
        PATH=":".join(p for p in env["PATH"].split(":") if not p.startswith(str(Path(sys.executable).parent))),
    )

    def make_manage(args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["make", "-s", "manage", f"ARGS={args}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    assert make_manage("migrate --noinput -v 0").returncode == 0
    added = subprocess.run(
        ["make", "-s", "manage", "ARGS=add_user marie --password-stdin"],
        input="radium-1898-polonium\n",
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert added.returncode == 0, added.stderr
    listed = make_manage("list_users")
    assert listed.returncode == 0 and "marie" in listed.stdout, listed.stderr
