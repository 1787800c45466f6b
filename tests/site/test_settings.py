"""Settings from a copied .env.example: empty values mean unset; a missing secret is one line, not a traceback."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import User

ROOT = Path(__file__).resolve().parent.parent.parent


def manage(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_"))}
    environment.update(DJANGO_ENV_FILE=str(tmp_path / ".env"), **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def test_copied_env_example_runs_in_debug_with_every_empty_value_as_its_default(tmp_path):
    result = manage(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.STATIC_ROOT, "
        "s.SIMPLE_JWT['SIGNING_KEY'] == s.SECRET_KEY, s.CELERY_BROKER_URL, s.CELERY_TASK_DEFAULT_QUEUE)",
        DJANGO_DEBUG="1",
    )

    assert result.returncode == 0, result.stderr
    engine, static_root, jwt_key_is_secret_key, broker, queue = result.stdout.splitlines()[-1].split()
    assert engine == "django.db.backends.sqlite3" and static_root == str(ROOT / "var" / "static")
    assert jwt_key_is_secret_key == "True" and broker == "filesystem://" and queue == "yaptide"


def test_a_missing_secret_outside_debug_is_one_line(tmp_path):
    result = manage(tmp_path, "check")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "yaptide: DJANGO_SECRET_KEY is not set; it is required when DJANGO_DEBUG is off (see .env.example)"
    ]


def test_deploy_check_is_clean_behind_a_tls_proxy_and_on_plain_http(tmp_path):
    secrets = {"DJANGO_SECRET_KEY": "x" * 60 + "-not-a-real-secret-key", "FIELD_ENCRYPTION_KEYS": "A" * 43 + "="}
    for scheme in ("https", "http"):
        result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", PUBLIC_SCHEME=scheme, **secrets)
        assert result.returncode == 0 and "no issues" in result.stdout, (scheme, result.stderr)


@pytest.mark.integration
def test_a_repeated_statement_is_prepared_once_per_postgresql_connection(db):
    assert connection.vendor == "postgresql"
    for _ in range(6):  # psycopg prepares a statement on its 5th use
        User.objects.filter(username="nobody").exists()

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]

    assert any("accounts_user" in statement and "username" in statement for statement in prepared), prepared


def test_prepared_statements_can_be_switched_off_for_a_pooler_in_transaction_mode(tmp_path):
    show = "from django.conf import settings as s; print(sorted(s.DATABASES['default'].get('OPTIONS', {})))"
    url = "postgres://postgres@127.0.0.1:5432/yaptide"

    on = manage(tmp_path, "shell", "-c", show, DJANGO_DEBUG="1", DATABASE_URL=url)
    off = manage(tmp_path, "shell", "-c", show, DJANGO_DEBUG="1", DATABASE_URL=url, DATABASE_PREPARED_STATEMENTS="0")

    assert on.returncode == 0 and off.returncode == 0, (on.stderr, off.stderr)
    assert on.stdout.splitlines()[-1] == "['prepare_threshold', 'server_side_binding']"
    assert off.stdout.splitlines()[-1] == "[]"
