"""Worker liveness on the embedded broker, which cannot answer a broadcast ping: each worker rewrites a file.

The writer starts with the worker (Celery's worker_ready signal); health.py reads the file's age.
"""

import threading
import time
from pathlib import Path

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings

# A worker rewrites its heartbeat file this often; three missed beats mean it is gone.
HEARTBEAT_SECONDS = 5
HEARTBEAT_MAX_AGE = 3 * HEARTBEAT_SECONDS

_stop = threading.Event()


def heartbeat_path() -> Path:
    return Path(settings.CELERY_BROKER_DIR) / "worker-heartbeat"


def heartbeat_age() -> float | None:
    """Seconds since a worker last wrote its heartbeat, or None if none ever did."""
    try:
        return time.time() - float(heartbeat_path().read_text())
    except (OSError, ValueError):
        return None


@worker_ready.connect
def _start(**kwargs) -> None:
    if not settings.EMBEDDED_BROKER:
        return
    path = heartbeat_path()
    path.parent.mkdir(parents=True, exist_ok=True)

    def beat() -> None:
        while not _stop.is_set():
            path.write_text(str(time.time()))
            _stop.wait(HEARTBEAT_SECONDS)

    threading.Thread(target=beat, name="yaptide-heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop_beating(**kwargs) -> None:
    _stop.set()
