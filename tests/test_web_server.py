"""The web server of docker/entrypoint.sh: slow clients do not take it down (issue 14, point 9)."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from .workers import wait_for

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _connections_to(port: int) -> int:
    """Established TCP connections to the port on loopback (from /proc/net/tcp)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for line in lines if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "01")


def _status(port: int, timeout: float = 5) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/api/auth/me/")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


@pytest.fixture
def web_server(tmp_path):
    """`docker/entrypoint.sh web` (2 workers, its own worker class) on a loopback port; stopped after the test."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))},
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "BIND": "127.0.0.1",
        "PORT": str(port),
        "PYTHON": sys.executable,
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        "WEB_CONCURRENCY": "2",
    }
    server = subprocess.Popen(
        ["bash", str(ROOT / "docker" / "entrypoint.sh"), "web"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _status(port) == 401, timeout=60, what="the web server to answer")
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _trickle(port: int, stop: threading.Event) -> None:
    """A slow client: its request headers, one byte every half second, never finished."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /api/auth/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        while not stop.wait(0.5):
            try:
                sock.sendall(b"a")
            except OSError:
                return


def test_a_request_is_answered_while_slow_clients_hold_connections(web_server):
    stop = threading.Event()
    slow = [threading.Thread(target=_trickle, args=(web_server, stop), daemon=True) for _ in range(6)]
    try:
        for thread in slow:  # three times the number of worker processes
            thread.start()
        wait_for(lambda: _connections_to(web_server) >= len(slow), timeout=10, what="the slow clients to connect")

        assert _status(web_server, timeout=20) == 401
    finally:
        stop.set()
        for thread in slow:
            thread.join(timeout=10)
