"""The documented production deployment, run for real: `docker/entrypoint.sh web` (gunicorn, debug off) with the
environment the compose file gives the web container and `.env.example` copied with only the documented secrets
and host name set. A browser-like client (cookies, CSRF token, Origin, Referer) asks for the host name
yaptide.example, sent to 127.0.0.1 in the Host header, over plain http and as a TLS proxy would forward it.
"""

import base64
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
import yaml

from accounts.models import YaptideUser
from tests.test_make_run import free_port
from tests.workers import wait_for, worker_database_url

ROOT = Path(__file__).resolve().parent.parent
HOST = "yaptide.example"
PASSWORD = "radium-1898-polonium"
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def copied_env_file(tmp_path: Path, **values: str) -> Path:
    """`cp .env.example .env`, then the operator sets the lines the README names (commented-out secrets too)."""
    text = (ROOT / ".env.example").read_text()
    for name, value in values.items():
        text, count = re.subn(rf"^(# )?{name}=.*$", f"{name}={value}", text, flags=re.MULTILINE)
        assert count == 1, f"{name} is not in .env.example"
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def env_file_values(path: Path) -> dict[str, str]:
    """What compose's env_file passes to a container: KEY=VALUE lines, comments skipped, empty values kept."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value
    return values


def interpolate(value: str, variables: dict[str, str]) -> str:
    """compose's ${NAME:-default} and ${NAME} from the --env-file."""
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: variables.get(m.group(1)) or (m.group(2) or ""), str(value))


def web_container_env(env_file: Path, tmp_path: Path) -> dict[str, str]:
    """The web container's environment as compose builds it; the services' addresses become this test's own."""
    web = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())["services"]["web"]
    variables = env_file_values(env_file)
    env = {**variables, **{name: interpolate(value, variables) for name, value in web["environment"].items()}}
    assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://redis:")
    redis_url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    env.update(DATABASE_URL=worker_database_url(), REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url)
    # The image's own settings (Dockerfile ENV) and this machine's paths instead of the container's.
    env.update(
        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        PYTHON=sys.executable,
        PYTHONUNBUFFERED="1",
        DJANGO_STATIC_ROOT=str(tmp_path / "static"),
        DJANGO_ENV_FILE=str(env_file),  # never the developer's own .env
        HOME=str(tmp_path),
    )
    return env


class Browser:
    """requests with what a browser does here: its cookies (Secure ones too, as the page is https to it), the
    CSRF token, Origin and Referer on a form post, and no redirects followed (the test reads them)."""

    def __init__(self, port: int, scheme: str):
        self.base = f"http://127.0.0.1:{port}"
        self.origin = f"{scheme}://{HOST}"
        self.headers = {"Host": HOST, "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"}
        if scheme == "https":
            self.headers["X-Forwarded-Proto"] = "https"  # what the TLS proxy adds
        self.cookies: dict[str, str] = {}
        self.secure_cookies: set[str] = set()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        response = requests.request(
            method, urljoin(self.base, path), headers=headers, allow_redirects=False, timeout=30, **kwargs
        )
        for header in response.raw.headers.getlist("Set-Cookie"):
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
                    if morsel["secure"]:
                        self.secure_cookies.add(name)
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post_form(self, path: str, data: dict) -> requests.Response:
        headers = {"Origin": self.origin, "Referer": self.origin + path}
        return self.request(
            "POST", path, data={**data, "csrfmiddlewaretoken": self.cookies["csrftoken"]}, headers=headers
        )


def assets(page: str) -> list[str]:
    return re.findall(r'<(?:script[^>]*\bsrc|link[^>]*\bhref)="([^"]+)"', page)


