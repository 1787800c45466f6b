"""The Celery application; configuration comes from Django settings prefixed CELERY_.

Also registers the `zjson` result serializer (orjson + zstandard): a task's estimators, e.g. a 2-D page of
32,000 floats, are stored in the result backend (the database) at a fraction of their JSON size.
"""

import os
import threading
import time

import orjson
import zstandard
from celery import Celery
from celery.signals import worker_ready, worker_shutdown
from kombu.serialization import register

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yaptide_site.settings")

ZJSON_CONTENT_TYPE = "application/x-yaptide-json+zstd"


def zjson_dumps(value) -> bytes:
    """orjson (numpy arrays and datetimes included) compressed with zstandard."""
    return zstandard.ZstdCompressor(level=3).compress(
        orjson.dumps(value, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
    )


def zjson_loads(blob: bytes):
    return orjson.loads(zstandard.ZstdDecompressor().decompressobj().decompress(bytes(blob)))


register("zjson", zjson_dumps, zjson_loads, content_type=ZJSON_CONTENT_TYPE, content_encoding="binary")

app = Celery("yaptide_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _embedded_broker_folder(sender, **kwargs) -> None:
    """The filesystem broker needs its message folder before the first message is sent or read."""
    folder = (sender.conf.broker_transport_options or {}).get("data_folder_in")
    if str(sender.conf.broker_url).startswith("filesystem") and folder:
        os.makedirs(folder, exist_ok=True)


_heartbeat_stop = threading.Event()


@worker_ready.connect
def _start_heartbeat(**kwargs) -> None:
    """On the embedded broker (which cannot answer a broadcast ping) a worker shows it is alive with a file."""
    from django.conf import settings

    from .health import HEARTBEAT_SECONDS, heartbeat_path

    if not settings.CELERY_BROKER_URL.startswith("filesystem"):
        return
    path = heartbeat_path()
    path.parent.mkdir(parents=True, exist_ok=True)

    def beat() -> None:
        while not _heartbeat_stop.is_set():
            path.write_text(str(time.time()))
            _heartbeat_stop.wait(HEARTBEAT_SECONDS)

    threading.Thread(target=beat, name="yaptide-heartbeat", daemon=True).start()


@worker_shutdown.connect
def _stop_heartbeat(**kwargs) -> None:
    _heartbeat_stop.set()
