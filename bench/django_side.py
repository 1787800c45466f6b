"""The benchmark's steps that need Django: test data through the project's services, captured SQL, references.

Run by bench/run.py as `python -m bench.django_side {setup|refs} OUT.json`, with DATABASE_URL pointing at
the benchmark database (already migrated). Never run against a database you care about: setup adds
thousands of rows.
"""

import gzip
import json
import os
import random
import secrets
import statistics
import sys
import time
from datetime import datetime

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yaptide_site.settings")
django.setup()

import orjson  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import NoReverseMatch, Resolver404, resolve  # noqa: E402

from accounts.services import user_create_local  # noqa: E402
from bench import mixed  # noqa: E402
from bench.mixed import editor_input, mixed_estimators, mixed_pages  # noqa: E402
from simulations import payloads  # noqa: E402
from simulations.choices import JobState, Platform  # noqa: E402
from simulations.execution.celery import CeleryBackend  # noqa: E402
from simulations.models import CelerySimulation, CeleryTask, Simulation  # noqa: E402
from simulations.services import (  # noqa: E402
    TaskUpdate,
    results_store,
    simulation_submit,
    task_apply_update,
)

# Marks in captured parameters that the replay replaces: the reported primaries and "now".
K_MARK = 987_654_321
P1_SIMULATIONS, P1_TASKS = 2, 8
LIST_SIMULATIONS = 10_000
LIST_SIMULATIONS_LARGE = int(os.environ.get("BENCH_LIST_LARGE", "100000"))
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
    # Finished as a merge leaves it (the services derive states from tasks; this fixture sets it directly).
    Simulation.objects.filter(pk=simulation.pk).update(job_state=JobState.COMPLETED)
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
    """`count` simulations of one user (8 in 10 COMPLETED, then FAILED, RUNNING), 7 minutes apart, with 2 tasks
    each, generated by PostgreSQL itself (generate_series) in four statements: 100,000 jobs in seconds."""
    from django.contrib.contenttypes.models import ContentType

    simulation_type = ContentType.objects.get_for_model(CelerySimulation, for_concrete_model=False).pk
    task_type = ContentType.objects.get_for_model(CeleryTask, for_concrete_model=False).pk
    state = (
        "(ARRAY['COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED','COMPLETED',"
        "'FAILED','RUNNING'])[i %% 10 + 1]"
    )
    start = "now() - (%(count)s - i) * interval '7 minutes'"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "WITH made AS (INSERT INTO simulations_simulation (polymorphic_ctype_id, job_id, user_id, start_time, "
            "end_time, title, platform, input_type, sim_type, job_state, update_key_hash, results_version) "
            f"SELECT %(ctype)s, to_char({start}, 'YYYYMMDD-HH24MISS') || '-' || md5(%(user)s || '-' || i) || 'DIRECT', "
            f"%(user)s, {start}, CASE WHEN i %% 10 = 9 THEN NULL ELSE {start} + interval '5 minutes' END, "
            f"'run ' || i, 'DIRECT', 'EDITOR', 'shieldhit', {state}, '', 0 "
            "FROM generate_series(0, %(count)s - 1) AS i RETURNING id) "
            "INSERT INTO simulations_celerysimulation (simulation_ptr_id, merge_id) SELECT id, '' FROM made",
            {"ctype": simulation_type, "user": user.pk, "count": count},
        )
        cursor.execute(
            "WITH made AS (INSERT INTO simulations_task (polymorphic_ctype_id, simulation_id, task_id, "
            "requested_primaries, simulated_primaries, task_state, estimated_time, start_time, end_time, "
            "last_update_time, platform, dispatch_count) "
            "SELECT %(ctype)s, s.id, n, 50000, CASE WHEN s.job_state = 'COMPLETED' THEN 50000 ELSE 20000 END, "
            "s.job_state, NULL, s.start_time, s.end_time, now(), 'DIRECT', 1 "
            "FROM simulations_simulation s CROSS JOIN generate_series(0, 1) AS n WHERE s.user_id = %(user)s "
            "RETURNING id) INSERT INTO simulations_celerytask (task_ptr_id, celery_id) SELECT id, '' FROM made",
            {"ctype": task_type, "user": user.pk},
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

    t = time.perf_counter()
    lister_large = _user("bench-lister-large")
    _bulk_list_simulations(lister_large["obj"], LIST_SIMULATIONS_LARGE)
    timings["list_simulations_large"] = time.perf_counter() - t

    for user in (owner, lister, lister_large):
        user.pop("obj")
    fixture = {
        "owner": owner,
        "lister": lister,
        "lister_large": lister_large,
        "list_count_large": LIST_SIMULATIONS_LARGE,
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


def _merge_result() -> list[dict]:
    """One task's result for the merge benchmark: an estimator of three 200 x 200 pages (the mixed dose map)."""
    rng = random.Random(15)
    axes = [mixed._axis("Position (X)", 200, -5, 5), mixed._axis("Position (Y)", 200, -5, 5)]
    pages = [mixed._page(n, 2, mixed._dose_map(rng, 200, 200), axes) for n in range(3)]
    return [mixed._estimator("dose_map", "MSH", pages)]


def merge_setup(out: str, ntasks: int) -> None:
    """A job of `ntasks` COMPLETED tasks waiting for its merge, each with the same 3-page result stored as a
    worker stores it (the result backend's own encoding), in bulk."""
    from django_celery_results.models import TaskResult

    from yaptide_site.celery import app

    user = _user(f"bench-merge-{ntasks}")["obj"]
    simulation, _ = _submit(user, ntasks, 1000 * ntasks)
    content_type, encoding, content = app.backend.encode_content(_merge_result())
    tasks = list(CeleryTask.objects.filter(simulation=simulation).order_by("task_id"))
    for task in tasks:
        task.celery_id = secrets.token_hex(16)
    CeleryTask.objects.bulk_update(tasks, ["celery_id"])
    CeleryTask.objects.filter(simulation=simulation).update(task_state=JobState.COMPLETED, simulated_primaries=1000)
    Simulation.objects.filter(pk=simulation.pk).update(job_state=JobState.MERGING_QUEUED)
    for start in range(0, len(tasks), 50):
        TaskResult.objects.bulk_create(
            TaskResult(
                task_id=task.celery_id,
                status="SUCCESS",
                content_type=content_type,
                content_encoding=encoding,
                result=content,
                task_name="simulations.run_task",
            )
            for task in tasks[start : start + 50]
        )
    with open(out, "w") as f:
        json.dump({"simulation": simulation.pk, "tasks": ntasks, "result_bytes": len(content)}, f)


def merge_run(out: str) -> None:
    """Runs the merge of merge_setup's job in this (fresh) process: its time, queries and peak memory growth."""
    import resource

    from simulations import tasks

    with open(out) as f:
        figures = json.load(f)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    connection.ensure_connection()
    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        merged = tasks.merge_results(figures["simulation"])
        seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    state = Simulation.objects.filter(pk=figures["simulation"]).values_list("job_state", flat=True).first()
    figures.update(
        merge_s=round(seconds, 3),
        peak_growth_mb=round((peak - baseline) / 1024, 1),
        peak_mb=round(peak / 1024, 1),
        queries=len(queries),
        estimators=merged,
        state=state,
    )
    with open(out, "w") as f:
        json.dump(figures, f)


if __name__ == "__main__":
    command, out = sys.argv[1], sys.argv[2]
    if command == "setup":
        setup(out, int(sys.argv[3]) if len(sys.argv) > 3 else 1500)
    elif command == "refs":
        refs(out)
    elif command == "merge_setup":
        merge_setup(out, int(sys.argv[3]))
    elif command == "merge_run":
        merge_run(out)
    else:
        raise SystemExit(f"unknown step {command}")