@pytest.fixture(params=["http", "https"])
def production(request, tmp_path, transactional_db):
    scheme = request.param
    secret_key = secrets.token_urlsafe(50)
    fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    values = {"DJANGO_SECRET_KEY": secret_key, "FIELD_ENCRYPTION_KEYS": fernet_key, "DJANGO_ALLOWED_HOSTS": HOST}
    if scheme == "https":
        values["PUBLIC_SCHEME"] = "https"  # README: behind a TLS proxy
    env = web_container_env(copied_env_file(tmp_path, **values), tmp_path)
    port = free_port()
    env["PORT"] = str(port)
    # The operator's first admin, made the documented way (with production's password hasher).
    subprocess.run(
        [str(ROOT / "docker" / "entrypoint.sh"), "manage", "add_user", "operator", "--staff", "--superuser"],
        input=f"{PASSWORD}\n",
        cwd=ROOT,
        env={**env, "PORT": ""},
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log_path = tmp_path / "web.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(ROOT / "docker" / "entrypoint.sh"), "web"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def up():
        assert process.poll() is None, log_path.read_text()[-3000:]
        try:
            return requests.get(f"http://127.0.0.1:{port}/health/?checks=database", timeout=5).status_code == 200
        except requests.RequestException:  # not listening yet, or the workers still booting
            return False

    try:
        wait_for(up, timeout=120, what="gunicorn to answer", interval=0.3)
        yield scheme, Browser(port, scheme), env, log_path
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        shutil.rmtree(tmp_path / "static", ignore_errors=True)


def test_admin_docs_and_api_login_work_on_the_documented_deployment(production):
    scheme, browser, env, log_path = production

    login_page = browser.get("/admin/login/")
    assert login_page.status_code == 200, login_page.text[:500]
    stylesheets = [url for url in assets(login_page.text) if url.endswith(".css")]
    assert any(re.search(r"/static/admin/css/base\.[0-9a-f]{12}\.css$", url) for url in stylesheets), stylesheets
    for url in assets(login_page.text):
        asset = browser.get(url, headers={"Accept-Encoding": "gzip"})
        assert asset.status_code == 200, url
        assert "max-age=315360000" in asset.headers["Cache-Control"], url  # hashed names are cached for good
    css = browser.get(stylesheets[0], headers={"Accept-Encoding": "gzip"})
    assert css.headers["Content-Type"].startswith("text/css") and css.headers.get("Content-Encoding") == "gzip"

    signed_in = browser.post_form("/admin/login/?next=/admin/", {"username": "operator", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/admin/", signed_in.text[:2000]
    assert "Site administration" in browser.get("/admin/").text

    for docs in ("/api/docs/", "/api/redoc/"):
        page = browser.get(docs)
        assert page.status_code == 200, docs
        urls = assets(page.text)
        assert urls and all(browser.get(url).status_code == 200 for url in urls), (docs, urls)
        assert not [url for url in urls if re.match(r"(https?:)?//", url)], "docs load nothing from other sites"
    schema = browser.get("/api/schema/?format=json")
    assert schema.status_code == 200 and schema.json()["info"]["title"] == "yaptide API"

    api = browser.request("POST", "/api/auth/login/", json={"username": "operator", "password": PASSWORD})
    assert api.status_code == 200, api.text
    assert api.headers["Cache-Control"] == "no-store"
    me = browser.get("/api/auth/me/")  # with the access_token cookie the login set
    assert me.status_code == 200 and me.json()["username"] == "operator"

    secure = {"sessionid", "csrftoken", "access_token", "refresh_token"}
    assert browser.secure_cookies == (secure if scheme == "https" else set())
    deploy_check = subprocess.run(
        [str(ROOT / "docker" / "entrypoint.sh"), "manage", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert deploy_check.returncode == 0 and "no issues" in deploy_check.stdout, deploy_check.stderr


def test_behind_a_tls_proxy_http_is_redirected_and_links_are_https(production):
    scheme, browser, env, log_path = production
    if scheme == "http":
        plain = browser.get("/api/simulations/?page_size=1")
        assert plain.status_code == 401 and "Strict-Transport-Security" not in plain.headers
        return

    assert browser.get("/admin/").headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    unproxied = requests.get(f"{browser.base}/admin/login/", headers={"Host": HOST}, allow_redirects=False, timeout=10)
    assert unproxied.status_code == 301 and unproxied.headers["Location"] == f"https://{HOST}/admin/login/"
    assert requests.get(f"{browser.base}/health/?checks=database", timeout=10).status_code == 200  # not redirected

    user = YaptideUser.objects.get(username="operator")
    from simulations.services import simulation_submit
    from tests.factories import editor_project

    for _ in range(2):
        simulation_submit(user=user, sim_type="dummy", input_type="EDITOR", ntasks=1, input_json=editor_project())
    browser.request("POST", "/api/auth/login/", json={"username": "operator", "password": PASSWORD})
    listing = browser.get("/api/simulations/?page_size=1")
    assert listing.status_code == 200 and listing.json()["next"].startswith(f"https://{HOST}/api/simulations/")


def test_an_api_error_is_json_with_a_request_id_that_the_access_log_line_carries(production):
    scheme, browser, env, log_path = production

    response = browser.get("/api/no-such-thing/")

    assert response.status_code == 404 and response.json()["message"]
    request_id = response.headers["X-Request-ID"]

    def logged():  # gunicorn writes the access line just after it sent the response
        return [line for line in log_path.read_text().splitlines() if "/api/no-such-thing/" in line]

    lines = wait_for(logged, timeout=30, what="the access log line")
    requests.get(f"{browser.base}/health/?checks=database", timeout=10)  # a later request's line is written after
    wait_for(lambda: "/health/" in log_path.read_text().rsplit("/api/no-such-thing/", 1)[1], timeout=30, what="more")
    lines = logged()
    assert len(lines) == 1 and f"request_id={request_id}" in lines[0], lines  # logged once
