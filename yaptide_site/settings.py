"""One settings module, driven by environment variables (see .env.example)."""

import os
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

environ.Env.read_env(os.environ.get("DJANGO_ENV_FILE") or BASE_DIR / ".env", overwrite=False)
env = environ.Env()
# An empty variable means "not set", for every setting (`cp .env.example .env` leaves many empty).
env.ENVIRON = {name: value for name, value in os.environ.items() if value != ""}

DEBUG = env.bool("DJANGO_DEBUG", default=False)


def _required_secret(name: str, debug_default):
    """A secret's value; outside debug a missing one stops the process with one line, not a traceback."""
    if name in env.ENVIRON or DEBUG:
        return env.ENVIRON.get(name, debug_default)
    raise SystemExit(f"yaptide: {name} is not set; it is required when DJANGO_DEBUG is off (see .env.example)")


# No secret has a default outside debug.
SECRET_KEY = _required_secret("DJANGO_SECRET_KEY", "insecure-debug-only-key")
# The loopback names are always allowed: the container's own health check and operators on the machine use them.
LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = list(dict.fromkeys(env.list("DJANGO_ALLOWED_HOSTS", default=[]) + LOOPBACK_HOSTS))
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "yaptide_site.api.csrf_failure"

# Fernet keys for Keycloak users' cert and private key; the first encrypts, all decrypt (key rotation).
FIELD_ENCRYPTION_KEYS = [key for key in _required_secret("FIELD_ENCRYPTION_KEYS", "").split(",") if key.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "polymorphic",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "django_celery_beat",
    "accounts",
    "clusters",
    "simulations",
    "yaptide_compat",
    "legacy",
]

MIDDLEWARE = [
    "yaptide_site.middleware.RequestIdMiddleware",
    "yaptide_site.middleware.RecentConnectionsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "yaptide_site.middleware.SecurityHeadersMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "yaptide_site.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "yaptide_site.urls"
WSGI_APPLICATION = "yaptide_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'yaptide.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the worker share the embedded database; IMMEDIATE
    # transactions take the write lock up front, so a read-then-write waits instead of failing "locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "DATABASE_PREPARED_STATEMENTS", default=True
):
    # Parameters bound by the server, and psycopg prepares a statement on its 5th use on a connection, so
    # PostgreSQL parses and plans a task update or a list query once per connection, not on every request.
    # Set DATABASE_PREPARED_STATEMENTS=0 behind a pooler in transaction mode (PgBouncer without
    # max_prepared_statements), which cannot keep a connection's prepared statements.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"server_side_binding": True, "prepare_threshold": 5})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.LocalPasswordBackend"]
# Usernames are unique per auth provider, not globally; LocalPasswordBackend looks up local users only.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
# Django's defaults, with a scrypt hasher that verifies imported yaptide (werkzeug) scrypt hashes (legacy app).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "legacy.hashers.LegacyScryptPasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.PasswordVarietyValidator"},
    {"NAME": "accounts.validators.ServiceNameValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["yaptide_site.formats"]  # times with seconds and the time zone

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=VAR_DIR / "static")
# WhiteNoise serves STATIC_ROOT in production: compressed copies and content-hashed names (cached for a year).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# In debug WhiteNoise finds files in the apps (no collectstatic needed), as runserver does.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = DEBUG

# --- HTTPS ----------------------------------------------------------------------------------------
# PUBLIC_SCHEME says how users reach the site. "https": behind a TLS proxy that sets X-Forwarded-Proto
# (Secure cookies, HSTS, plain http redirected to https). "http": plain http on a private network (cookies
# without Secure, which browsers would drop over http; no HSTS, no redirect).
PUBLIC_SCHEME = env("PUBLIC_SCHEME", default="http" if DEBUG else "https").lower()
if PUBLIC_SCHEME not in ("http", "https"):
    raise SystemExit(f"yaptide: PUBLIC_SCHEME must be https or http, not {PUBLIC_SCHEME!r}")
HTTPS = PUBLIC_SCHEME == "https"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=not DEBUG)
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # the container's own health check speaks plain http
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
    # Preloading is the operator's choice (DJANGO_HSTS_PRELOAD=1): it cannot be undone quickly.
    SILENCED_SYSTEM_CHECKS += ["security.W021"]
