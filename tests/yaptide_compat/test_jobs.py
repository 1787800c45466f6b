"""The old job routes as the UI uses them: submit, status, cancel, list, delete; shapes and messages."""

import re
from email.utils import parsedate_to_datetime

import pytest

from simulations.choices import JobState
from simulations.models import Simulation, Task

from ..factories import editor_project

JOB_NOT_FOUND = {"message": "Job with provided ID does not exist"}
RFC1123 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")


def submit_body(**overrides) -> dict:
    body = {
        "input_json": editor_project(primaries=1000),
        "input_type": "editor",
        "ntasks": 2,
        "sim_type": "dummy",
        "title": "proton beam",
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def post_job(browser, **overrides):
    return browser.post("/jobs/direct", submit_body(**overrides), content_type="application/json")


def finish(simulation, state: str = JobState.COMPLETED) -> None:
    Task.objects.filter(simulation_id=simulation.pk).update(task_state=state)
    Simulation.objects.filter(pk=simulation.pk).update(job_state=state)


def test_submit_answers_the_job_id(browser, user):
    response = post_job(browser)

    assert response.status_code == 202
    body = response.json()
    assert body["message"] == "Task started"
    simulation = Simulation.objects.get(job_id=body["job_id"])
    assert (simulation.user_id, simulation.title, simulation.input_type) == (user.pk, "proton beam", "EDITOR")
    assert simulation.tasks.count() == 2


def test_direct_submit_ignores_batch_options(browser):
    response = post_job(browser, batch_options={"cluster_name": "ares", "array_options": {}})
    assert response.status_code == 202, response.content
    assert Simulation.objects.get(job_id=response.json()["job_id"]).platform == "DIRECT"


def test_submit_errors_are_4xx_messages(browser):
    missing = post_job(browser, ntasks=None, sim_type=None)
    assert missing.status_code == 400
    assert missing.json()["message"].startswith("Missing keys in JSON payload: {")
    assert "ntasks" in missing.json()["message"] and "sim_type" in missing.json()["message"]
    # yaptide answers a non-integer ntasks with a 500
    assert post_job(browser, ntasks="many").status_code == 400
    assert post_job(browser, ntasks="many").json()["message"]
    no_input = post_job(browser, input_json=None)
    assert no_input.status_code == 400 and "input_json" in no_input.json()["message"]
    assert Simulation.objects.count() == 0


def test_submit_needs_a_cookie(client, db):
    response = client.post("/jobs/direct", submit_body(), content_type="application/json")
    assert (response.status_code, response.json()) == (401, {"message": "No token provided"})


def test_batch_submit_says_batch_is_not_available(browser, settings):
    settings.SIMULATION_BACKENDS = {"DIRECT": settings.SIMULATION_BACKENDS["DIRECT"]}  # no Slurm backend yet
    body = submit_body(batch_options={"cluster_name": "ares"})
    response = browser.post("/jobs/batch", body, content_type="application/json")
    assert response.status_code == 400
    assert "not available" in response.json()["message"]
    assert Simulation.objects.count() == 0


def test_batch_submit_goes_to_the_batch_backend_where_there_is_one(browser):
    # The test settings add a BATCH backend that holds every job (tests/backends.py).
    response = browser.post("/jobs/batch", submit_body(), content_type="application/json")

    assert response.status_code == 202, response.content
    assert Simulation.objects.get(job_id=response.json()["job_id"]).platform == "BATCH"
    listed = browser.get("/user/simulations").json()["simulations"][0]
    assert listed["metadata"]["platform"] == "BATCH"  # the UI polls /jobs/batch for it


def test_batch_status_and_cancel_work_for_any_job(browser, submit):
    simulation, _ = submit()
    status = browser.get(f"/jobs/batch?job_id={simulation.job_id}")
    assert (status.status_code, status.json()["job_state"]) == (200, "PENDING")
    assert browser.delete(f"/jobs/batch?job_id={simulation.job_id}").json() == {"message": "Cancelled sucessfully"}


def test_status_has_one_task_entry_per_task_with_progress(browser, submit):
    simulation, _ = submit(ntasks=2, primaries=1000)
    Task.objects.filter(simulation_id=simulation.pk, task_id=1).update(
        task_state=JobState.RUNNING, simulated_primaries=120, estimated_time=3725
    )
    Simulation.objects.filter(pk=simulation.pk).update(job_state=JobState.RUNNING)

    response = browser.get(f"/jobs/direct?job_id={simulation.job_id}")

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Job state: RUNNING"
    assert body["job_state"] == "RUNNING"
    assert "simulations" not in body and "tasks" not in body
    first, second = body["job_tasks_status"]
    assert (first["task_state"], first["requested_primaries"], first["simulated_primaries"]) == ("PENDING", 500, 0)
    assert (second["task_state"], second["simulated_primaries"]) == ("RUNNING", 120)
    assert second["estimated_time"] == {"hours": 1, "minutes": 2, "seconds": 5}
    assert "estimated_time" not in first and first["start_time"] is None
    assert RFC1123.match(first["last_update_time"])
    assert parsedate_to_datetime(first["last_update_time"]).tzinfo is not None


@pytest.mark.parametrize("state", [JobState.COMPLETED, JobState.FAILED, JobState.CANCELED])
def test_final_status_still_has_the_tasks(browser, submit, state):
    """A COMPLETED answer without job_tasks_status throws in the UI and drops the card."""
    simulation, _ = submit(ntasks=3)
    finish(simulation, state)

    body = browser.get(f"/jobs/direct?job_id={simulation.job_id}").json()

    assert body["job_state"] == state
    assert [task["task_state"] for task in body["job_tasks_status"]] == [state] * 3


def test_generic_status_route_answers_the_same(browser, submit):
    simulation, _ = submit()
    direct = browser.get(f"/jobs/direct?job_id={simulation.job_id}").json()
    assert browser.get(f"/jobs?job_id={simulation.job_id}").json() == direct


def test_unknown_and_foreign_jobs_are_the_same_404(browser, other_browser, submit, other_user):
    foreign, _ = submit(owner=other_user)
    for path in ("/jobs/direct", "/jobs", "/inputs", "/estimators", "/results", "/logfiles"):
        for job_id in ("20261201-000000-nosuchjobDIRECT", foreign.job_id):
            response = browser.get(f"{path}?job_id={job_id}")
            assert (response.status_code, response.json()) == (404, JOB_NOT_FOUND), path
    for path in ("/jobs/direct", "/user/simulations"):
        response = browser.delete(f"{path}?job_id={foreign.job_id}")
        assert (response.status_code, response.json()) == (404, JOB_NOT_FOUND), path
    assert Simulation.objects.get(pk=foreign.pk).job_state == JobState.PENDING


@pytest.mark.parametrize("path", ["/jobs/direct", "/jobs", "/inputs", "/estimators", "/results", "/logfiles"])
def test_missing_job_id_is_400_not_500(browser, path):
    response = browser.get(path)
    assert response.status_code == 400
    assert "job_id" in response.json()["message"]


def test_cancel_then_cancel_again_both_answer_200(browser, submit):
    simulation, _ = submit()

    response = browser.delete(f"/jobs/direct?job_id={simulation.job_id}")
    assert (response.status_code, response.json()) == (200, {"message": "Cancelled sucessfully"})
    assert browser.get(f"/jobs/direct?job_id={simulation.job_id}").json()["job_state"] == "CANCELED"

    again = browser.delete(f"/jobs/direct?job_id={simulation.job_id}")
    assert again.status_code == 200
    assert again.json() == {"message": "Cannot cancel job which is in CANCELED state", "job_state": "CANCELED"}


def test_delete_a_finished_job(browser, submit):
    simulation, _ = submit()
    running = browser.delete(f"/user/simulations?job_id={simulation.job_id}")
    assert running.status_code == 409 and running.json()["message"]

    finish(simulation)
    response = browser.delete(f"/user/simulations?job_id={simulation.job_id}")

    assert response.status_code == 200
    assert response.json() == {
        "message": f"Simulation with job_id={simulation.job_id} successfully deleted from database"
    }
    assert not Simulation.objects.filter(pk=simulation.pk).exists()
    assert browser.get(f"/jobs/direct?job_id={simulation.job_id}").json() == JOB_NOT_FOUND


# --- the list ------------------------------------------------------------------------------------


@pytest.fixture
def seven_jobs(submit):
    """Seven jobs, oldest first: two COMPLETED, one FAILED, four PENDING."""
    jobs = [submit(title=f"job {n}")[0] for n in range(7)]
    for n, simulation in enumerate(jobs):
        Simulation.objects.filter(pk=simulation.pk).update(start_time=f"2026-12-01T10:00:0{n}Z")
    finish(jobs[0])
    finish(jobs[1])
    finish(jobs[2], JobState.FAILED)
    return jobs


def grid(browser, **params):
    query = {"page_idx": 1, "page_size": 10, "order_type": "descend", "order_by": "start_time", **params}
    return browser.get("/user/simulations", query)


def test_list_items_carry_no_state_and_the_old_fields(browser, seven_jobs):
    response = grid(browser)

    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "User Simulations"
    assert (body["page_count"], body["simulations_count"]) == (1, 7)
    first = body["simulations"][0]
    # The UI builds a card as {...status, ...item}: a job_state here would pin the card to its first state.
    assert set(first) == {"job_id", "title", "start_time", "end_time", "metadata"}
    assert first["metadata"] == {"platform": "DIRECT", "server": "Yaptide", "input_type": "EDITOR", "sim_type": "dummy"}
    assert first["title"] == "job 6"
    assert first["start_time"] == "Tue, 01 Dec 2026 10:00:06 GMT"
    assert first["end_time"] is None


def test_list_pages_are_1_based_and_a_page_past_the_end_is_empty(browser, seven_jobs):
    titles = [[item["title"] for item in grid(browser, page_idx=n, page_size=3).json()["simulations"]] for n in (1, 3)]
    assert titles == [["job 6", "job 5", "job 4"], ["job 0"]]

    past = grid(browser, page_idx=9, page_size=3).json()
    assert (past["simulations"], past["page_count"], past["simulations_count"]) == ([], 3, 7)


def test_list_orders_and_filters_by_comma_separated_states(browser, seven_jobs):
    ascending = grid(browser, order_type="ascend").json()["simulations"]
    assert [item["title"] for item in ascending][:2] == ["job 0", "job 1"]

    final = grid(browser, job_state="COMPLETED,FAILED,CANCELED").json()
    assert sorted(item["title"] for item in final["simulations"]) == ["job 0", "job 1", "job 2"]
    assert (final["page_count"], final["simulations_count"]) == (1, 3)


def test_list_shows_only_the_users_jobs(browser, other_browser, seven_jobs):
    assert other_browser.get("/user/simulations").json()["simulations"] == []


def test_list_defaults_to_six_newest_first(browser, seven_jobs):
    body = browser.get("/user/simulations").json()
    assert len(body["simulations"]) == 6 and body["page_count"] == 2
    assert body["simulations"][0]["title"] == "job 6"


@pytest.mark.parametrize(
    "params",
    [
        {"job_state": "COMPLETED,DONE"},  # yaptide: 500
        {"order_by": "title"},
        {"order_type": "sideways"},
        {"page_idx": "first"},
        {"page_idx": 0},
        {"page_size": -1},
    ],
)
def test_bad_list_parameters_are_400_with_a_message(browser, seven_jobs, params):
    response = grid(browser, **params)
    assert response.status_code == 400
    assert response.json()["message"]


def test_list_page_takes_a_fixed_number_of_queries(browser, seven_jobs, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        assert len(grid(browser, page_size=100).json()["simulations"]) == 7
