"""The benchmark's steps that need Django: test data through the project's services, captured SQL, references.

Run by bench/run.py as `python -m bench.django_side {setup|refs} OUT.json`, with DATABASE_URL pointing at
the benchmark database (already migrated). Never run against a database you care about: setup adds
thousands of rows.
"""

import gzip
import json
import os
import secrets
import statistics
import sys
import time
from datetime import datetime, timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yaptide_site.settings")
django.setup()

import orjson  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import NoReverseMatch, Resolver404, resolve  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.services import user_create_local  # noqa: E402
from bench.mixed import editor_input, mixed_estimators, mixed_pages  # noqa: E402
from simulations import payloads  # noqa: E402
from simulations.choices import JobState, Platform  # noqa: E402
from simulations.execution.celery import CeleryBackend  # noqa: E402
from simulations.models import CelerySimulation, CeleryTask, Simulation  # noqa: E402
from simulations.services import (  # noqa: E402
    TaskUpdate,
    results_store,
    simulation_apply_update,
    simulation_submit,
    task_apply_update,
)
from yaptide_site.db import bulk_create_polymorphic  # noqa: E402

# Marks in captured parameters that the replay replaces: the reported primaries and "now".
K_MARK = 987_654_321
P1_SIMULATIONS, P1_TASKS = 2, 8
LIST_SIMULATIONS = 10_000
DELETE_ESTIMATORS, DELETE_PAGES_EACH = 10, 100


class _HeldBackend(CeleryBackend):
    """The benchmark runs no simulation workers: submitted jobs stay PENDING."""

    def dispatch(self, **kwargs) -> None:
        pass


settings.SIMULATION_BACKENDS = {**settings.SIMULATION_BACKENDS, Platform.DIRECT: f"{__name__}._HeldBackend"}


def _user(name: str) -> dict:
    password = secrets.token_urlsafe(18)
    user = user_create_local(username=name, password=password)
    return {"username": name, "password": password, "id": user.pk, "obj": user}


def _submit(user, ntasks: int, primaries: int) -> tuple[Simulation, str]:
    return simulation_submit(
        user=user, sim_type="dummy", input_type="EDITOR", ntasks=ntasks, input_json=editor_input(primaries)
    )


def _api_exists(path: str) -> bool:
    try:
        resolve(path)
        return True
    except (Resolver404, NoReverseMatch):
        return False


def _jsonable(value, now_types=(datetime,)):
    if isinstance(value, now_types):
        return {"$now": True}
    if value == K_MARK:
        return {"$k": True}
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _capture_task_update(simulation: Simulation, task_id: int, key: str) -> tuple[list, str]:
    """The SQL (with parameters) of one steady-state task update, as the API runs it (else the service)."""
    path = f"/api/worker/simulations/{simulation.job_id}/tasks/{task_id}/"
    body = {"task_state": "RUNNING", "simulated_primaries": 1, "estimated_time": 4242}
    statements: list = []

    def record(execute, sql, params, many, context):
        statements.append([sql, _jsonable(list(params)) if params is not None else None, many])
        return execute(sql, params, many, context)

    if _api_exists(path):
        from rest_framework.test import APIClient

        client = APIClient()
        response = client.post(path, body, format="json", HTTP_X_UPDATE_KEY=key, SERVER_NAME="127.0.0.1")
        assert response.status_code < 300, (response.status_code, response.content[:300])
        body["simulated_primaries"] = K_MARK
        with connection.execute_wrapper(record):
            response = client.post(path, body, format="json", HTTP_X_UPDATE_KEY=key, SERVER_NAME="127.0.0.1")
        assert response.status_code < 300, (response.status_code, response.content[:300])
        return statements, "api"
    task_apply_update(
        simulation=simulation, task_id=task_id, update=TaskUpdate(task_state="RUNNING", simulated_primaries=1)
    )
    with connection.execute_wrapper(record):
        update = TaskUpdate(task_state="RUNNING", simulated_primaries=K_MARK, estimated_time=4242)
        task_apply_update(simulation=simulation, task_id=task_id, update=update)
    return statements, "service"