else:
    # Plain http is a deliberate choice on a private network: the deploy checks for HTTPS do not apply.
    SILENCED_SYSTEM_CHECKS += ["security.W004", "security.W008", "security.W012", "security.W016"]
# A Content-Security-Policy for every response: nothing from other sites. Inline styles stay allowed
# (the admin's widgets and Redoc set style attributes); blob: workers are Redoc's.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "yaptide_site.middleware.RequestIdLogFilter"},
        # The access log (gunicorn's, runserver's) already has one line per 4xx; django.request keeps 5xx.
        "server_errors_only": {"()": "yaptide_site.middleware.ServerErrorsOnlyFilter"},
    },
    "formatters": {
        "default": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": "default"},
        "null": {"class": "logging.NullHandler"},
    },
    "loggers": {
        "django.request": {"filters": ["server_errors_only"]},
        # A request for a host not in DJANGO_ALLOWED_HOSTS is a 400 with its access line; no second line.
        "django.security.DisallowedHost": {"handlers": ["null"], "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.CookieOrHeaderJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "yaptide_site.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": ["yaptide_site.parsers.ORJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "yaptide_site.parsers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # login_user counts wrong passwords per (username, client address); the others count requests per address.
    "DEFAULT_THROTTLE_RATES": {
        "login_user": env("THROTTLE_LOGIN_FAILURES", default="10/min"),
        "login_ip": env("THROTTLE_LOGIN", default="30/min"),
        "register": env("THROTTLE_REGISTER", default="20/hour"),
        "refresh": env("THROTTLE_REFRESH", default="60/min"),
        "keycloak_login": env("THROTTLE_KEYCLOAK_LOGIN", default="30/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "yaptide API",
    "DESCRIPTION": "Simulation jobs, results and the worker channel of yaptide.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"JobStateEnum": "simulations.choices.JobState"},
}

ACCESS_TOKEN_LIFETIME = timedelta(minutes=env.int("ACCESS_TOKEN_MINUTES", default=10))
REFRESH_TOKEN_LIFETIME = timedelta(hours=env.int("REFRESH_TOKEN_HOURS", default=24))
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": ACCESS_TOKEN_LIFETIME,
    "REFRESH_TOKEN_LIFETIME": REFRESH_TOKEN_LIFETIME,
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "SIGNING_KEY": env("JWT_SIGNING_KEY", default=SECRET_KEY),
    "ALGORITHM": "HS256",
}
ALLOW_REGISTRATION = env.bool("ALLOW_REGISTRATION", default=True)

KEYCLOAK_JWKS_URL = env("KEYCLOAK_JWKS_URL", default="")
KEYCLOAK_ISSUER = env("KEYCLOAK_ISSUER", default="")
KEYCLOAK_AUDIENCE = env("KEYCLOAK_AUDIENCE", default="yaptide")
KEYCLOAK_JWKS_CACHE_SECONDS = env.int("KEYCLOAK_JWKS_CACHE_SECONDS", default=300)
# A key fetch waits at most this long; after a failure, logins answer 503 at once for KEYCLOAK_JWKS_RETRY_SECONDS.
KEYCLOAK_JWKS_TIMEOUT_SECONDS = env.float("KEYCLOAK_JWKS_TIMEOUT_SECONDS", default=2.0)
KEYCLOAK_JWKS_RETRY_SECONDS = env.float("KEYCLOAK_JWKS_RETRY_SECONDS", default=30.0)

# Addresses (or networks) of reverse proxies whose X-Forwarded-For names the client; others' is ignored.
TRUSTED_PROXIES = [proxy for proxy in env.list("TRUSTED_PROXIES", default=[]) if proxy]

# The old yaptide API for its browser UI (yaptide_compat): where its routes live (no slashes; empty = the site
# root, where the UI expects them) and its cookies' flags. Secure cookies are dropped over plain http, except
# on localhost; SameSite=Lax needs the UI and the backend on one site (e.g. ui.example.org, api.example.org).
YAPTIDE_COMPAT_PREFIX = env("YAPTIDE_COMPAT_PREFIX", default="").strip("/")
YAPTIDE_COMPAT_COOKIE_SECURE = env.bool("YAPTIDE_COMPAT_COOKIE_SECURE", default=not DEBUG)
YAPTIDE_COMPAT_COOKIE_SAMESITE = env("YAPTIDE_COMPAT_COOKIE_SAMESITE", default="Lax")

# PLGrid's SSH certificate service, asked at each Keycloak login with the same bearer token: {cert, private}.
CERT_AUTH_URL = env("CERT_AUTH_URL", default="")
CERT_AUTH_TIMEOUT_SECONDS = env.float("CERT_AUTH_TIMEOUT_SECONDS", default=10)

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = True

# Largest accepted request body (a submission or a results upload), in bytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=50 * 1024 * 1024)

# --- Celery ---------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# Throttle counters (login attempts) shared by all server processes when Redis is there.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # A Redis that is down or hangs costs a request half a second, not a worker (throttles fall back).
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# An empty value (as .env.example leaves it) means "not set".
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
# The embedded broker (no Redis): no broadcast (so no revoke and no ping), a heartbeat file instead.
EMBEDDED_BROKER = CELERY_BROKER_URL.startswith("filesystem")
# The embedded broker (no Redis, `make run`): message files in this folder, shared by web, worker and beat.
CELERY_BROKER_DIR = Path(env("CELERY_BROKER_DIR", default="") or VAR_DIR / "broker")
# Hard limit of one simulation task; the soft limit a little earlier (a minute, or a tenth of a short limit but
# at least 5 s, or half of a tiny one) lets the task stop its simulator and store its logs as FAILED.
CELERY_TASK_TIME_LIMIT = env.int("SIMULATION_TIME_LIMIT_SECONDS", default=12 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - min(
    60, max(CELERY_TASK_TIME_LIMIT // 10, min(5, CELERY_TASK_TIME_LIMIT // 2))
)
if EMBEDDED_BROKER:
    _queue_dir = str(CELERY_BROKER_DIR / "queue")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _queue_dir,
        "data_folder_out": _queue_dir,
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        # kombu looks for new message files this often (default 1 s, which held a worker to one task per
        # second per process); listing a small folder 20 times a second costs next to nothing.
        "polling_interval": 0.05,
    }
else:
    # Redis hands an unacknowledged message to another worker after visibility_timeout: it must exceed the
    # longest task, or a long simulation would be started a second time while the first still runs.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 3600}
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", default="") or "yaptide"
# A message is acknowledged after its task ends, and requeued when the worker process running it dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# Task results (a task's estimators) are orjson + zstandard (yaptide_site/celery.py), stored in the database.
CELERY_RESULT_SERIALIZER = "zjson"
CELERY_RESULT_ACCEPT_CONTENT = ["json", "zjson"]
# django-celery-results' tables, written in one upsert a result (yaptide_site/result_backend.py).
CELERY_RESULT_BACKEND = "yaptide_site.result_backend:ResultBackend"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = timedelta(days=env.int("CELERY_RESULT_DAYS", default=7))
# No STARTED row in the result backend: the task row says RUNNING (2 queries a task saved).
CELERY_TASK_TRACK_STARTED = False
# No task events unless a monitor asks: Flower switches them on in the workers while it runs (enable_events).
# Sent always, they were 11% of a short task's worker CPU (bench: pipeline).
CELERY_WORKER_SEND_TASK_EVENTS = False
# Celery's Django fixup closes the database connection before and after every task unless this is set; then
# yaptide_site/celery.py closes only the ones CONN_MAX_AGE or an error has made obsolete, as Django does
# between requests. A new connection per task was 14% of a short task's worker CPU.
CELERY_DB_REUSE_MAX = 10**9
CELERY_TIMEZONE = TIME_ZONE
# Beat syncs CELERY_BEAT_SCHEDULE into django-celery-beat's tables; operators can change it in the admin.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Celery's own daily clean-up of expired results stores no result row of its own either.
CELERY_TASK_ANNOTATIONS = {"celery.backend_cleanup": {"ignore_result": True}}
CELERY_BEAT_SCHEDULE = {
    "reap-stale-tasks": {
        "task": "simulations.reap_stale_tasks",
        "schedule": float(env.int("REAPER_INTERVAL_SECONDS", default=60)),
    },
    # Asks whether a round is due per (cluster, user); each cluster's poll_seconds (>= 10 s) sets the pace.
    "slurm-reconcile": {
        "task": "simulations.slurm_reconcile_all",
        "schedule": float(env.int("SLURM_RECONCILE_TICK_SECONDS", default=5)),
    },
}
# --- Slurm batch jobs -----------------------------------------------------------------------------------
# Job folders go to <cluster scratch>/<SLURM_JOB_FOLDER>/<job_id>.
SLURM_JOB_FOLDER = env("SLURM_JOB_FOLDER", default="yaptide")
# An unreachable cluster is retried after SLURM_RETRY_SECONDS, doubling up to SLURM_MAX_BACKOFF_SECONDS.
SLURM_RETRY_SECONDS = env.int("SLURM_RETRY_SECONDS", default=10)
SLURM_MAX_BACKOFF_SECONDS = env.int("SLURM_MAX_BACKOFF_SECONDS", default=600)
SLURM_SUBMIT_RETRIES = env.int("SLURM_SUBMIT_RETRIES", default=8)

# GET /health/ pings the Celery workers (1 s) at most once per this many seconds per web process.
HEALTH_WORKER_CHECK_SECONDS = env.float("HEALTH_WORKER_CHECK_SECONDS", default=10.0)

# --- Simulations ----------------------------------------------------------------------------------
# The execution backend of each platform a job can run on (simulations.execution).
SIMULATION_BACKENDS = {
    "DIRECT": "simulations.execution.celery.CeleryBackend",
    "BATCH": "simulations.execution.slurm.SlurmBackend",
}
# Tasks that sent no update for this long are marked FAILED by the periodic reaper.
TASK_STALE_SECONDS = env.int("TASK_STALE_SECONDS", default=600)
# A running task writes an update (progress or heartbeat) at least this often...
TASK_HEARTBEAT_SECONDS = env.int("TASK_HEARTBEAT_SECONDS", default=2)
# ...so a redelivered task whose RUNNING row is older than this was lost with its worker and may run again,
# at most TASK_MAX_RERUNS times; a younger one is still running elsewhere and is not started twice.
TASK_LEASE_SECONDS = env.int("TASK_LEASE_SECONDS", default=30)
TASK_MAX_RERUNS = env.int("TASK_MAX_RERUNS", default=2)
# A PENDING task not heard of for this long, whose message the broker no longer holds, is sent again (at most
# TASK_MAX_RERUNS times): a wiped Redis or a message taken by a worker that failed before its claim.
TASK_LOST_SECONDS = env.int("TASK_LOST_SECONDS", default=120)
# Per-user quotas (staff raise a user's own in the admin): unfinished jobs, their tasks, stored megabytes.
QUOTA_UNFINISHED_JOBS = env.int("QUOTA_UNFINISHED_JOBS", default=20)
QUOTA_UNFINISHED_TASKS = env.int("QUOTA_UNFINISHED_TASKS", default=2000)
QUOTA_STORED_MEGABYTES = env.int("QUOTA_STORED_MEGABYTES", default=5 * 1024)
# The built-in dummy simulator's run time (a demo looks real; tests set it low).
DUMMY_SECONDS_PER_MILLION = env.float("DUMMY_SECONDS_PER_MILLION", default=20.0)
# Its bounds: a task runs at most this long, and all its pages together hold at most this many bins.
DUMMY_MAX_SECONDS = env.float("DUMMY_MAX_SECONDS", default=600.0)
DUMMY_MAX_BINS = env.int("DUMMY_MAX_BINS", default=1_000_000)
# A whole job's results above this many stored bytes are streamed page by page, not built in memory...
RESULTS_STREAM_ABOVE_BYTES = env.int("RESULTS_STREAM_ABOVE_BYTES", default=4 * 1024 * 1024)
# ...and one job stores at most this many megabytes of (compressed) results; an upload past it is a 413.
MAX_JOB_RESULTS_MEGABYTES = env.int("MAX_JOB_RESULTS_MEGABYTES", default=1024)
# zstandard level for new payloads (gzip rows from the old system stay readable).
PAYLOAD_ZSTD_LEVEL = env.int("PAYLOAD_ZSTD_LEVEL", default=1)
# Real simulators: path of the executable, or empty to find shieldhit / rfluka / topas on PATH.
SHIELDHIT_PATH = env("SHIELDHIT_PATH", default="")
FLUKA_PATH = env("FLUKA_PATH", default="")
TOPAS_PATH = env("TOPAS_PATH", default="")
