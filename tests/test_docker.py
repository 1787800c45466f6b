"""The image and the compose file agree with the one entrypoint script (there is no Docker engine here)."""

import re
import subprocess
from pathlib import Path

import yaml

DOCKER = Path(__file__).resolve().parent.parent / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"
APP_SERVICES = {"migrate", "web", "worker", "beat", "flower"}


def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def entrypoint_commands() -> set[str]:
    """The commands the entrypoint's `case` handles (every branch but the usage fallback)."""
    text = ENTRYPOINT.read_text()
    case = text[text.index('case "$command" in') :]
    return {label for label in re.findall(r"^  ([a-z]+)\)", case, re.MULTILINE)}


def test_entrypoint_refuses_an_unknown_command_with_its_usage():
    result = subprocess.run([str(ENTRYPOINT), "bogus"], capture_output=True, text=True, timeout=30)

    assert result.returncode == 2
    usage = re.search(r"\{(.+)\}", result.stderr).group(1)
    assert {word.split()[0] for word in usage.split("|")} == entrypoint_commands()


def test_entrypoint_without_a_command_prints_usage():
    result = subprocess.run([str(ENTRYPOINT)], capture_output=True, text=True, timeout=30)

    assert result.returncode == 2 and "usage:" in result.stderr


def test_every_app_service_runs_a_command_the_entrypoint_accepts():
    services = compose()["services"]

    assert APP_SERVICES <= set(services)
    for name in APP_SERVICES:
        command = services[name]["command"]
        assert command[0] in entrypoint_commands(), name
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"


def test_services_wait_for_the_health_of_what_they_need():
    services = compose()["services"]

    for name in ("postgres", "redis", "web", "worker"):
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }, name
    assert services["flower"]["profiles"] == ["flower"]
    assert services["flower"]["depends_on"]["worker"] == {"condition": "service_healthy"}
    assert "/health/" in " ".join(services["web"]["healthcheck"]["test"])


def test_app_services_reach_postgres_and_redis_and_take_secrets_only_from_the_env_file():
    web = compose()["services"]["web"]
    environment = web["environment"]

    assert environment["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"] == environment["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert web["env_file"] == [{"path": "../.env", "required": True}]
    assert not {"DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEYS"} & set(environment)


def test_image_runs_the_entrypoint_as_a_non_root_user_with_pinned_requirements():
    dockerfile = (DOCKER / "Dockerfile").read_text()

    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["docker/entrypoint.sh"\]$', dockerfile, re.MULTILINE)
    assert re.search(r"^USER (?!root)\w+$", dockerfile, re.MULTILINE)
    assert "-c constraints.txt" in dockerfile
    for requirements in (DOCKER.parent / "requirements.txt", DOCKER / "requirements-flower.txt"):
        lines = [line for line in requirements.read_text().splitlines() if line and not line.startswith(("#", "-c "))]
        assert all("==" in line for line in lines), requirements
    constraints = (DOCKER.parent / "constraints.txt").read_text().splitlines()
    assert all("==" in line for line in constraints if line and not line.startswith("#"))
