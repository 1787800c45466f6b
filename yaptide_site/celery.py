"""The Celery application; configuration comes from Django settings prefixed CELERY_.

Importing codecs registers the `zjson` result serializer; importing heartbeat connects its worker signals.
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.conf import settings
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yaptide_site.settings")

from . import codecs, heartbeat  # noqa: E402,F401 - register the serializer, connect the worker signals
from .connections import connections_mark_used, connections_skip_recent_checks  # noqa: E402

app = Celery("yaptide_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _embedded_broker_folder(sender, **kwargs) -> None:
    """The filesystem broker needs its message folder before the first message is sent or read."""
    folder = (sender.conf.broker_transport_options or {}).get("data_folder_in")
    if settings.EMBEDDED_BROKER and folder:
        os.makedirs(folder, exist_ok=True)


@task_prerun.connect
def _before_task(task=None, **kwargs) -> None:
    """Before and after every task, the connections that CONN_MAX_AGE or an error has made obsolete are closed, the
    others kept (CELERY_DB_REUSE_MAX stops Celery from closing them all); CONN_HEALTH_CHECKS tests a kept one before
    its next query once it sat idle (yaptide_site.connections). Eager tasks run inside the caller's transaction and
    are left alone."""
    if task is not None and not task.request.is_eager:
        close_old_connections()
        connections_skip_recent_checks()


@task_postrun.connect
def _after_task(task=None, **kwargs) -> None:
    if task is not None and not task.request.is_eager:
        close_old_connections()
        connections_mark_used()
