"""The Celery app of the benchmark's pipeline workers: the project's own app, with each pool process adding to
Redis (BENCH_COUNTS_URL) the queries every task ran (as Django counts them, BEGIN and COMMIT included), its
peak memory, and the merge's time and memory. Started by bench/run.py as `celery -A bench.worker worker`."""

import os
import resource
import time

import redis
from celery.signals import task_postrun, task_prerun, worker_ready
from django.db import connection

from yaptide_site.celery import app  # noqa: F401 - the app Celery loads from this module

_counts = redis.Redis.from_url(os.environ["BENCH_COUNTS_URL"])
_merge_started: dict[str, float] = {}


def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@worker_ready.connect
def _ready(**kwargs) -> None:
    _counts.set("bench:ready", 1)


@task_prerun.connect
def _before(task_id=None, task=None, **kwargs) -> None:
    connection.force_debug_cursor = True
    connection.queries_log.clear()
    if task.name == "simulations.merge_results":
        _merge_started.update(seconds=time.perf_counter(), peak_kb=_peak_kb())


@task_postrun.connect
def _after(task_id=None, task=None, **kwargs) -> None:
    queries = len(connection.queries_log)
    connection.queries_log.clear()
    pipe = _counts.pipeline()
    pipe.incrby(f"bench:queries:{task.name}", queries)
    pipe.incr(f"bench:tasks:{task.name}")
    pipe.hset("bench:peak_kb", str(os.getpid()), _peak_kb())
    if task.name == "simulations.merge_results" and _merge_started:
        pipe.hset(
            "bench:merge",
            mapping={
                "seconds": time.perf_counter() - _merge_started["seconds"],
                "peak_kb_before": _merge_started["peak_kb"],
                "peak_kb_after": _peak_kb(),
            },
        )
    pipe.execute()
