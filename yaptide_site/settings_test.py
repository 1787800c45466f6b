"""Test override: fast password hashing, everything else as in production settings."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")

from .settings import *  # noqa: E402,F403

# MD5 for speed; the hashers of imported yaptide passwords too (tests/legacy log in with them).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "legacy.hashers.LegacyScryptPasswordHasher",
]
FIELD_ENCRYPTION_KEYS = ["Zm9yLXRlc3RzLW9ubHktMzItYnl0ZXMtbG9uZy1rZXk="]
# A signing key long enough for HS256 (the debug SECRET_KEY is short).
SIMPLE_JWT = {**SIMPLE_JWT, "SIGNING_KEY": "test-only-jwt-signing-key-0123456789abcdef"}  # noqa: F405
# Batch jobs in unit tests of the services are held by a backend that sends nothing anywhere.
# The Slurm tests (tests/slurm, make test-slurm) run the real backend: YAPTIDE_TEST_SLURM=1 in their workers.
if os.environ.get("YAPTIDE_TEST_SLURM") != "1":
    SIMULATION_BACKENDS = {**SIMULATION_BACKENDS, "BATCH": "tests.backends.HeldBackend"}  # noqa: F405
# Tests submit many jobs for one user; the tests of the limits set their own.
QUOTA_UNFINISHED_JOBS = 100_000
QUOTA_UNFINISHED_TASKS = 10_000_000
