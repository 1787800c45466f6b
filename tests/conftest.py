import os

import pytest

from simulations.services import simulation_submit

from .factories import UserFactory, editor_project


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def admin_user(db):
    """pytest-django's admin, with a password our validators accept (its own is "password")."""
    from accounts.models import User

    return User.objects.create_superuser("admin", "admin-test-passphrase-42")


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def submit(db, user):
    """Submits an EDITOR dummy simulation through the service; returns (simulation, update key)."""

    def _submit(*, owner=None, ntasks: int = 2, primaries: int = 1000, **kwargs):
        return simulation_submit(
            user=owner or user,
            sim_type=kwargs.pop("sim_type", "dummy"),
            input_type="EDITOR",
            ntasks=ntasks,
            input_json=kwargs.pop("input_json", None) or editor_project(primaries=primaries),
            **kwargs,
        )

    return _submit


def api_client_for(user):
    """A DRF test client that sends `user`'s access token as a Bearer header, like a script."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import AccessToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@pytest.fixture
def api_client(user):
    return api_client_for(user)


@pytest.fixture
def other_client(other_user):
    return api_client_for(other_user)


@pytest.fixture
def celery_workers(transactional_db, settings, tmp_path):
    """Starts real Celery worker processes on the test database and a queue of this test's own; stops them after."""
    from .workers import SESSION_QUEUE, Workers

    queue = f"{SESSION_QUEUE}-{tmp_path.name}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    workers = Workers(tmp_path, queue)
    yield workers
    workers.stop_all()


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium, one for the test session: playwright's sync API runs one event loop per thread."""
    from playwright.sync_api import sync_playwright

    from .browsers import CHROMIUM, LAUNCH_FLAGS

    # That loop runs in this thread from now on; the tests' ORM calls are still synchronous.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def eager_tasks(monkeypatch):
    """Returns a switch that makes Celery tasks run inside the test at send time and store their results as a
    worker would. The tasks' own store_eager_result is set too: Celery copies it from the configuration once,
    when the app first hands out its tasks, so a later configuration change alone would not reach them."""
    from yaptide_site.celery import app

    def enable(*, propagate: bool) -> None:
        names = ("task_always_eager", "task_store_eager_result", "task_eager_propagates")
        for name in names:
            monkeypatch.setitem(app.conf, name, app.conf[name])
        app.conf.update(task_always_eager=True, task_store_eager_result=True, task_eager_propagates=propagate)
        for task in app.tasks.values():
            monkeypatch.setattr(task, "store_eager_result", True, raising=False)

    return enable
