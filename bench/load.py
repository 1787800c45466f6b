"""The load side of the benchmark: processes of threads, each thread one keep-alive HTTP client.

Standard library only (http.client), so a load process stays lean and never imports Django. Every
client of a phase starts on the same signal and stops at the same deadline; each returns its
latencies, status counts and what the phase's check needs (the last acknowledged k of a task, the
simulations it uploaded to).
"""

import http.client
import json
import multiprocessing
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

TIMEOUT_SECONDS = 60


@dataclass
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: int = 0
    first_start: float = 0.0
    last_end: float = 0.0
    extra: dict = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)


class TaskUpdates:
    """One worker that owns one task and reports simulated_primaries k = k0, k0 + 1, ..."""

    def __init__(self, job_id: str, task_id: int, key: str, k0: int = 1):
        self.path = f"/api/worker/simulations/{job_id}/tasks/{task_id}/"
        self.headers = {"X-Update-Key": key, "Content-Type": "application/json"}
        self.k = k0 - 1
        self.last_ok = None
        self.job_id, self.task_id = job_id, task_id

    def next(self, rng: random.Random) -> Request | None:
        self.k += 1
        body = {"task_state": "RUNNING", "simulated_primaries": self.k, "estimated_time": 10_000 - self.k % 10_000}
        return Request("POST", self.path, json.dumps(body).encode(), self.headers)

    def done(self, status: int) -> None:
        if 200 <= status < 300:
            self.last_ok = self.k

    def extra(self) -> dict:
        return {"job_id": self.job_id, "task_id": self.task_id, "last_ok": self.last_ok, "last_sent": self.k}


class Uploads:
    """One uploader that sends the mixed result set to each of its fresh simulations in turn."""

    def __init__(self, simulations: list[list[str]], body: bytes):
        self.simulations = list(simulations)
        self.body = body
        self.current: str | None = None
        self.uploaded: list[str] = []

    def next(self, rng: random.Random) -> Request | None:
        if not self.simulations:
            return None
        self.current, key = self.simulations.pop(0)
        headers = {"X-Update-Key": key, "Content-Type": "application/json"}
        return Request("POST", f"/api/worker/simulations/{self.current}/results/", self.body, headers)

    def done(self, status: int) -> None:
        if 200 <= status < 300:
            self.uploaded.append(self.current)

    def extra(self) -> dict:
        return {"uploaded": self.uploaded, "left": len(self.simulations)}


class Gets:
    """A signed-in client reading paths picked at random."""

    def __init__(self, token: str, paths: list[str], headers: dict | None = None):
        self.headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        self.paths = paths

    def next(self, rng: random.Random) -> Request | None:
        return Request("GET", rng.choice(self.paths), None, self.headers)

    def done(self, status: int) -> None:
        pass

    def extra(self) -> dict:
        return {}


def make_client(spec: dict, body: bytes | None):
    kind = spec["kind"]
    if kind == "task_update":
        return TaskUpdates(spec["job_id"], spec["task_id"], spec["key"], spec.get("k0", 1))
    if kind == "upload":
        return Uploads(spec["simulations"], body)
    if kind == "get":
        return Gets(spec["token"], spec["paths"], spec.get("headers"))
    raise ValueError(kind)


def _client_loop(host, port, spec, body, start_at, deadline, max_requests, seed, out: list) -> None:
    rng = random.Random(seed)
    client = make_client(spec, body)
    result = ClientResult()
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)
    time.sleep(max(0.0, start_at - time.time()))
    result.first_start = time.time()
    sent = 0
    while time.time() < deadline and sent < max_requests:
        request = client.next(rng)
        if request is None:
            break
        sent += 1
        began = time.perf_counter()
        try:
            conn.request(request.method, request.path, request.body, request.headers)
            response = conn.getresponse()
            payload = response.read()
            status = response.status
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException) as error:
            conn.close()
            result.errors += 1
            status = 0
            payload = repr(error).encode()
        result.latencies.append(time.perf_counter() - began)
        result.statuses[status] += 1
        if not 200 <= status < 300 and len(result.samples) < 3:
            result.samples.append(f"{status} {request.method} {request.path}: {payload[:300]!r}")
        client.done(status)
    result.last_end = time.time()
    conn.close()
    result.extra = client.extra()
    out.append(result)


def _process_main(host, port, specs, body_seed, ready, go, queue, duration, max_requests, seed) -> None:
    body = None
    if any(spec["kind"] == "upload" for spec in specs):
        from bench.mixed import mixed_body

        body = mixed_body(body_seed)
    ready.put(True)
    start_at = go.get()
    deadline = start_at + duration
    out: list[ClientResult] = []
    threads = [
        threading.Thread(
            target=_client_loop,
            args=(host, port, spec, body, start_at, deadline, max_requests, seed * 1000 + i, out),
        )
        for i, spec in enumerate(specs)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put([r.__dict__ for r in out])


def run_load(
    host: str,
    port: int,
    specs: list[dict],
    *,
    duration: float,
    processes: int = 1,
    max_requests: int = 10**9,
    on_start=None,
    body_seed: int = 5,
) -> dict:
    """Runs one client per spec, spread over `processes` load processes, for `duration` seconds.

    `on_start` is called right before the clients start (the driver samples CPU counters there).
    Returns the merged figures: requests, wall time, latencies (s), statuses, and each client's extra.
    """
    ctx = multiprocessing.get_context("fork")
    processes = max(1, min(processes, len(specs)))
    groups = [specs[i::processes] for i in range(processes)]
    ready, queue = ctx.Queue(), ctx.Queue()
    gos = [ctx.Queue() for _ in groups]
    workers = [
        ctx.Process(
            target=_process_main,
            args=(host, port, group, body_seed, ready, go, queue, duration, max_requests, n),
            daemon=True,
        )
        for n, (group, go) in enumerate(zip(groups, gos, strict=True))
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=120)
    if on_start:
        on_start()
    start_at = time.time() + 0.05
    for go in gos:
        go.put(start_at)
    results = []
    for _ in workers:
        results.extend(queue.get(timeout=duration + 3 * TIMEOUT_SECONDS))
    for worker in workers:
        worker.join(timeout=10)
    latencies = sorted(x for r in results for x in r["latencies"])
    statuses = Counter()
    for r in results:
        statuses.update(r["statuses"])
    started = min((r["first_start"] for r in results), default=start_at)
    ended = max((r["last_end"] for r in results), default=start_at)
    return {
        "requests": len(latencies),
        "wall": max(ended - started, 1e-9),
        "latencies": latencies,
        "statuses": dict(statuses),
        "errors": sum(r["errors"] for r in results),
        "extras": [r["extra"] for r in results],
        "samples": [s for r in results for s in r["samples"]][:5],
    }


def request_once(host: str, port: int, request: Request) -> tuple[int, bytes, float]:
    """One request on a fresh connection: status, body and seconds taken."""
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)
    try:
        began = time.perf_counter()
        conn.request(request.method, request.path, request.body, request.headers)
        response = conn.getresponse()
        payload = response.read()
        return response.status, payload, time.perf_counter() - began
    finally:
        conn.close()
