"""Headless Chromium (Debian's package, never a downloaded browser) driven by playwright, against the test's
live server; every request to a host other than the loopback addresses is aborted."""

import os
from urllib.parse import urlsplit

import pytest

# playwright's sync API runs an event loop in this thread; the test's ORM calls are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture
def browser_page(chromium, live_server):
    """A fresh browser context (1440 x 900) that may only talk to loopback; records CSP violations."""
    context = chromium.new_context(viewport={"width": 1440, "height": 900}, base_url=live_server.url)
    blocked: list[str] = []

    def only_loopback(route):
        host = urlsplit(route.request.url).hostname or ""
        if host in LOOPBACK_HOSTS or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.csp_violations = []
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and page.csp_violations.append(message.text),
    )
    page.blocked_requests = blocked
    yield page
    context.close()


ADMIN_PASSWORD = "browser-test-passphrase-7"


@pytest.fixture
def admin_page(browser_page, admin_user, live_server):
    """The browser page signed in to the admin through its login form."""
    admin_user.set_password(ADMIN_PASSWORD)
    admin_user.save(update_fields=["password"])
    browser_page.goto("/admin/login/?next=/admin/")
    browser_page.fill("#id_username", admin_user.username)
    browser_page.fill("#id_password", ADMIN_PASSWORD)
    browser_page.click("input[type=submit]")
    browser_page.wait_for_url(f"{live_server.url}/admin/")  # the index, not the login page again
    return browser_page
