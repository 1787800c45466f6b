import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from simulations.choices import JobState
from simulations.models import Estimator, Input, Page, Simulation, Task
from simulations.services import (
    TaskUpdate,
    results_store,
    simulation_apply_update,
    task_apply_update,
    update_key_matches,
)
from tests.factories import KeycloakUserFactory, UserFactory

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def finish(simulation, state=JobState.COMPLETED):
    for task in simulation.tasks.all():
        task_apply_update(simulation=simulation, task_id=task.task_id, update=TaskUpdate(task_state=state))
    simulation_apply_update(simulation=simulation, job_state=state)
    simulation.refresh_from_db()
    return simulation


def test_list_tasks_prints_each_task_of_the_simulation(submit):
    simulation, _ = submit(ntasks=3, primaries=300)
    task_apply_update(simulation=simulation, task_id=1, update=TaskUpdate(task_state=JobState.RUNNING))

    out = run("list_tasks", simulation.job_id)

    lines = out.splitlines()
    assert lines[0] == f"{simulation.job_id} (RUNNING), 3 task(s)"
    assert lines[1].split()[:4] == ["task_id", "state", "requested", "simulated"]
    assert [line.split()[:3] for line in lines[2:]] == [
        ["0", "PENDING", "100"],
        ["1", "RUNNING", "100"],
        ["2", "PENDING", "100"],
    ]


def test_list_tasks_of_unknown_job_fails():
    with pytest.raises(CommandError, match="no simulation with job id 'nope'"):
        run("list_tasks", "nope")


def test_remove_task_removes_only_that_task_of_that_simulation(submit):
    simulation, _ = submit(ntasks=3)
    other, _ = submit(ntasks=3)

    out = run("remove_task", simulation.job_id, "1")

    assert out.strip() == f"Canceled and removed task 1 of {simulation.job_id}."
    assert sorted(Task.objects.filter(simulation=simulation).values_list("task_id", flat=True)) == [0, 2]
    assert sorted(Task.objects.filter(simulation=other).values_list("task_id", flat=True)) == [0, 1, 2]


def test_remove_task_of_a_finished_task_says_removed_only(submit):
    simulation, _ = submit(ntasks=2)
    task_apply_update(simulation=simulation, task_id=1, update=TaskUpdate(task_state=JobState.FAILED))

    assert run("remove_task", simulation.job_id, "1").strip() == f"Removed task 1 of {simulation.job_id}."


def test_removing_the_only_task_of_a_running_job_ends_the_job(submit):
    simulation, _ = submit(ntasks=1)
    task_apply_update(simulation=simulation, task_id=0, update=TaskUpdate(task_state=JobState.RUNNING))

    run("remove_task", simulation.job_id, "0")

    simulation.refresh_from_db()
    assert simulation.job_state == JobState.FAILED and simulation.end_time is not None
    assert not Task.objects.filter(simulation=simulation).exists()


def test_removing_the_last_running_task_merges_the_completed_rest(submit, django_capture_on_commit_callbacks):
    simulation, _ = submit(ntasks=2)
    task_apply_update(simulation=simulation, task_id=0, update=TaskUpdate(task_state=JobState.COMPLETED))
    task_apply_update(simulation=simulation, task_id=1, update=TaskUpdate(task_state=JobState.RUNNING))

    with django_capture_on_commit_callbacks() as callbacks:
        run("remove_task", simulation.job_id, "1")

    simulation.refresh_from_db()
    assert simulation.job_state == JobState.MERGING_QUEUED
    assert len(callbacks) == 2  # the canceled task's revoke and the merge


def test_remove_task_that_does_not_exist_fails_and_touches_nothing(submit):
    simulation, _ = submit(ntasks=2)

    with pytest.raises(CommandError, match="has no task 7"):
        run("remove_task", simulation.job_id, "7")
    assert Task.objects.count() == 2


def test_list_simulations_filters_by_user_and_provider(submit):
    alice = UserFactory(username="alice")
    keycloak_alice = KeycloakUserFactory(username="alice")
    bob = UserFactory(username="bob")
    local, _ = submit(owner=alice)
    remote, _ = submit(owner=keycloak_alice)
    bobs, _ = submit(owner=bob)

    everything = run("list_simulations")
    alices = run("list_simulations", "--user", "alice")
    local_alices = run("list_simulations", "--user", "alice", "--provider", "local")
    keycloak_only = run("list_simulations", "--provider", "keycloak")

    assert all(s.job_id in everything for s in (local, remote, bobs))
    assert local.job_id in alices and remote.job_id in alices and bobs.job_id not in alices
    assert local.job_id in local_alices and remote.job_id not in local_alices
    assert remote.job_id in keycloak_only and local.job_id not in keycloak_only and bobs.job_id not in keycloak_only


