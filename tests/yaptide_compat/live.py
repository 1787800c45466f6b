"""A live stack for browser tests: gunicorn on the test database, the UI build served on another loopback port,
and Debian's Chromium driven by playwright with every non-loopback request blocked."""

import functools
import os
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

from ..browsers import is_loopback
from ..workers import ROOT, wait_for, worker_database_url

UI_PLACEHOLDER = "http://yaptide-backend.invalid"


def ui_build() -> Path:
    """The UI build: YAPTIDE_UI_BUILD, else shared/yaptide-ui/build beside the checkout or one of its parents."""
    configured = os.environ.get("YAPTIDE_UI_BUILD")
    candidates = [Path(configured)] if configured else [p / "shared" / "yaptide-ui" / "build" for p in ROOT.parents]
    for candidate in candidates:
        if (candidate / "index.html").is_file():
            return candidate
    raise AssertionError(f"no yaptide UI build in {', '.join(map(str, candidates))} (set YAPTIDE_UI_BUILD)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class UiServer:
    """A copy of the UI build pointed at `backend_url`, served by a static file server in a thread."""

    def __init__(self, tmp_path: Path, backend_url: str):
        self.root = tmp_path / "ui"
        shutil.copytree(ui_build(), self.root)
        for path in self.root.rglob("*"):
            path.chmod(path.stat().st_mode | 0o200)  # the build may be read-only
        replaced = 0
        for script in (self.root / "static" / "js").glob("main.*.js"):
            text = script.read_text()
            replaced += text.count(UI_PLACEHOLDER)
            script.write_text(text.replace(UI_PLACEHOLDER, backend_url))
        assert replaced, f"{UI_PLACEHOLDER} not found in the UI build"
        handler = functools.partial(QuietHandler, directory=str(self.root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class WebServer:
    """gunicorn serving the project on the test database, logging to a file."""

    def __init__(self, tmp_path: Path, *, port: int, env: dict[str, str]):
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = tmp_path / "gunicorn.log"
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "yaptide_site.settings_test",
            "DATABASE_URL": worker_database_url(),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        command = [sys.executable, "-m", "gunicorn", "yaptide_site.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        command += ["--workers", "1", "--worker-class", "gthread", "--threads", "8", "--access-logfile", "-"]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for(self._ready, timeout=60, what=f"gunicorn ready (log {self.log_path})")

    def _ready(self) -> bool:
        assert self.process.poll() is None, f"gunicorn exited: {self.log_path.read_text()[-3000:]}"
        try:
            with urlopen(self.url + "/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(timeout=10)
        self.log.close()


@dataclass
class BackendCall:
    method: str
    url: str
    status: int
    body: str = ""


@dataclass
class Traffic:
    """What the page asked of the backend, and what it tried to reach elsewhere (blocked)."""

    backend_url: str
    calls: list[BackendCall] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def on_response(self, response) -> None:
        if response.url.startswith(self.backend_url + "/") or response.url == self.backend_url:
            body = ""
            if not 200 <= response.status < 300:
                try:
                    body = response.text()
                except Exception as error:  # noqa: BLE001 - a body we cannot read is recorded as such
                    body = f"<unreadable: {error}>"
            self.calls.append(BackendCall(response.request.method, response.url, response.status, body))

    def on_request_failed(self, request) -> None:
        if request.url.startswith(self.backend_url):
            self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def guard(self, route) -> None:
        if is_loopback(route.request.url):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()

    def paths(self, method: str | None = None) -> list[str]:
        base = len(self.backend_url)
        return [call.url[base:] for call in self.calls if method is None or call.method == method]

    def unexpected(self) -> list[str]:
        """Backend answers that are not 2xx, except 401 `No token provided` while the page has no session
        (before the login, as the UI's first refresh, and after the logout)."""
        logins = [i for i, call in enumerate(self.calls) if _is(call, "POST", "/auth/login") and call.status < 300]
        logouts = [i for i, call in enumerate(self.calls) if _is(call, "DELETE", "/auth/logout")]
        signed_in_from = logins[0] if logins else len(self.calls)
        signed_out_from = logouts[-1] if logouts else len(self.calls)
        bad = []
        for index, call in enumerate(self.calls):
            if 200 <= call.status < 300:
                continue
            no_session = index < signed_in_from or index > signed_out_from
            if no_session and call.status == 401 and '"No token provided"' in call.body:
                continue
            bad.append(f"{call.method} {call.url} -> {call.status} {call.body[:300]}")
        return bad + self.failed


def _is(call: BackendCall, method: str, path: str) -> bool:
    return call.method == method and urlsplit(call.url).path.endswith(path)
