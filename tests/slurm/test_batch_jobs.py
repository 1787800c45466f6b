"""Batch jobs end to end on the loopback Slurm cluster: live server, real Celery worker and beat, real sshd.

The cluster runs the test fake SHIELD-HIT12A (installed by `make test-slurm`); FAKE_SIM_* variables in the
cluster's prelude steer it per test. Results are checked against the tasks' own output files, read from the
job folder (the cluster is this machine).
"""

from pathlib import Path

import pytest

from simulations.models import BatchSimulation
from simulations.simulators import process, shieldhit
from tests.simulations.pipeline_helpers import assert_merged, logfiles, results, task_states, wait_for_state
from tests.workers import wait_for

pytestmark = [pytest.mark.slurm, pytest.mark.integration]

FILES = {
    "beam.dat": "JPART0 2\nTMAX0 150.0 0.0\nNSTAT 4000 0\n",
    "geo.dat": "fake geometry\n",
    "mat.dat": "MEDIUM 1\nICRU 276\nEND\n",
    "detect.dat": "Geometry Cyl\n    Name CylZ_Mesh\n",
}


def submit_batch(client, *, ntasks: int = 4, batch_options: dict | None = None) -> str:
    body = {
        "sim_type": "shieldhit",
        "ntasks": ntasks,
        "input_type": "files",
        "input_files": FILES,
        "platform": "BATCH",
        "cluster": "loopback",
        "batch_options": batch_options or {},
    }
    response = client.post("/api/simulations/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()["job_id"]


def job_dir(job_id: str) -> Path:
    return Path(wait_for(lambda: BatchSimulation.objects.get(job_id=job_id).job_dir, timeout=60, what="job_dir"))


def task_outputs(job_id: str, task_ids) -> list[tuple[list[dict], int]]:
    """Each task's estimators read from its .bdo files with the direct path's reader, with its primaries."""
    simulation = BatchSimulation.objects.get(job_id=job_id)
    parts = []
    for task in simulation.tasks.filter(task_id__in=task_ids).order_by("task_id"):
        workdir = Path(simulation.job_dir) / f"task_{task.task_id:04d}"
        seed = shieldhit_seed(job_id, task.task_id)
        estimators = process.read_estimators(
            sorted(workdir.glob("*.bdo")),
            label="SHIELD-HIT12A",
            read=shieldhit._read_bdo,
            name_of=lambda path, _estimator, seed=seed: shieldhit.estimator_name(path, seed),
            failure_logs=dict,
        )
        parts.append((estimators, task.simulated_primaries))
    return parts


def shieldhit_seed(job_id: str, task_id: int) -> int:
    from simulations.tasks import task_seed

    return task_seed(job_id, task_id)


def test_a_four_task_job_completes_with_the_weighted_average_of_its_tasks(batch_stack):
    batch_stack.set_prelude("export FAKE_SIM_SECONDS=2")

    job_id = submit_batch(batch_stack.client, ntasks=4)
    body = wait_for_state(batch_stack.client, job_id, "COMPLETED", "FAILED", timeout=120)

    assert body["job_state"] == "COMPLETED", logfiles(batch_stack.client, job_id)
    assert task_states(body) == {1: "COMPLETED", 2: "COMPLETED", 3: "COMPLETED", 4: "COMPLETED"}
    assert all(task["simulated_primaries"] == 1000 for task in body["tasks"])
    merged = results(batch_stack.client, job_id)
    assert {estimator["name"] for estimator in merged} == {"z_profile", "slab", "yz_mesh"}
    assert_merged(merged, task_outputs(job_id, [1, 2, 3, 4]))
    simulation = BatchSimulation.objects.get(job_id=job_id)
    assert simulation.array_id and simulation.collect_id and simulation.job_dir.endswith(job_id)
