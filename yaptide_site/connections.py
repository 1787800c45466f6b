"""When a kept database connection is health-checked.

CONN_HEALTH_CHECKS pings a kept connection (SELECT 1) before the first query of every request or task. One that
served a request or task less than HEALTH_CHECK_AFTER_IDLE_SECONDS ago is not pinged again: a busy process saves a
round trip a request, and a connection that sat idle longer (when a restart of the database would go unnoticed) is
still checked. Called around requests by middleware.RecentConnectionsMiddleware and around tasks by celery.py.
"""

import math
import time

from django.db import connections

HEALTH_CHECK_AFTER_IDLE_SECONDS = 1.0


def connections_skip_recent_checks() -> None:
    """At the start of a request or task: the connections used a moment ago count as checked."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and now - getattr(conn, "used_at", -math.inf) < HEALTH_CHECK_AFTER_IDLE_SECONDS:
            conn.health_check_done = True  # Django's own flag: checked in this request already


def connections_mark_used() -> None:
    """At the end of a request or task: when each connection that answered without an error was last used."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.errors_occurred:
            conn.used_at = now
