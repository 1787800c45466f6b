"""One settings module, driven by environment variables (see .env.example)."""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# No secret has a default outside debug: a missing key is an error at start-up.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-debug-only-key" if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Fernet keys for Keycloak users' cert and private key; the first encrypts, all decrypt (key rotation).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[] if DEBUG else environ.Env.NOTSET)

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
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.LocalPasswordBackend"]
# Usernames are unique per auth provider, not globally; LocalPasswordBackend looks up local users only.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=VAR_DIR / "static")

SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
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
    "DEFAULT_PARSER_CLASSES": ["yaptide_site.api.ORJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["yaptide_site.api.ORJSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_THROTTLE_RATES": {"login_user": "10/min", "login_ip": "30/min"},
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

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_CREDENTIALS = True

# Largest accepted request body (a submission or a results upload), in bytes.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=50 * 1024 * 1024)

# --- Celery ---------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# Throttle counters (login attempts) shared by all server processes when Redis is there.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# An empty value (as .env.example leaves it) means "not set".
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
# The embedded broker (no Redis): no broadcast (so no revoke and no ping), a heartbeat file instead.
EMBEDDED_BROKER = CELERY_BROKER_URL.startswith("filesystem")
# The embedded broker (no Redis, `make run`): message files in this folder, shared by web, worker and beat.
CELERY_BROKER_DIR = Path(env("CELERY_BROKER_DIR", default="") or VAR_DIR / "broker")
# Hard limit of one simulation task; the soft limit a little earlier (a minute, or a tenth of a short limit)
# lets the task stop its simulator and store its logs as FAILED.
CELERY_TASK_TIME_LIMIT = env.int("SIMULATION_TIME_LIMIT_SECONDS", default=12 * 3600)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - min(60, max(CELERY_TASK_TIME_LIMIT // 10, 1))
if EMBEDDED_BROKER:
    _queue_dir = str(CELERY_BROKER_DIR / "queue")
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _queue_dir,
        "data_folder_out": _queue_dir,
        "control_folder": str(CELERY_BROKER_DIR / "control"),
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
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = timedelta(days=env.int("CELERY_RESULT_DAYS", default=7))
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TIMEZONE = TIME_ZONE
# Beat syncs CELERY_BEAT_SCHEDULE into django-celery-beat's tables; operators can change it in the admin.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "reap-stale-tasks": {
        "task": "simulations.reap_stale_tasks",
        "schedule": float(env.int("REAPER_INTERVAL_SECONDS", default=60)),
    },
}

# --- Simulations ----------------------------------------------------------------------------------
# The execution backend of each platform a job can run on (simulations.execution).
SIMULATION_BACKENDS = {"DIRECT": "simulations.execution.celery.CeleryBackend"}
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
# The built-in dummy simulator's run time (a demo looks real; tests set it low).
DUMMY_SECONDS_PER_MILLION = env.float("DUMMY_SECONDS_PER_MILLION", default=20.0)
# zstandard level for new payloads (gzip rows from the old system stay readable).
PAYLOAD_ZSTD_LEVEL = env.int("PAYLOAD_ZSTD_LEVEL", default=1)
# Real simulators: path of the executable, or empty to find shieldhit / rfluka / topas on PATH.
SHIELDHIT_PATH = env("SHIELDHIT_PATH", default="")
FLUKA_PATH = env("FLUKA_PATH", default="")
TOPAS_PATH = env("TOPAS_PATH", default="")
