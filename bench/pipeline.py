"""The pipeline phase of `make bench` (issue 15): dummy jobs of 1, 16, 100 and 1,000 short tasks run by real
Celery workers (2 pool processes, bench/worker.py) on the benchmark's PostgreSQL and Redis, submitted over
HTTP to the running server; and the merge of 1,000 tasks with three 200 x 200 pages each, in a fresh process.

Every figure carries the machine references measured next to it (calibration(): a fixed CPU loop and the
1-minute load average), so a slower or busier machine is told apart from a regression.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import redis

from bench.load import Request, request_once
from bench.mixed import cylinder_project

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOST = "127.0.0.1"
TASK_COUNTS = (1, 16, 100, 1000)
TASK_SECONDS = float(os.environ.get("BENCH_TASK_SECONDS", "0.05"))  # the dummy run time of every task
CONCURRENCY = 2
MERGE_TASKS = 1000
COUNT_KEYS = ("bench:ready", "bench:peak_kb", "bench:merge")
WARM_UP_JOBS = 4  # 4-task jobs before the measured ones, so that no figure holds a process's first request
POLL_SECONDS = 0.005  # a job's end is seen within this (one indexed SELECT a poll)


def calibration() -> dict:
    """The machine's speed now: the best of 3 runs of a fixed pure-Python loop (ms), and the load average."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        total = 0
        for i in range(300_000):
            total += i * i % 7
        best = min(best, time.perf_counter() - began)
    return {"calib_ms": round(best * 1000, 2), "load1": round(os.getloadavg()[0], 2)}


