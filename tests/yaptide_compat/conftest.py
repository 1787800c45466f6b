import uuid

import pytest
from django.test import Client

from ..factories import UserFactory

PASSWORD = "correct-horse-battery-1"


@pytest.fixture(autouse=True)
def fresh_throttle_cache(settings):
    """Each test counts login attempts from zero, in a cache of its own."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


def ui_client() -> Client:
    """A cookie-keeping client that sends an Origin of this site with its writes, as the UI's browser does."""
    return Client(HTTP_ORIGIN="http://testserver")


@pytest.fixture
def client():
    return ui_client()


def login(client: Client, username: str, password: str = PASSWORD):
    return client.post("/auth/login", {"username": username, "password": password}, content_type="application/json")


@pytest.fixture
def browser(db, user):
    """A cookie-keeping client logged in through the old route, as the UI's browser is."""
    client = ui_client()
    assert login(client, user.username).status_code == 202
    return client


@pytest.fixture
def other_browser(db, other_user):
    client = ui_client()
    assert login(client, other_user.username).status_code == 202
    return client


__all__ = ["UserFactory"]