def _delete_target(user) -> Simulation:
    """A COMPLETED simulation with DELETE_ESTIMATORS x DELETE_PAGES_EACH 1-D pages, stored by results_store."""
    simulation, key = _submit(user, 1, 1000)
    profile_page = mixed_estimators()[1]["pages"][0]
    estimators = []
    for e in range(DELETE_ESTIMATORS):
        pages = []
        for n in range(DELETE_PAGES_EACH):
            page = dict(profile_page, metadata={**profile_page["metadata"], "page_number": str(n)})
            pages.append(page)
        estimators.append({"name": f"e{e}_", "metadata": {"file_corename": f"e{e}_"}, "pages": pages})
    results_store(simulation=simulation, estimators=estimators)
    simulation_apply_update(simulation=simulation, job_state=JobState.COMPLETED)
    return simulation


def _capture_delete(simulation: Simulation, user) -> dict:
    """Deletes one 1,000-page simulation through the API view (else the service) and inspects its SQL."""
    path = f"/api/simulations/{simulation.job_id}/"
    with CaptureQueriesContext(connection) as queries:
        if _api_exists(path):
            from rest_framework.test import APIClient

            client = APIClient()
            client.force_authenticate(user)
            began = time.perf_counter()
            response = client.delete(path, SERVER_NAME="127.0.0.1")
            via, status = "api", response.status_code
        else:
            from simulations.services import simulation_delete

            began = time.perf_counter()
            simulation_delete(simulation=simulation)
            via, status = "service", 204
        seconds = time.perf_counter() - began
    sql = [q["sql"] for q in queries.captured_queries]
    page_table = "simulations_page"
    reads_pages = [s for s in sql if page_table in s and s.lstrip().upper().startswith("SELECT")]
    return {
        "via": via,
        "status": status,
        "seconds": seconds,
        "queries": len(sql),
        "sql": [s[:300] for s in sql],
        "page_selects": len(reads_pages),
        "pages_left": Simulation.objects.filter(pk=simulation.pk).exists(),
    }


def _bulk_list_simulations(user, count: int) -> None:
    """`count` finished simulations of one user with 2 tasks each, in a few bulk statements."""
    now = timezone.now()
    states = [JobState.COMPLETED] * 8 + [JobState.FAILED, JobState.RUNNING]
    batch = 2000
    for offset in range(0, count, batch):
        simulations = []
        for i in range(offset, min(offset + batch, count)):
            start = now - timedelta(minutes=7 * (count - i))
            state = states[i % len(states)]
            simulations.append(
                CelerySimulation(
                    job_id=f"{start:%Y%m%d-%H%M%S}-{secrets.token_hex(16)}{Platform.DIRECT}",
                    user=user,
                    start_time=start,
                    end_time=None if state == JobState.RUNNING else start + timedelta(minutes=5),
                    title=f"run {i}",
                    input_type="EDITOR",
                    sim_type="shieldhit",
                    job_state=state,
                )
            )
        with transaction.atomic():
            simulations = bulk_create_polymorphic(CelerySimulation, simulations)
            done = {JobState.COMPLETED}
            bulk_create_polymorphic(
                CeleryTask,
                (
                    CeleryTask(
                        simulation=simulation,
                        task_id=n,
                        requested_primaries=50_000,
                        simulated_primaries=50_000 if simulation.job_state in done else 20_000,
                        task_state=simulation.job_state,
                    )
                    for simulation in simulations
                    for n in range(2)
                ),
            )


def setup(out: str, upload_simulations: int) -> None:
    began = time.perf_counter()
    timings = {}
    owner = _user("bench-owner")
    lister = _user("bench-lister")

    p1 = []
    for _ in range(P1_SIMULATIONS):
        simulation, key = _submit(owner["obj"], P1_TASKS, P1_TASKS * 10**12)
        p1 += [{"job_id": simulation.job_id, "task_id": n, "key": key} for n in range(P1_TASKS)]
    replay, warm = [], []
    via = ""
    for _ in range(P1_SIMULATIONS):
        simulation, key = _submit(owner["obj"], P1_TASKS, P1_TASKS * 10**12)
        for n in range(P1_TASKS):
            warm.append({"job_id": simulation.job_id, "task_id": n, "key": key})
            statements, via = _capture_task_update(simulation, n, key)
            replay.append(statements)
    timings["p1_and_capture"] = time.perf_counter() - began

    t = time.perf_counter()
    uploads = []
    for _ in range(upload_simulations):
        simulation, key = _submit(owner["obj"], 1, 100_000)
        uploads.append([simulation.job_id, key])
    timings["upload_simulations"] = time.perf_counter() - t

    t = time.perf_counter()
    delete_http = _delete_target(owner["obj"])
    delete_capture = _capture_delete(_delete_target(owner["obj"]), owner["obj"])
    timings["delete_targets"] = time.perf_counter() - t

    t = time.perf_counter()
    _bulk_list_simulations(lister["obj"], LIST_SIMULATIONS)
    timings["list_simulations"] = time.perf_counter() - t

    for user in (owner, lister):
        user.pop("obj")
    fixture = {
        "owner": owner,
        "lister": lister,
        "p1_tasks": p1,
        "replay": {"via": via, "statements": replay},
        "warm_tasks": warm,
        "uploads": uploads,
        "output_names": {"2d": "dose_map", "1d": "z_profile"},
        "delete": {"job_id": delete_http.job_id, "pages": DELETE_ESTIMATORS * DELETE_PAGES_EACH},
        "delete_capture": delete_capture,
        "list_count": LIST_SIMULATIONS,
        "timings": timings,
        "seconds": time.perf_counter() - began,
    }
    with open(out, "w") as f:
        json.dump(fixture, f)


