"""A database outage while tasks are dispatched to workers and while they run: every job still ends, with
every completed task's results. The database is a PostgreSQL server of the test's own, stopped and started."""

import subprocess
import sys
import time
import uuid

import pytest
import requests

from tests.factories import editor_project
from tests.outage import PrivatePostgres, WebServer, Worker, project_env
from tests.workers import ROOT, wait_for
from yaptide_site.connections import HEALTH_CHECK_AFTER_IDLE_SECONDS

pytestmark = pytest.mark.integration
FINAL = {"COMPLETED", "FAILED", "CANCELED"}


@pytest.fixture
def stack(tmp_path):
    """A private PostgreSQL, a web server on it and a signed-in API session; workers are started by the test."""
    database = PrivatePostgres()
    queue = f"outage-{uuid.uuid4().hex[:12]}"
    env = project_env(database.url, queue, DUMMY_SECONDS_PER_MILLION="1")
    web = WebServer(tmp_path / "web.log", env)
    password = "outage-test-password-1"
    subprocess.run(
        [sys.executable, "manage.py", "add_user", "physicist", "--password-stdin"],
        cwd=ROOT,
        env=env,
        input=password.encode(),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    login = requests.post(f"{web.base}/api/auth/login/", json={"username": "physicist", "password": password})
    assert login.status_code == 200, login.text
    session = requests.Session()  # a script's session: the access token as a Bearer header, no cookies
    session.headers["Authorization"] = f"Bearer {login.json()['access']}"
    workers = []

    def start_worker(**extra):
        worker = Worker(tmp_path / f"worker{len(workers)}.log", project_env(database.url, queue, **extra), 2, False)
        workers.append(worker)
        return worker

    yield database, web, session, start_worker
    for worker in workers:
        worker.stop()
    web.stop()
    database.remove()


def submit(web, session, *, ntasks: int, seconds: float) -> str:
    project = {**editor_project(primaries=1000 * ntasks), "dummy": {"seconds": seconds}}
    body = {"sim_type": "dummy", "ntasks": ntasks, "input_type": "editor", "input_json": project}
    response = session.post(f"{web.base}/api/simulations/", json=body)
    assert response.status_code == 201, response.text
    return response.json()["job_id"]


def detail(web, session, job_id: str) -> dict:
    response = session.get(f"{web.base}/api/simulations/{job_id}/")
    assert response.status_code == 200, response.text
    return response.json()


def all_final(web, session, job_ids) -> list[dict]:
    bodies = [detail(web, session, job_id) for job_id in job_ids]
    return bodies if all(body["job_state"] in FINAL for body in bodies) else []


def test_an_outage_while_workers_take_the_queued_tasks_loses_no_task(stack):
    database, web, session, start_worker = stack
    job_ids = [submit(web, session, ntasks=3, seconds=0.5) for _ in range(4)]
    database.stop()

    worker = start_worker()
    wait_for(
        lambda: worker.log_path.read_bytes().count(b"database unreachable, retrying") >= 2, timeout=60, what="retries"
    )
    database.start()

    bodies = wait_for(lambda: all_final(web, session, job_ids), timeout=180, what="every job final")
    assert [body["job_state"] for body in bodies] == ["COMPLETED"] * 4
    assert all(task["task_state"] == "COMPLETED" for body in bodies for task in body["tasks"])


def outage_while_two_tasks_run(stack, *, seconds: float, sign: bytes, signs: int) -> str:
    """A 2-task job running on a worker; the database stops until the worker's log shows `sign` `signs` times,
    then starts again. Returns the job's id."""
    database, web, session, start_worker = stack
    worker = start_worker()
    job_id = submit(web, session, ntasks=2, seconds=seconds)
    wait_for(
        lambda: all(t["task_state"] == "RUNNING" for t in detail(web, session, job_id)["tasks"]),
        timeout=60,
        what="running",
    )
    database.stop()
    wait_for(lambda: worker.log_path.read_bytes().count(sign) >= signs, timeout=60, what=sign.decode())
    database.start()
    return job_id


def assert_completed_with_results(web, session, job_id: str) -> None:
    body = wait_for(lambda: all_final(web, session, [job_id]), timeout=120, what="the job final")[0]
    assert body["job_state"] == "COMPLETED"
    assert [task["task_state"] for task in body["tasks"]] == ["COMPLETED", "COMPLETED"]
    results = session.get(f"{web.base}/api/simulations/{job_id}/results/").json()["estimators"]
    assert [estimator["name"] for estimator in results] == ["z_profile"]


def test_an_outage_while_tasks_run_loses_no_completed_result(stack):
    job_id = outage_while_two_tasks_run(stack, seconds=8, sign=b"progress not written", signs=1)
    _, web, session, _ = stack
    assert_completed_with_results(web, session, job_id)


def test_an_outage_when_tasks_finish_keeps_their_results_until_the_database_is_back(stack):
    job_id = outage_while_two_tasks_run(stack, seconds=3, sign=b"storing its result in", signs=2)
    _, web, session, _ = stack
    assert_completed_with_results(web, session, job_id)


def test_a_web_server_that_sat_idle_answers_its_first_requests_after_a_database_restart(stack):
    database, web, session, _ = stack
    assert session.get(f"{web.base}/api/simulations/").status_code == 200  # it keeps that connection
    last_request = time.monotonic()
    database.stop()
    database.start()
    # The scenario: kept connections idle for longer than the threshold after which they are checked again.
    time.sleep(max(0.0, HEALTH_CHECK_AFTER_IDLE_SECONDS + 0.1 - (time.monotonic() - last_request)))

    responses = [session.get(f"{web.base}/api/simulations/") for _ in range(3)]

    assert [r.status_code for r in responses] == [200] * 3, [r.text[:300] for r in responses]
