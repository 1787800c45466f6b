"""The owner's simulations: submit, list with filters and ordering, detail, cancel, delete."""

from datetime import timedelta

import pytest
from django.utils import timezone

from simulations.choices import JobState
from simulations.models import CeleryTask, Simulation, Task
from simulations.services import simulation_cancel

from ..factories import editor_project

URL = "/api/simulations/"
BEAM_DAT = "RNDSEED 89736501\nJPART0 2\nTMAX0 150.0 0.0\nNSTAT 900 0\n"


def submit_body(**overrides) -> dict:
    body = {
        "title": "proton beam",
        "sim_type": "dummy",
        "ntasks": 3,
        "input_type": "editor",
        "input_json": editor_project(primaries=900),
    }
    body.update(overrides)
    return body


def test_submit_creates_a_pending_job_without_showing_the_update_key(api_client, user):
    response = api_client.post(URL, submit_body(), format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["job_state"] == "PENDING"
    assert body["job_id"].endswith("DIRECT")
    assert (body["title"], body["sim_type"], body["input_type"], body["platform"]) == (
        "proton beam",
        "dummy",
        "EDITOR",
        "DIRECT",
    )
    assert [(t["task_id"], t["requested_primaries"], t["task_state"]) for t in body["tasks"]] == [
        (0, 300, "PENDING"),
        (1, 300, "PENDING"),
        (2, 300, "PENDING"),
    ]
    assert (body["task_count"], body["requested_primaries"], body["progress"]) == (3, 900, 0.0)
    assert "key" not in response.content.decode().lower().replace("job_id", "")
    simulation = Simulation.objects.get(job_id=body["job_id"])
    assert simulation.user == user
    assert simulation.input.data["number_of_all_primaries"] == 900


def test_submit_of_files_in_any_letter_case(api_client):
    response = api_client.post(
        URL,
        {"sim_type": "DUMMY", "ntasks": 2, "input_type": "Files", "input_files": {"beam.dat": BEAM_DAT}},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["input_type"] == "FILES"
    assert response.json()["requested_primaries"] == 900


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"sim_type": "geant4"}, "sim_type"),
        ({"input_type": "yaml"}, "input_type"),
        ({"ntasks": 0}, "ntasks"),
        ({"ntasks": "many"}, "ntasks"),
        ({"input_json": None}, "input_json"),
        ({"input_json": [1, 2]}, "input_json"),
        ({"input_type": "files", "input_files": {}}, "input_files"),
        ({"input_json": editor_project(primaries=0)}, "input_json"),
        ({"title": "x" * 300}, "title"),
        ({"platform": "MARS"}, "platform"),
    ],
)
def test_bad_submission_is_400_saying_what_is_wrong(api_client, overrides, field):
    response = api_client.post(URL, submit_body(**overrides), format="json")

    assert response.status_code == 400
    body = response.json()
    assert field in body.get("errors", {}) or field in body["message"]
    assert body["message"]
    assert not Simulation.objects.exists()


def test_missing_input_is_400(api_client):
    body = submit_body()
    del body["input_json"]
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert "input_json" in response.json()["errors"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"platform": "batch"}, "BATCH simulations are not available on this server"),
        ({"batch_options": {"cluster_name": "ares"}}, "batch_options apply to BATCH simulations only"),
    ],
)
def test_batch_submission_without_a_batch_backend_is_400_not_a_hanging_job(api_client, settings, overrides, message):
    settings.SIMULATION_BACKENDS = {"DIRECT": settings.SIMULATION_BACKENDS["DIRECT"]}

    response = api_client.post(URL, submit_body(**overrides), format="json")

    assert response.status_code == 400
    assert message in response.json()["message"]
    assert not Simulation.objects.exists()