def test_list_simulations_rejects_an_unknown_provider():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("list_simulations", "--provider", "github")


def test_remove_simulation_deletes_a_finished_one_with_everything_it_owns(submit):
    simulation = finish(submit()[0])
    kept, _ = submit()
    results_store(
        simulation=simulation,
        estimators=[{"name": "z_", "metadata": {}, "pages": [{"metadata": {}, "dimensions": 0, "data": {}}]}],
    )

    out = run("remove_simulation", simulation.job_id)

    assert out.strip() == f"Removed simulation {simulation.job_id}."
    assert list(Simulation.objects.values_list("job_id", flat=True)) == [kept.job_id]
    assert not Estimator.objects.exists() and not Page.objects.exists()
    assert list(Input.objects.values_list("simulation_id", flat=True)) == [kept.pk]


def test_remove_simulation_refuses_an_unfinished_one(submit):
    simulation, _ = submit()

    with pytest.raises(CommandError, match="only finished simulations can be deleted"):
        run("remove_simulation", simulation.job_id)
    assert Simulation.objects.filter(pk=simulation.pk).exists()


def test_remove_simulation_with_cancel_cancels_then_deletes(submit):
    simulation, _ = submit()

    out = run("remove_simulation", simulation.job_id, "--cancel")

    assert f"Canceled {simulation.job_id}." in out
    assert not Simulation.objects.exists()


def test_remove_simulation_of_unknown_job_fails():
    with pytest.raises(CommandError, match="no simulation"):
        run("remove_simulation", "20250101-000000-0DIRECT")


def test_issue_update_key_prints_a_new_key_once_and_revokes_the_old(submit):
    simulation, old_key = submit()

    key = run("issue_update_key", simulation.job_id).strip()

    simulation.refresh_from_db()
    assert update_key_matches(simulation=simulation, key=key)
    assert not update_key_matches(simulation=simulation, key=old_key)
    assert key not in simulation.update_key_hash


def test_issue_update_key_of_unknown_job_fails():
    with pytest.raises(CommandError, match="no simulation"):
        run("issue_update_key", "missing")


@pytest.mark.parametrize(
    "command", ["list_tasks", "remove_task", "list_simulations", "remove_simulation", "issue_update_key"]
)
def test_commands_have_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command(command, "--help")
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


# --- convert_project ------------------------------------------------------------------------------

CONVERTER_DATA = Path(__file__).resolve().parent / "converter_data"


def test_convert_project_writes_a_saved_simulations_files_split_per_task(tmp_path):
    project = json.loads((CONVERTER_DATA / "ui-ex1" / "project.json").read_text())
    saved = tmp_path / "ex1.json"
    saved.write_text(json.dumps({"jobId": "x", "input": {"inputJson": project, "inputFiles": {}}}))

    out = run("convert_project", "--sim-type", "shieldhit", "--ntasks", "15", str(saved), str(tmp_path / "out"))

    written = sorted(path.name for path in (tmp_path / "out").iterdir())
    assert written == ["beam.dat", "detect.dat", "geo.dat", "info.json", "mat.dat"]
    assert out.splitlines() == [str(tmp_path / "out" / name) for name in ["beam.dat", "mat.dat", "detect.dat",
                                                                         "geo.dat", "info.json"]]  # fmt: skip
    expected = (CONVERTER_DATA / "ui-ex1" / "yaptide_files" / "beam.dat").read_text()
    assert (tmp_path / "out" / "beam.dat").read_text() == expected


def test_convert_project_of_a_bare_fluka_project(tmp_path):
    project = CONVERTER_DATA / "ui-ex6" / "project.json"

    run("convert_project", "--sim-type", "fluka", str(project), str(tmp_path))

    assert "START       100000.0" in (tmp_path / "fl_sim.inp").read_text()


def test_convert_project_says_why_a_project_cannot_be_converted(tmp_path):
    project = CONVERTER_DATA / "ui-ex7" / "project.json"

    with pytest.raises(CommandError, match="cannot be converted for shieldhit: input_json.beam.particle.id: "):
        run("convert_project", "--sim-type", "shieldhit", str(project), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()
    with pytest.raises(CommandError, match="is not JSON"):
        (tmp_path / "bad.json").write_text("{")
        run("convert_project", "--sim-type", "fluka", str(tmp_path / "bad.json"), str(tmp_path / "out"))
