"""Availability and memory under abuse (issue 14): printed figures, not asserted. Part of `make bench`.

gunicorn is started by `docker/entrypoint.sh web` itself (so its worker class and threads are measured), on
loopback, against a fresh PostgreSQL database (BENCH_DB) and Redis (BENCH_REDIS_URL). Phases:
- baseline: a probe sends a normal API request (GET /api/simulations/ with a Bearer token) every 50 ms;
- 8 pollers of the anonymous GET /health/ while the probe runs;
- 10 slow clients (each sends its request headers one byte a second, never finishing) while the probe runs;
- a whole-results read of a small and of a large job: peak RSS growth of the gunicorn workers (VmHWM).
Each server configuration runs all phases; BENCH_AVAILABILITY_CLASSES picks them (default: the entrypoint's
own, then the old `sync` one for comparison). Writes bench/results/availability-<time>.md and prints it.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
HOST = "127.0.0.1"
PHASE_SECONDS = float(os.environ.get("BENCH_AVAILABILITY_SECONDS", "8"))
PROBE_INTERVAL = 0.05
PROBE_TIMEOUT = 2.0  # a probe slower than this counts as not answered
LARGE_MB = int(os.environ.get("BENCH_LARGE_RESULTS_MB", "60"))
CLASSES = os.environ.get("BENCH_AVAILABILITY_CLASSES", "entrypoint,sync").split(",")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- clients (standard library) ------------------------------------------------------------------


def request(port: int, method: str, path: str, body: bytes | None = None, headers=None, timeout=PROBE_TIMEOUT):
    """(status, body bytes) of one request on a fresh connection; the body is read to its end."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        size = 0
        while chunk := response.read(1 << 20):
            size += len(chunk)
        return response.status, size
    finally:
        conn.close()


class Probe(threading.Thread):
    """The normal API request, every PROBE_INTERVAL: how many answered (2xx within PROBE_TIMEOUT), how fast."""

    def __init__(self, port: int, token: str, seconds: float):
        super().__init__(daemon=True)
        self.port, self.token, self.seconds = port, token, seconds
        self.latencies: list[float] = []
        self.sent = 0

    def run(self):
        deadline = time.monotonic() + self.seconds
        headers = {"Authorization": f"Bearer {self.token}"}
        while time.monotonic() < deadline:
            began = time.monotonic()
            self.sent += 1
            try:
                status, _ = request(self.port, "GET", "/api/simulations/?page_size=5", headers=headers)
                if 200 <= status < 300:
                    self.latencies.append(time.monotonic() - began)
            except OSError:
                pass
            time.sleep(max(0.0, PROBE_INTERVAL - (time.monotonic() - began)))

    def figures(self) -> dict:
        answered = sorted(self.latencies)

        def pct(q):
            return answered[min(len(answered) - 1, int(q * len(answered)))] * 1000 if answered else float("nan")

        return {
            "sent": self.sent,
            "available": len(answered) / self.sent if self.sent else 0.0,
            "p50_ms": pct(0.5),
            "p95_ms": pct(0.95),
        }