def test_oversized_submission_is_413_json(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    body = submit_body(input_json={**editor_project(), "padding": "x" * 5000})

    response = api_client.post(URL, body, format="json")

    assert response.status_code == 413
    assert "larger than 2000 bytes" in response.json()["message"]


def test_anonymous_cannot_submit_or_list(client):
    assert client.get(URL).status_code == 401
    response = client.post(URL, submit_body(), content_type="application/json")
    assert response.status_code == 401
    assert response.json()["message"]


# --- list -----------------------------------------------------------------------------------------


@pytest.fixture
def jobs(submit, user):
    """Five jobs of the user in different states, submitted a minute apart (oldest first)."""
    made = []
    now = timezone.now()
    for n, (state, sim_type, title) in enumerate(
        [
            (JobState.COMPLETED, "dummy", "alpha run"),
            (JobState.RUNNING, "shieldhit", "beta"),
            (JobState.PENDING, "dummy", "Gamma"),
            (JobState.FAILED, "fluka", "delta"),
            (JobState.PENDING, "topas", "epsilon alpha"),
        ]
    ):
        simulation, _ = submit(title=title, ntasks=2)
        end = now - timedelta(minutes=10 - n) if state in (JobState.COMPLETED, JobState.FAILED) else None
        Simulation.objects.filter(pk=simulation.pk).update(
            job_state=state, sim_type=sim_type, start_time=now - timedelta(minutes=10 - n), end_time=end
        )
        made.append(simulation.job_id)
    return made


def job_ids(response):
    assert response.status_code == 200, response.content
    return [item["job_id"] for item in response.json()["results"]]


def test_list_shows_own_jobs_newest_first_with_progress(api_client, jobs, submit, other_user):
    submit(owner=other_user)
    Task.objects.filter(simulation__job_id=jobs[1], task_id=0).update(simulated_primaries=250)

    response = api_client.get(URL)

    assert job_ids(response) == jobs[::-1]
    assert response.json()["count"] == 5
    item = response.json()["results"][3]
    assert item == {
        "job_id": jobs[1],
        "title": "beta",
        "platform": "DIRECT",
        "sim_type": "shieldhit",
        "input_type": "EDITOR",
        "job_state": "RUNNING",
        "start_time": item["start_time"],
        "end_time": None,
        "task_count": 2,
        "requested_primaries": 1000,
        "simulated_primaries": 250,
        "progress": 0.25,
    }


def test_list_filters_by_several_states(api_client, jobs):
    assert job_ids(api_client.get(URL, {"job_state": ["RUNNING", "PENDING"]})) == [jobs[4], jobs[2], jobs[1]]
    assert job_ids(api_client.get(URL + "?job_state=completed,failed")) == [jobs[3], jobs[0]]


def test_list_filters_by_sim_type_platform_and_input_type(api_client, jobs):
    assert job_ids(api_client.get(URL, {"sim_type": "DUMMY"})) == [jobs[2], jobs[0]]
    assert len(job_ids(api_client.get(URL, {"platform": "DIRECT", "input_type": "editor"}))) == 5
    assert job_ids(api_client.get(URL, {"platform": "BATCH"})) == []
    assert job_ids(api_client.get(URL, {"input_type": "FILES"})) == []


def test_list_filters_by_start_time_range(api_client, jobs):
    starts = {item["job_id"]: item["start_time"] for item in api_client.get(URL).json()["results"]}

    response = api_client.get(URL, {"start_after": starts[jobs[1]], "start_before": starts[jobs[3]]})

    assert job_ids(response) == [jobs[3], jobs[2], jobs[1]]


def test_list_searches_titles(api_client, jobs):
    assert job_ids(api_client.get(URL, {"search": "ALPHA"})) == [jobs[4], jobs[0]]


@pytest.mark.parametrize(
    "ordering, expected",
    [("start_time", [0, 1, 2, 3, 4]), ("-start_time", [4, 3, 2, 1, 0])],
)
def test_list_orders_by_start_time(api_client, jobs, ordering, expected):
    assert job_ids(api_client.get(URL, {"ordering": ordering})) == [jobs[n] for n in expected]


def test_list_orders_by_end_time(api_client, jobs):
    finished = job_ids(api_client.get(URL, {"ordering": "end_time", "job_state": "COMPLETED,FAILED"}))
    assert finished == [jobs[0], jobs[3]]
    assert job_ids(api_client.get(URL, {"ordering": "-end_time", "job_state": "COMPLETED,FAILED"})) == finished[::-1]


def test_equal_start_times_are_ordered_by_submission(api_client, submit):
    made = [submit()[0] for _ in range(3)]
    Simulation.objects.update(start_time=timezone.now())
    assert job_ids(api_client.get(URL)) == [s.job_id for s in made[::-1]]
    assert job_ids(api_client.get(URL, {"ordering": "start_time"})) == [s.job_id for s in made]


@pytest.mark.parametrize(
    "params",
    [
        {"ordering": "title"},
        {"ordering": "-id"},
        {"job_state": "DONE"},
        {"sim_type": "geant4"},
        {"start_after": "last week"},
        {"start_before": ""},
        {"start_after": " "},
    ],
)
def test_bad_list_parameters_are_400(api_client, jobs, params):
    response = api_client.get(URL, params)
    assert response.status_code == 400
    assert response.json()["message"]
    assert response.json()["errors"]


def test_list_pages_are_capped(api_client, submit):
    for _ in range(3):
        submit()
    response = api_client.get(URL, {"page_size": 2})
    assert len(response.json()["results"]) == 2
    assert response.json()["next"]
    assert len(api_client.get(URL, {"page_size": 2, "page": 2}).json()["results"]) == 1
    from simulations.views import SimulationPagination

    assert SimulationPagination.max_page_size == 100
    assert api_client.get(URL, {"page": 9}).status_code == 404


def test_list_page_uses_a_fixed_number_of_queries(api_client, submit, django_assert_max_num_queries):
    for n in range(25):
        submit(ntasks=1 + n % 3)
    with django_assert_max_num_queries(4):
        response = api_client.get(URL, {"page_size": 25, "job_state": "PENDING,RUNNING", "search": ""})
    assert len(response.json()["results"]) == 25


# --- detail, cancel, delete -----------------------------------------------------------------------


def test_detail_shows_every_task(api_client, submit):
    simulation, _ = submit(ntasks=2)
    Task.objects.filter(simulation=simulation, task_id=1).update(task_state="RUNNING", estimated_time=30)

    response = api_client.get(f"{URL}{simulation.job_id}/")

    assert response.status_code == 200
    body = response.json()
    assert body["job_id"] == simulation.job_id
    assert body["cluster_name"] is None
    assert [(t["task_id"], t["task_state"], t["estimated_time"]) for t in body["tasks"]] == [
        (0, "PENDING", None),
        (1, "RUNNING", 30),
    ]
    assert set(body["tasks"][0]) == {
        "task_id",
        "task_state",
        "requested_primaries",
        "simulated_primaries",
        "estimated_time",
        "start_time",
        "end_time",
        "last_update_time",
    }


def test_unknown_job_is_404_json(api_client):
    response = api_client.get(f"{URL}20260101-000000-00000000000000000000000000000000DIRECT/")
    assert response.status_code == 404
    assert response.json()["message"]


def test_cancel_marks_job_and_unfinished_tasks_canceled(api_client, submit):
    simulation, _ = submit(ntasks=2)
    CeleryTask.objects.filter(simulation=simulation, task_id=0).update(task_state="COMPLETED")

    response = api_client.post(f"{URL}{simulation.job_id}/cancel/")

    assert response.status_code == 200
    assert response.json()["job_state"] == "CANCELED"
    assert [t["task_state"] for t in response.json()["tasks"]] == ["COMPLETED", "CANCELED"]


def test_cancel_of_a_finished_job_is_409(api_client, submit):
    simulation, _ = submit()
    simulation_cancel(simulation=simulation)
    response = api_client.post(f"{URL}{simulation.job_id}/cancel/")
    assert response.status_code == 409
    assert "cannot be canceled" in response.json()["message"]


def test_delete_of_an_unfinished_job_is_409_with_the_reason(api_client, submit):
    simulation, _ = submit()
    response = api_client.delete(f"{URL}{simulation.job_id}/")
    assert response.status_code == 409
    assert "only finished simulations can be deleted" in response.json()["message"]
    assert Simulation.objects.filter(pk=simulation.pk).exists()


def test_delete_of_a_finished_job_removes_it(api_client, submit):
    simulation, _ = submit()
    simulation_cancel(simulation=simulation)
    response = api_client.delete(f"{URL}{simulation.job_id}/")
    assert response.status_code == 204
    assert not Simulation.objects.filter(pk=simulation.pk).exists()
    assert not Task.objects.filter(simulation_id=simulation.pk).exists()


def test_start_time_filter_takes_any_offset(api_client, jobs):
    response = api_client.get(URL, {"start_before": "0237-08-04T16:27:19.825300-22:57"})
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert api_client.get(URL, {"start_after": "0001-01-01T00:00:00+23:59"}).status_code == 400


def test_last_pages_are_read_from_the_end(api_client, submit):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    made = [submit()[0].job_id for _ in range(7)]
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(URL, {"page_size": 2, "page": 4})

    assert job_ids(response) == [made[0]]
    rows_sql = next(q["sql"] for q in queries.captured_queries if "LIMIT" in q["sql"] and "job_id" in q["sql"])
    assert "OFFSET" not in rows_sql  # the oldest job is the first row in ascending order
    assert "ASC" in rows_sql
