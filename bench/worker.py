"""The Celery app of the benchmark's pipeline workers: the project's own app, with each pool process counting the
queries every task ran (as Django counts them, BEGIN and COMMIT included), its peak memory, and the merge's time
and memory. A thread of each pool process adds the counts to Redis (BENCH_COUNTS_URL) every FLUSH_SECONDS, so
the measuring costs a task no round trip. Started by bench/run.py as `celery -A bench.worker worker`."""

import collections
import os
import resource
import threading
import time

import redis
from celery.signals import task_postrun, task_prerun, worker_process_init, worker_ready
from django.db import connection

from yaptide_site.celery import app  # noqa: F401 - the app Celery loads from this module

FLUSH_SECONDS = 0.1  # bench/pipeline.py reads the counts half a second after a job ends

_counts = redis.Redis.from_url(os.environ["BENCH_COUNTS_URL"])
_merge_started: dict[str, float] = {}
_pending: collections.Counter = collections.Counter()
_merge: dict[str, float] = {}
_lock = threading.Lock()


def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _flush_forever() -> None:
    while True:
        time.sleep(FLUSH_SECONDS)
        with _lock:
            counts, merge = dict(_pending), dict(_merge)
            _pending.clear()
            _merge.clear()
        pipe = _counts.pipeline()
        for key, n in counts.items():
            pipe.incrby(key, n)
        pipe.hset("bench:peak_kb", str(os.getpid()), _peak_kb())
        if merge:
            pipe.hset("bench:merge", mapping=merge)
        pipe.execute()


@worker_ready.connect
def _ready(**kwargs) -> None:
    _counts.set("bench:ready", 1)


@worker_process_init.connect
def _start_flushing(**kwargs) -> None:
    threading.Thread(target=_flush_forever, name="bench-counts", daemon=True).start()


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
    with _lock:
        _pending[f"bench:queries:{task.name}"] += queries
        _pending[f"bench:tasks:{task.name}"] += 1
        if task.name == "simulations.merge_results" and _merge_started:
            _merge.update(
                seconds=time.perf_counter() - _merge_started["seconds"],
                peak_kb_before=_merge_started["peak_kb"],
                peak_kb_after=_peak_kb(),
            )
