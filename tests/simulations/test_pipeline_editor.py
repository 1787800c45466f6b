"""Editor projects on SHIELD-HIT12A and FLUKA through the whole pipeline: submit over the API, conversion, real
Celery workers running the fake executables on the converted files, merge, results named as the editor's outputs.
"""

import json
from pathlib import Path

import pytest

from simulations.choices import JobState

from .pipeline_helpers import logfiles, results, wait_for_state

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DATA = Path(__file__).resolve().parent / "converter_data"
FAKES = Path(__file__).resolve().parent.parent / "fakes"
CASES = [
    ("shieldhit", "SHIELDHIT_PATH", "shieldhit", "ui-ex1", ["z_profile", "yz_profile", "entrance", "peak"]),
    ("fluka", "FLUKA_PATH", "rfluka", "ui-ex6", ["AlongBeamAxis", "SlabYZ"]),
]


@pytest.mark.parametrize(("sim_type", "setting", "executable", "example", "outputs"), CASES)
def test_an_editor_project_completes_with_the_editors_outputs_in_order(
    celery_workers, api_client, settings, sim_type, setting, executable, example, outputs
):
    setattr(settings, setting, str(FAKES / executable))
    celery_workers.start(concurrency=2, **{setting: str(FAKES / executable)}, FAKE_SIM_SECONDS="1")
    project = json.loads((DATA / example / "project.json").read_text())
    body = {"sim_type": sim_type, "ntasks": 2, "input_type": "editor", "input_json": project}
    response = api_client.post("/api/simulations/", body, format="json")
    assert response.status_code == 201, response.content
    job_id = response.json()["job_id"]

    body = wait_for_state(api_client, job_id, JobState.COMPLETED, JobState.FAILED)

    assert body["job_state"] == JobState.COMPLETED, logfiles(api_client, job_id)
    listing = api_client.get(f"/api/simulations/{job_id}/estimators/").json()["estimators"]
    assert [estimator["name"] for estimator in listing] == outputs
    merged = results(api_client, job_id)
    assert [estimator["name"] for estimator in merged] == outputs
    quantities = {output["name"]: len(output["quantities"]) for output in project["scoringManager"]["outputs"]}
    assert [len(estimator["pages"]) for estimator in merged] == [quantities[name] for name in outputs]
    assert {task["requested_primaries"] for task in body["tasks"]} == {project["beam"]["numberOfParticles"] // 2}