def health_poller(port: int, counts: list, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            status, _ = request(port, "GET", "/health/", timeout=10)
            counts.append(status)
        except OSError:
            counts.append(0)


def slow_client(port: int, stop: threading.Event) -> None:
    """Sends a request's headers one byte a second and never finishes them; reconnects when dropped."""
    head = b"GET /api/auth/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
    while not stop.is_set():
        try:
            with socket.create_connection((HOST, port), timeout=5) as sock:
                for byte in head:
                    if stop.is_set():
                        return
                    sock.sendall(bytes([byte]))
                    stop.wait(1.0)
        except OSError:
            stop.wait(0.2)


def with_load(port: int, token: str, start_load) -> dict:
    stop = threading.Event()
    threads = start_load(stop)
    time.sleep(1.0)  # let the load take hold of the workers
    probe = Probe(port, token, PHASE_SECONDS)
    probe.start()
    probe.join()
    stop.set()
    for thread in threads:
        thread.join(timeout=15)
    return probe.figures()


def start_threads(count: int, target, *args):
    def start(stop):
        threads = [threading.Thread(target=target, args=(*args, stop), daemon=True) for _ in range(count)]
        for thread in threads:
            thread.start()
        return threads

    return start


# --- memory of the gunicorn workers --------------------------------------------------------------


def workers_of(master: int) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == master:
                pids.append(int(name))
    return pids


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def gunicorn_master(server: subprocess.Popen) -> int:
    """The gunicorn master: the entrypoint execs it, so it is the process we started."""
    return server.pid


def peak_growth_of_read(port: int, master: int, token: str, job_id: str) -> dict:
    """Peak RSS growth (MB) of the worker that served a whole-results read, and what it kept afterwards."""
    workers = workers_of(master)
    before = {}
    for pid in workers:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        except OSError:
            pass
        before[pid] = _status_kb(pid, "VmRSS")
    began = time.monotonic()
    status, size = request(
        port, "GET", f"/api/simulations/{job_id}/results/", headers={"Authorization": f"Bearer {token}"}, timeout=300
    )
    seconds = time.monotonic() - began
    growth = {pid: (_status_kb(pid, "VmHWM") - before[pid]) / 1024 for pid in workers}
    kept = {pid: (_status_kb(pid, "VmRSS") - before[pid]) / 1024 for pid in workers}
    served_by = max(growth, key=growth.get)
    return {
        "status": status,
        "body_mb": size / 1e6,
        "seconds": seconds,
        "peak_growth_mb": growth[served_by],
        "kept_mb": kept[served_by],
    }


# --- server and data -----------------------------------------------------------------------------


def server_env(config: str, port: int) -> dict:
    from bench.run import server_env as bench_env

    env = bench_env()
    env.update(BIND=HOST, PORT=str(port), PYTHON=PYTHON, PATH=f"{Path(PYTHON).parent}:{env.get('PATH', '')}")
    env["DJANGO_STATIC_ROOT"] = str(RESULTS / "static")
    if config == "sync":
        env.update(WEB_WORKER_CLASS="sync", WEB_THREADS="1")
    return env


def start_server(env: dict, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        ["bash", str(ROOT / "docker" / "entrypoint.sh"), "web", "--error-logfile", str(RESULTS / "availability.log")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if request(port, "GET", "/api/auth/me/")[0] == 401 and len(workers_of(server.pid)) >= 2:
                return server
        except OSError:
            pass
        if server.poll() is not None:
            raise RuntimeError("the web server exited; see bench/results/availability.log")
        time.sleep(0.2)
    raise RuntimeError("the web server did not answer within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def setup(path: str) -> None:
    """(Django side) A user with a small and a large job; writes their ids and a password to `path`."""
    import secrets

    import django

    django.setup()
    from accounts.services import user_create_local
    from bench.availability_data import finished_job_with_results

    password = secrets.token_urlsafe(16)
    user = user_create_local(username=f"avail-{secrets.token_hex(4)}", password=password)
    small = finished_job_with_results(user=user, megabytes=0.2)
    large = finished_job_with_results(user=user, megabytes=LARGE_MB)
    Path(path).write_text(json.dumps({"username": user.username, "password": password, "small": small, "large": large}))


def markdown(stamp: str, rows: list[dict], memory: list[dict]) -> str:
    lines = [
        f"# Availability under abuse ({stamp})",
        "",
        f"A probe sends GET /api/simulations/ every {PROBE_INTERVAL * 1000:.0f} ms for {PHASE_SECONDS:.0f} s; "
        f"answered = 2xx within {PROBE_TIMEOUT:.0f} s. gunicorn: 2 workers, started by docker/entrypoint.sh web.",
        "",
        "| server | load | available | p50 ms | p95 ms | probes |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['server']} | {row['load']} | {row['available'] * 100:.0f}% | {row['p50_ms']:.0f} | "
            f"{row['p95_ms']:.0f} | {row['sent']} |"
        )
    if memory:
        lines += [
            "",
            "Whole-results read (GET /api/simulations/<job>/results/), the worker that served it:",
            "",
            "| server | job | status | body MB | seconds | peak RSS growth MB | RSS kept MB |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in memory:
            lines.append(
                f"| {row['server']} | {row['job']} | {row['status']} | {row['body_mb']:.1f} | {row['seconds']:.2f} | "
                f"{row['peak_growth_mb']:.1f} | {row['kept_mb']:.1f} |"
            )
    return "\n".join(lines) + "\n"


def login(port: int, fixture: dict) -> str:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    body = json.dumps({"username": fixture["username"], "password": fixture["password"]})
    conn.request("POST", "/api/auth/login/", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"login answered {response.status}: {payload[:200]!r}")
    return json.loads(payload)["access"]


def main() -> int:
    from bench.run import drop_database, free_port, recreate_database
    from bench.run import server_env as bench_env

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows, memory = [], []
    try:
        log("database: recreate, migrate, one user with a small and a large job")
        recreate_database()
        env = bench_env()
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
        fixture_path = RESULTS / f"availability-fixture-{stamp}.json"
        subprocess.run([PYTHON, "-m", "bench.availability", "setup", str(fixture_path)], cwd=ROOT, env=env, check=True)
        fixture = json.loads(fixture_path.read_text())
        fixture_path.unlink()
        for config in CLASSES:
            port = free_port()
            server = start_server(server_env(config, port), port)
            label = "entrypoint (gthread, 16 threads)" if config == "entrypoint" else "sync workers (the old class)"
            log(f"{label} on {HOST}:{port}")
            try:
                token = login(port, fixture)
                for name, load in (
                    ("none", lambda stop: []),
                    ("8 /health/ pollers", start_threads(8, health_poller, port, [])),
                    ("10 slow clients", start_threads(10, slow_client, port)),
                ):
                    figures = with_load(port, token, load)
                    rows.append({"server": label, "load": name, **figures})
                    log(f"  {name}: {figures['available'] * 100:.0f}% answered, p95 {figures['p95_ms']:.0f} ms")
                for job in ("small", "large"):
                    figures = peak_growth_of_read(port, gunicorn_master(server), token, fixture[job])
                    memory.append({"server": label, "job": job, **figures})
                    log(
                        f"  whole results of the {job} job: {figures['body_mb']:.1f} MB body, worker peak "
                        f"+{figures['peak_growth_mb']:.1f} MB"
                    )
            finally:
                stop_server(server)
    finally:
        try:
            drop_database()
        except Exception as error:  # noqa: BLE001 - a report matters more than the cleanup
            log(f"could not drop the database: {error}")
    md = markdown(stamp, rows, memory)
    (RESULTS / f"availability-{stamp}.md").write_text(md)
    (RESULTS / "availability-latest.md").write_text(md)
    print()
    print(md)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        setup(sys.argv[2])
    else:
        sys.exit(main())