def commit_latency(database_url: str, commits: int = 40) -> dict:
    """The database's latency of one durable commit (a one-row UPDATE, then COMMIT), median of `commits`: a
    task's life commits twice (the claim; the result with the completion), so on a disk that is slow to flush
    this bounds the overhead per task."""
    times = []
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (id int PRIMARY KEY, n bigint)")
        conn.execute("INSERT INTO bench_commit_probe VALUES (1, 0) ON CONFLICT DO NOTHING")
        conn.commit()
        for _ in range(commits):
            began = time.perf_counter()
            conn.execute("UPDATE bench_commit_probe SET n = n + 1 WHERE id = 1")
            conn.commit()
            times.append(time.perf_counter() - began)
        conn.execute("DROP TABLE bench_commit_probe")
        conn.commit()
    times.sort()
    return {"commit_ms": round(times[len(times) // 2] * 1000, 2)}


class Workers:
    """One Celery worker with CONCURRENCY prefork processes, counting into Redis; stopped with SIGTERM."""

    def __init__(self, env: dict, redis_url: str, log_path: Path):
        self.env = {**env, "BENCH_COUNTS_URL": redis_url}
        self.counts = redis.Redis.from_url(redis_url)
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def reset(self, keep_ready: bool = False) -> None:
        keys = [*self.counts.scan_iter("bench:queries:*"), *self.counts.scan_iter("bench:tasks:*")]
        keys += [key for key in COUNT_KEYS if not (keep_ready and key == "bench:ready")]
        self.counts.delete(*keys)

    def purge_queue(self) -> None:
        """Drops messages left in the queue (kombu keeps one list per priority step, named after the queue)."""
        queue = os.environ.get("CELERY_QUEUE", "yaptide")
        keys = [key for key in self.counts.scan_iter(f"{queue}*") if self.counts.type(key) == b"list"]
        if keys:
            self.counts.delete(*keys)

    def start(self) -> None:
        self.reset()
        args = [
            str(Path(PYTHON).parent / "celery"),
            "-A",
            "bench.worker",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(CONCURRENCY),
            "--queues",
            os.environ.get("CELERY_QUEUE", "yaptide"),
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"bench-{os.getpid()}@%h",
        ]
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=self.log_path.open("a"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while not self.counts.get("bench:ready"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start; see {self.log_path}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def figures(self) -> dict:
        queries = {
            k.decode().rsplit(":", 1)[1]: int(self.counts.get(k)) for k in self.counts.scan_iter("bench:queries:*")
        }
        tasks = {k.decode().rsplit(":", 1)[1]: int(self.counts.get(k)) for k in self.counts.scan_iter("bench:tasks:*")}
        peaks = [int(v) for v in self.counts.hvals("bench:peak_kb")]
        merge = {k.decode(): float(v) for k, v in self.counts.hgetall("bench:merge").items()}
        return {"queries": queries, "tasks": tasks, "peak_kb": max(peaks) if peaks else 0, "merge": merge}


def run_job(port: int, token: str, database_url: str, ntasks: int, timeout: float) -> dict:
    """Submits a dummy job of `ntasks` tasks over HTTP and polls the database until it is COMPLETED."""
    body = {
        "sim_type": "dummy",
        "ntasks": ntasks,
        "input_type": "editor",
        "input_json": cylinder_project(1000 * ntasks, seconds=TASK_SECONDS),
    }
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    began = time.perf_counter()
    status, payload, _ = request_once(
        HOST, port, Request("POST", "/api/simulations/", json.dumps(body).encode(), headers)
    )
    if status != 201:
        raise RuntimeError(f"submit of {ntasks} tasks answered {status}: {payload[:300]!r}")
    job_id = json.loads(payload)["job_id"]
    state = None
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.perf_counter() - began < timeout:
            state = conn.execute("SELECT job_state FROM simulations_simulation WHERE job_id = %s", [job_id]).fetchone()[
                0
            ]
            if state in ("COMPLETED", "FAILED", "CANCELED"):
                break
            time.sleep(POLL_SECONDS)
    return {"job_id": job_id, "state": state, "wall_s": time.perf_counter() - began}


def pipeline_phase(
    port: int, token: str, env: dict, database_url: str, redis_url: str, log, results: Path, ticks
) -> list[dict]:
    """One worker for all task counts, warmed by WARM_UP_JOBS jobs; per job: wall time, overhead, queries, memory, and
    the CPU of the worker processes per task (`ticks(pid)`: CPU ticks of a process and its children)."""
    clk = os.sysconf("SC_CLK_TCK")

    def cpu_ms(before: dict, after: dict) -> float:
        return sum(t - before.get(pid, 0) for pid, t in after.items()) * 1000 / clk

    rows = []
    workers = Workers(env, redis_url, results / "pipeline-worker.log")
    workers.purge_queue()  # nothing else may run on these workers
    workers.start()
    try:
        for _ in range(WARM_UP_JOBS):  # every gunicorn worker and pool process has submitted, run and merged
            run_job(port, token, database_url, 4, timeout=60)
        time.sleep(0.5)  # the warm-up's counts reach Redis (bench/worker.py) before they are reset
        for ntasks in TASK_COUNTS:
            workers.reset(keep_ready=True)
            ideal = ntasks * TASK_SECONDS / CONCURRENCY
            worker0 = ticks(workers.process.pid)
            job = run_job(port, token, database_url, ntasks, timeout=max(60.0, 8 * ideal + 30))
            time.sleep(0.5)  # the merge's postrun signal lands just after the job is COMPLETED
            worker_ms = cpu_ms(worker0, ticks(workers.process.pid))
            row = _pipeline_row(ntasks, ideal, job, workers.figures(), log)
            row["worker_cpu_ms_per_task"] = round(worker_ms / ntasks, 2)
            row.update(commit_latency(database_url))
            log(
                f"    worker CPU per task: {row['worker_cpu_ms_per_task']} ms; commit latency after it: "
                f"{row['commit_ms']} ms"
            )
            rows.append(row)
    finally:
        workers.stop()
    return rows


def _pipeline_row(ntasks: int, ideal: float, job: dict, counted: dict, log) -> dict:
    run_queries = counted["queries"].get("simulations.run_task", 0)
    run_tasks = counted["tasks"].get("simulations.run_task", 0)
    all_queries = sum(counted["queries"].values())
    row = {
        "phase": f"pipeline, {ntasks:,} tasks of {TASK_SECONDS:g} s",
        "tasks": ntasks,
        "state": job["state"],
        "wall_s": round(job["wall_s"], 3),
        "ideal_s": round(ideal, 3),
        "overhead_ms_per_task": round((job["wall_s"] - ideal) * 1000 / ntasks, 2),
        "queries_per_task": round(run_queries / run_tasks, 2) if run_tasks else float("nan"),
        "queries_per_task_with_merge": round(all_queries / ntasks, 2),
        "counted": counted,
        "worker_peak_mb": round(counted["peak_kb"] / 1024, 1),
        "merge_s": round(counted["merge"].get("seconds", float("nan")), 3),
        **calibration(),
    }
    log(
        f"{row['phase']:<34} {row['state']} in {row['wall_s']:.2f} s (ideal {ideal:.2f} s): overhead "
        f"{row['overhead_ms_per_task']:.1f} ms/task, {row['queries_per_task']} queries/task "
        f"({row['queries_per_task_with_merge']} with the merge), worker peak {row['worker_peak_mb']} MB, "
        f"merge {row['merge_s']} s; calib {row['calib_ms']} ms, load {row['load1']}"
    )
    return row


def merge_phase(env: dict, log, results: Path) -> dict:
    """The merge of 1 and of MERGE_TASKS tasks with three 200 x 200 pages each, each in a fresh process."""
    out = {}
    for ntasks in (1, MERGE_TASKS):
        path = results / f"merge-{ntasks}.json"
        began = time.perf_counter()
        subprocess.run(
            [PYTHON, "-m", "bench.django_side", "merge_setup", str(path), str(ntasks)],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=600,
        )
        setup_s = time.perf_counter() - began
        subprocess.run(
            [PYTHON, "-m", "bench.django_side", "merge_run", str(path)], cwd=ROOT, env=env, check=True, timeout=600
        )
        figures = json.loads(path.read_text())
        path.unlink()
        figures["setup_s"] = round(setup_s, 1)
        figures.update(calibration())
        log(
            f"merge of {ntasks:,} tasks x 3 pages 200 x 200: {figures['merge_s']:.2f} s, peak memory growth "
            f"{figures['peak_growth_mb']:.1f} MB ({figures['queries']} queries); calib {figures['calib_ms']} ms, "
            f"load {figures['load1']}"
        )
        out[str(ntasks)] = figures
    return out
