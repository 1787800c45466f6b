"""Benchmark of `manage.py import_yaptide`: simulations per second and peak memory as the source grows.

`.venv/bin/python -m bench.import_legacy` generates yaptide databases of BENCH_IMPORT_SIZES simulations
(default 2500,5000,10000; each with 2 tasks, an input, 2 estimators with five pages: two 1-D of 400 bins
and three 0-D, and logfiles on every tenth job), imports each into a freshly migrated database in a child
process and prints, per size, simulations per second and the child's peak resident memory (from wait4).
Flat memory means the peak does not grow with the source. Loopback PostgreSQL only (BENCH_PG); every
database it makes is dropped at the end.
"""

import base64
import io
import json
import os
import random
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from tests.legacy.builder import gz, schema_sql

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
SIZES = [int(n) for n in os.environ.get("BENCH_IMPORT_SIZES", "2500,5000,10000").split(",")]
BATCH_SIZE = os.environ.get("BENCH_IMPORT_BATCH", "200")
USERS = 200
SECRET_KEY = secrets.token_urlsafe(50)
FERNET_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
TASK_COLUMNS = (
    "id, simulation_id, task_id, requested_primaries, simulated_primaries, task_state, estimated_time, "
    "start_time, end_time, platform, last_update_time"
)


def _pages(rng: random.Random) -> list[tuple[int, str, int, bytes]]:
    axis = [0.05 * i for i in range(400)]
    pages = []
    for number, name in enumerate(("DOSE", "FLUENCE")):
        values = [rng.random() * 1e-3 for _ in range(400)]
        page = {
            "metadata": {"page_number": str(number), "name": name, "unit": "MeV/g"},
            "dimensions": 1,
            "data": {"name": name, "unit": "MeV/g", "values": values},
            "axis_dim1": {"name": "Position (Z)", "unit": "cm", "values": axis},
        }
        pages.append((number, name, 1, gz(page)))
    return pages


def generate(size: int, seed: int = 5) -> str:
    """A yaptide database with `size` simulations, filled with COPY; returns its name."""
    name = f"legacy_src_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    rng = random.Random(seed)
    z_pages = _pages(rng)
    slab_pages = [
        (n, f"Q{n}", 0, gz({"metadata": {"page_number": str(n)}, "dimensions": 0, "data": {"values": [rng.random()]}}))
        for n in range(3)
    ]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    with psycopg.connect(f"{PG}/{name}", autocommit=True) as conn:
        conn.execute(schema_sql("migrated"))
        conn.execute("SET search_path = public")
        with conn.cursor() as cur:
            with cur.copy('COPY "User" (id, username, auth_provider) FROM STDIN') as copy:
                for uid in range(1, USERS + 1):
                    copy.write_row((uid, f"user{uid}", "YaptideUser"))
            with cur.copy('COPY "YaptideUser" (id, password_hash) FROM STDIN') as copy:
                for uid in range(1, USERS + 1):
                    copy.write_row((uid, "pbkdf2:sha256:260000$abcdefgh$" + "0" * 64))
            input_blob = gz(
                {
                    "input_type": "FILES",
                    "number_of_all_primaries": 1000,
                    "input_files": {"beam.dat": "NSTAT 1000 0\n" * 20},
                }
            )
            log_blob = gz({"shieldhit_0001.log": "log line\n" * 200})
            ids = {"task": 0, "est": 0, "page": 0}
            sims, tasks, inputs, estimators, pages, logs = [], [], [], [], [], []
            for sid in range(1, size + 1):
                t0 = start + timedelta(minutes=sid, microseconds=sid)
                sims.append(
                    (
                        sid,
                        f"20240101-000000-{sid:032x}DIRECT",
                        1 + sid % USERS,
                        t0,
                        t0 + timedelta(minutes=3),
                        f"job {sid}",
                        "DIRECT",
                        "FILES",
                        "shieldhit",
                        "COMPLETED",
                    )
                )
                for ordinal in range(2):
                    ids["task"] += 1
                    tasks.append(
                        (
                            ids["task"],
                            sid,
                            ordinal,
                            500,
                            500,
                            "COMPLETED",
                            None,
                            t0,
                            t0 + timedelta(minutes=2),
                            "DIRECT",
                            t0 + timedelta(minutes=2),
                        )
                    )
                inputs.append((sid, sid, input_blob))
                for est_name, est_pages in (("z_profile_", z_pages), ("slab_", slab_pages)):
                    ids["est"] += 1
                    estimators.append((ids["est"], sid, est_name, est_name, gz({"file_corename": est_name})))
                    for number, page_name, dim, blob in est_pages:
                        ids["page"] += 1
                        pages.append((ids["page"], ids["est"], number, page_name, dim, blob))
                if sid % 10 == 0:
                    logs.append((sid, sid, log_blob))
                if len(sims) >= 1000 or sid == size:
                    _copy(
                        cur,
                        "Simulation",
                        "id, job_id, user_id, start_time, end_time, title, platform, input_type, sim_type, job_state",
                        sims,
                    )
                    _copy(cur, "CelerySimulation", "id, merge_id", [(s[0], f"merge-{s[0]}") for s in sims])
                    _copy(
                        cur,
                        "Task",
                        TASK_COLUMNS,
                        tasks,
                    )
                    _copy(cur, "CeleryTask", "id, celery_id", [(t[0], f"celery-{t[0]}") for t in tasks])
                    _copy(cur, "Input", "id, simulation_id, compressed_data", inputs)
                    _copy(cur, "Estimator", "id, simulation_id, name, file_name, compressed_data", estimators)
                    _copy(
                        cur, "Page", "id, estimator_id, page_number, page_name, page_dimension, compressed_data", pages
                    )
                    _copy(cur, "Logfiles", "id, simulation_id, compressed_data", logs)
                    sims, tasks, inputs, estimators, pages, logs = [], [], [], [], [], []
        conn.execute("ANALYZE")
    return name