def _cpu_ms(fn, repeat: int) -> float:
    """Median CPU milliseconds of fn() over `repeat` runs."""
    runs = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        runs.append((time.process_time() - t) * 1000)
    return statistics.median(runs)


def _cpu_ms_each(fn, items: list, repeat: int) -> float:
    """Median CPU milliseconds of fn(item), per item."""
    return _cpu_ms(lambda: [fn(item) for item in items], repeat) / len(items)


def refs(out: str) -> None:
    """Codec (gzip level 9 vs the project's zstandard) and JSON (json vs orjson) on the mixed pages."""
    pages = mixed_pages()
    by_dimension: dict[int, list[bytes]] = {}
    for page in pages:
        by_dimension.setdefault(page["dimensions"], []).append(orjson.dumps(page))
    codec = {}
    for dimension, raws in sorted(by_dimension.items()):
        gz = [gzip.compress(raw, 9) for raw in raws]
        zs = [payloads.compress_json(raw) for raw in raws]
        codec[f"{dimension}d"] = {
            "pages": len(raws),
            "json_bytes": statistics.mean(map(len, raws)),
            "gzip9_bytes": statistics.mean(map(len, gz)),
            "zstd_bytes": statistics.mean(map(len, zs)),
            "gzip9_compress_ms": _cpu_ms_each(lambda r: gzip.compress(r, 9), raws, 3),
            "zstd_compress_ms": _cpu_ms_each(payloads.compress_json, raws, 5),
            "gzip_decompress_ms": _cpu_ms_each(gzip.decompress, gz, 5),
            "zstd_decompress_ms": _cpu_ms_each(payloads.decompress, zs, 5),
        }
    raws = [orjson.dumps(page) for page in pages]
    codec["all"] = {
        "json_bytes": sum(map(len, raws)),
        "gzip9_bytes": sum(len(gzip.compress(r, 9)) for r in raws),
        "zstd_bytes": sum(len(payloads.compress_json(r)) for r in raws),
        "gzip9_compress_ms": _cpu_ms(lambda: [gzip.compress(r, 9) for r in raws], 3),
        "zstd_compress_ms": _cpu_ms(lambda: [payloads.compress_json(r) for r in raws], 5),
    }
    document = {"estimators": mixed_estimators()}
    text = json.dumps(document, separators=(",", ":"))
    blob = orjson.dumps(document)
    codecs_json = {
        "bytes": len(blob),
        "json_encode_ms": _cpu_ms(lambda: json.dumps(document, separators=(",", ":")), 5),
        "orjson_encode_ms": _cpu_ms(lambda: orjson.dumps(document), 9),
        "json_decode_ms": _cpu_ms(lambda: json.loads(text), 5),
        "orjson_decode_ms": _cpu_ms(lambda: orjson.loads(blob), 9),
    }
    with open(out, "w") as f:
        json.dump({"codec": codec, "json": codecs_json, "zstd_level": payloads.settings.PAYLOAD_ZSTD_LEVEL}, f)


if __name__ == "__main__":
    command, out = sys.argv[1], sys.argv[2]
    if command == "setup":
        setup(out, int(sys.argv[3]) if len(sys.argv) > 3 else 1500)
    elif command == "refs":
        refs(out)
    else:
        raise SystemExit(f"unknown step {command}")
