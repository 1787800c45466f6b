import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

from accounts.models import KeycloakUser, User, YaptideUser
from simulations.choices import JobState
from simulations.models import Input, Simulation, Task
from simulations.services import TaskUpdate, task_apply_update
from tests.factories import KeycloakUserFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase-7"


def run(*args, stdin: str | None = None, monkeypatch=None) -> str:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_add_user_with_password_option_creates_a_local_user_who_can_log_in():
    out = run("add_user", "marie", "--password", PASSWORD)

    assert out.startswith("Created local user 'marie'")
    assert PASSWORD not in out
    user = YaptideUser.objects.get(username="marie")
    assert not user.is_staff
    assert authenticate(username="marie", password=PASSWORD) == user


def test_add_user_reads_the_password_from_stdin_and_sets_staff(monkeypatch):
    out = run("add_user", "pierre", "--password-stdin", "--staff", stdin=PASSWORD + "\n", monkeypatch=monkeypatch)

    assert PASSWORD not in out
    user = YaptideUser.objects.get(username="pierre")
    assert user.is_staff and not user.is_superuser
    assert user.check_password(PASSWORD)


def test_add_user_reads_a_piped_password_without_the_flag(monkeypatch):
    run("add_user", "irene", stdin=PASSWORD + "\n", monkeypatch=monkeypatch)

    assert YaptideUser.objects.get(username="irene").check_password(PASSWORD)


def test_add_user_prompts_without_echo_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", Terminal())
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))

    run("add_user", "lise", "--superuser")

    user = YaptideUser.objects.get(username="lise")
    assert user.is_superuser and user.check_password(PASSWORD)


def test_add_user_with_a_taken_name_fails():
    UserFactory(username="marie")

    with pytest.raises(CommandError, match="already exists"):
        run("add_user", "marie", "--password", PASSWORD)


def test_add_user_may_reuse_a_keycloak_users_name():
    KeycloakUserFactory(username="marie")

    run("add_user", "marie", "--password", PASSWORD)

    assert User.objects.filter(username="marie").count() == 2


def test_add_user_with_a_weak_password_fails_and_creates_nothing():
    with pytest.raises(CommandError, match="too short|too common"):
        run("add_user", "marie", "--password", "abc")
    assert not User.objects.exists()


def test_add_user_with_empty_stdin_fails(monkeypatch):
    with pytest.raises(CommandError, match="no password on standard input"):
        run("add_user", "marie", "--password-stdin", stdin="", monkeypatch=monkeypatch)


def test_command_failure_exits_non_zero_with_the_message_on_stderr(capsys):
    UserFactory(username="marie")

    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "add_user", "marie", "--password", PASSWORD]).execute()

    assert exit_info.value.code == 1
    assert "already exists" in capsys.readouterr().err


def test_list_users_shows_every_user_with_provider_and_simulation_count(submit, user):
    submit(owner=user)
    KeycloakUserFactory(username="plgkowalski")

    out = run("list_users")
    keycloak_only = run("list_users", "--provider", "keycloak")

    rows = {line.split()[1]: line.split() for line in out.splitlines()[1:]}
    assert rows[user.username][2:] == ["YaptideUser", "True", "False", "False", "1"]
    assert rows["plgkowalski"][2:] == ["KeycloakUser", "True", "False", "False", "0"]
    assert "plgkowalski" in keycloak_only and user.username not in keycloak_only


def test_update_user_changes_password_active_and_staff(monkeypatch):
    user = UserFactory(username="marie")

    run("update_user", "marie", "--password-stdin", "--staff", "--no-active", stdin=PASSWORD, monkeypatch=monkeypatch)

    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert user.is_staff and not user.is_active
    run("update_user", "marie", "--active", "--no-staff")
    user.refresh_from_db()
    assert user.is_active and not user.is_staff


def test_update_user_needs_something_to_change():
    UserFactory(username="marie")

    with pytest.raises(CommandError, match="nothing to change"):
        run("update_user", "marie")


def test_update_user_refuses_a_password_for_a_keycloak_user():
    KeycloakUserFactory(username="plgnowak")

    with pytest.raises(CommandError, match="Keycloak users have no password"):
        run("update_user", "plgnowak", "--password", PASSWORD)


def test_update_user_asks_for_the_provider_when_the_name_is_ambiguous():
    UserFactory(username="marie")
    keycloak = KeycloakUserFactory(username="marie")

    with pytest.raises(CommandError, match="pass --provider"):
        run("update_user", "marie", "--staff")
    run("update_user", "marie", "--provider", "keycloak", "--staff")

    keycloak.refresh_from_db()
    assert keycloak.is_staff
    assert not YaptideUser.objects.get(username="marie").is_staff


def test_update_user_of_unknown_name_fails():
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        run("update_user", "ghost", "--staff")


def test_remove_user_cancels_unfinished_and_deletes_all_their_simulations(
    submit, user, other_user, django_capture_on_commit_callbacks
):
    submit(owner=user)
    done, _ = submit(owner=user)
    for task in done.tasks.all():
        task_apply_update(simulation=done, task_id=task.task_id, update=TaskUpdate(task_state=JobState.FAILED))
    kept, _ = submit(owner=other_user)

    with django_capture_on_commit_callbacks() as after_commit:
        out = run("remove_user", user.username)

    assert out.strip() == f"Removed {user} and 2 simulation(s), 1 of them canceled first."
    assert len(after_commit) == 1  # the cancel of the unfinished one tells its workers to stop
    assert not User.objects.filter(pk=user.pk).exists()
    assert list(Simulation.objects.values_list("job_id", flat=True)) == [kept.job_id]
    assert set(Task.objects.values_list("simulation_id", flat=True)) == {kept.pk}
    assert list(Input.objects.values_list("simulation_id", flat=True)) == [kept.pk]


def test_remove_user_removes_a_keycloak_user():
    KeycloakUserFactory(username="plgnowak")

    run("remove_user", "plgnowak", "--provider", "keycloak")

    assert not KeycloakUser.objects.exists()


def test_remove_user_of_unknown_name_fails():
    with pytest.raises(CommandError, match="no user named"):
        run("remove_user", "ghost")


@pytest.mark.parametrize("command", ["list_users", "add_user", "update_user", "remove_user", "ensure_admin"])
def test_commands_have_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command(command, "--help")
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_remove_user_help_says_what_happens_to_simulations(capsys):
    with pytest.raises(SystemExit):
        call_command("remove_user", "--help")
    assert "unfinished simulations are canceled first" in " ".join(capsys.readouterr().out.split())


def test_ensure_admin_creates_a_superuser_once_on_an_empty_database():
    out = run("ensure_admin")
    password = out.split("password: ")[1].split()[0]

    assert authenticate(username="admin", password=password).is_superuser
    assert run("ensure_admin") == ""
    assert User.objects.count() == 1


def test_ensure_admin_still_creates_the_first_admin_after_a_command_wrote_the_audit_trail(db):
    from django.core.management import call_command

    from yaptide_site.audit import command_user

    command_user()
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)

    assert "Created superuser 'admin'" in out.getvalue()
