"""POST /api/simulations/ with platform BATCH: who may, with which cluster and options (no cluster contacted)."""

import subprocess
from pathlib import Path

import pytest

from accounts.models import KeycloakUser
from simulations.models import BatchSimulation, Input, Simulation
from tests.conftest import api_client_for
from tests.factories import ClusterFactory, editor_project

URL = "/api/simulations/"
HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
FILES = {
    "beam.dat": "NSTAT 4000 0\n",
    "geo.dat": "geometry\n",
    "mat.dat": "MEDIUM 1\n",
    "detect.dat": "Geometry Cyl\n",
}

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def slurm_backend(settings):
    """The real BATCH backend: its checks run at submit; nothing is dispatched (no commit in these tests)."""
    settings.SIMULATION_BACKENDS = {**settings.SIMULATION_BACKENDS, "BATCH": "simulations.execution.slurm.SlurmBackend"}


@pytest.fixture
def cluster():
    return ClusterFactory(cluster_name="ares", ssh_host="127.0.0.1", ssh_port=2222, host_keys=HOST_KEY)


def certificate(folder: Path, *, principal: str = "plgmarie", validity: str = "-5m:+1d") -> tuple[str, str]:
    """(certificate, private key) signed by a throw-away user CA, as the certificate service hands them out."""
    for name in ("ca", "user"):
        if not (folder / name).exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / name)], check=True)
    command = ["ssh-keygen", "-q", "-s", str(folder / "ca"), "-I", "t", "-n", principal, "-V", validity]
    subprocess.run([*command, str(folder / "user.pub")], check=True)
    return (folder / "user-cert.pub").read_text(), (folder / "user").read_text()


@pytest.fixture
def plg_client(tmp_path):
    cert, key = certificate(tmp_path)
    return api_client_for(KeycloakUser.objects.create(username="plgmarie", cert=cert, private_key=key))


def batch_body(**overrides) -> dict:
    body = {
        "sim_type": "shieldhit",
        "ntasks": 4,
        "input_type": "files",
        "input_files": FILES,
        "platform": "BATCH",
        "cluster": "ares",
        "batch_options": {"array_options": "--time=00:10:00", "collect_header": "#SBATCH --mem=1G"},
    }
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


def test_a_keycloak_user_with_a_certificate_submits_a_batch_job(plg_client, cluster):
    response = plg_client.post(URL, batch_body(), format="json")

    assert response.status_code == 201, response.content
    simulation = BatchSimulation.objects.get()
    assert (simulation.platform, simulation.job_state, simulation.cluster) == ("BATCH", "PENDING", cluster)
    assert sorted(simulation.tasks.values_list("task_id", flat=True)) == [1, 2, 3, 4]
    stored = Input.objects.get(simulation=simulation).data["batch_options"]
    assert stored == {"array_options": "--time=00:10:00", "collect_header": "#SBATCH --mem=1G"}


def test_the_cluster_may_come_in_batch_options_as_the_old_api_sends_it(plg_client, cluster):
    body = batch_body(batch_options={"cluster_name": "ares"})
    del body["cluster"]
    assert plg_client.post(URL, body, format="json").status_code == 201


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"cluster": "athena"}, "cluster", "unknown cluster 'athena'"),
        ({"cluster": ""}, "cluster", "may not be blank"),
        ({"cluster": None, "batch_options": {"cluster_name": "athena"}}, "cluster", "unknown cluster 'athena'"),
        ({"batch_options": {"array_options": "--wrap=reboot"}}, "batch_options", "'--wrap' is not allowed"),
        ({"batch_options": {"array_header": "rm -rf ~"}}, "batch_options", "only #SBATCH lines"),
        ({"batch_options": {"arrays": "--time=1"}}, "batch_options", "unknown key 'arrays'"),
        (
            {"sim_type": "dummy", "input_type": "editor", "input_files": None, "input_json": editor_project()},
            "sim_type",
            "run SHIELD-HIT12A (sim_type shieldhit)",
        ),
    ],
)
def test_bad_batch_submissions_are_400_naming_what_is_wrong(plg_client, cluster, overrides, field, message):
    response = plg_client.post(URL, batch_body(**overrides), format="json")

    assert response.status_code == 400
    assert any(key.startswith(field) for key in response.json()["errors"]), response.json()
    assert message in response.json()["message"]
    assert not Simulation.objects.exists()


def test_a_local_user_cannot_submit_batch_jobs(api_client, cluster):
    response = api_client.post(URL, batch_body(), format="json")
    assert response.status_code == 400
    assert "Keycloak (PLGrid) account" in response.json()["message"]


def test_a_keycloak_user_without_a_certificate_is_told_to_log_in_again(cluster):
    client = api_client_for(KeycloakUser.objects.create(username="plgnocert"))
    response = client.post(URL, batch_body(), format="json")
    assert response.status_code == 400
    assert "no SSH certificate" in response.json()["message"]


def test_a_cluster_without_ssh_settings_is_refused(plg_client):
    ClusterFactory(cluster_name="ares")
    response = plg_client.post(URL, batch_body(), format="json")
    assert response.status_code == 400
    assert "not configured for batch jobs" in response.json()["message"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"cluster": "ares"}, "cluster applies to BATCH simulations only"),
        ({"batch_options": {"cluster_name": "ares"}}, "batch_options apply to BATCH simulations only"),
    ],
)
def test_batch_fields_on_a_direct_submission_are_400(api_client, cluster, extra, message):
    body = {"sim_type": "dummy", "ntasks": 1, "input_type": "editor", "input_json": editor_project(), **extra}
    response = api_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert message in response.json()["message"]


@pytest.mark.parametrize(
    ("validity", "principal", "message"),
    [
        ("20200101:20200102", "plgmarie", "certificate expired at 2020-01-02 00:00:00 UTC"),
        ("-5m:+1d", "plgsomeone", "is for plgsomeone, not for 'plgmarie'"),
    ],
)
def test_an_unusable_certificate_is_400_with_its_reason(cluster, tmp_path, validity, principal, message):
    cert, key = certificate(tmp_path, principal=principal, validity=validity)
    client = api_client_for(KeycloakUser.objects.create(username="plgmarie", cert=cert, private_key=key))

    response = client.post(URL, batch_body(), format="json")

    assert response.status_code == 400
    assert message in response.json()["message"]
    assert not Simulation.objects.exists()