def _copy(cur, table: str, columns: str, rows: list[tuple]) -> None:
    if rows:
        with cur.copy(f'COPY "{table}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)


def _env(database: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    # Debug off, as in production; throwaway keys for this run only.
    return env | {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": FERNET_KEY,
        "DATABASE_URL": f"{PG}/{database}",
        "LOG_LEVEL": "WARNING",
    }


def _run(args: list[str], database: str) -> tuple[float, int, float]:
    """Runs manage.py in a child; (wall seconds, peak RSS in KiB, CPU seconds of the child)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(database),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out = child.stdout.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit(f"manage.py {args[0]} failed ({child.returncode}):\n{out}")
    return time.perf_counter() - started, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def main() -> None:
    made: list[str] = []
    template = f"yaptide_bench_import_tmpl_{secrets.token_hex(4)}"
    results = []
    try:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{template}"')
        made.append(template)
        _run(["migrate", "--no-input", "-v", "0"], template)
        for size in SIZES:
            t = time.perf_counter()
            source = generate(size)
            made.append(source)
            generated = time.perf_counter() - t
            target = f"yaptide_bench_import_{secrets.token_hex(4)}"
            with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{template}"')
            made.append(target)
            report = ROOT / "var" / f"bench-import-{size}.json"
            report.parent.mkdir(exist_ok=True)
            seconds, peak_kib, cpu = _run(
                ["import_yaptide", "--source", f"{PG}/{source}", "--batch-size", BATCH_SIZE, "--report", str(report)],
                target,
            )
            counts = json.loads(report.read_text())["tables"]
            again, again_kib, _ = _run(
                ["import_yaptide", "--source", f"{PG}/{source}", "--batch-size", BATCH_SIZE], target
            )
            results.append(
                {
                    "simulations": size,
                    "pages": counts["Page"]["written"],
                    "seconds": round(seconds, 2),
                    "simulations_per_second": round(size / seconds, 1),
                    "cpu_seconds": round(cpu, 2),
                    "simulations_per_cpu_second": round(size / cpu, 1),
                    "peak_rss_mib": round(peak_kib / 1024, 1),
                    "rerun_seconds": round(again, 2),
                    "rerun_peak_rss_mib": round(again_kib / 1024, 1),
                    "generate_seconds": round(generated, 1),
                }
            )
            print(json.dumps(results[-1]), flush=True)
    finally:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
            for name in reversed(made):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    out = io.StringIO()
    out.write(f"\nimport_yaptide, batch size {BATCH_SIZE} (2 tasks, 5 pages per simulation):\n")
    out.write(
        f"{'simulations':>12} {'pages':>8} {'seconds':>8} {'sims/s':>8} {'CPU s':>8} {'sims/CPU s':>10} "
        f"{'peak MiB':>9} {'rerun s':>8}\n"
    )
    for r in results:
        out.write(
            f"{r['simulations']:>12} {r['pages']:>8} {r['seconds']:>8} {r['simulations_per_second']:>8} "
            f"{r['cpu_seconds']:>8} {r['simulations_per_cpu_second']:>10} {r['peak_rss_mib']:>9} "
            f"{r['rerun_seconds']:>8}\n"
        )
    if len(results) > 1:
        growth = results[-1]["peak_rss_mib"] - results[0]["peak_rss_mib"]
        out.write(
            f"peak memory from {results[0]['simulations']} to {results[-1]['simulations']} simulations: "
            f"{growth:+.1f} MiB\n"
        )
    print(out.getvalue())


if __name__ == "__main__":
    main()
