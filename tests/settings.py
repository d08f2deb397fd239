"""Settings for the test suite: SQLite unless DATABASE_URL says otherwise (parsed by environ)."""

from __future__ import annotations

import os
import tempfile

import environ

try:
    import django.tasks  # noqa: F401

    IMMEDIATE_BACKEND = "django.tasks.backends.immediate.ImmediateBackend"
except ImportError:
    IMMEDIATE_BACKEND = "django_tasks.backends.immediate.ImmediateBackend"

env = environ.Env()

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
STATIC_URL = "/static/"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"  # the app must not depend on it

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_fastpix",
    "tests.testapp",
    "django_tasks_db",
    "django_rq",
    "django_tasks_rq",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Pages that minted playback tokens: Cache-Control private, no-store.
    "django_fastpix.middleware.PlaybackCacheMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
# A private directory per test run: parallel runs (tox -p) never share a file. Processes the
# tests spawn get DATABASE_URL and make none.
_SQLITE_DIR = (
    "" if "DATABASE_URL" in os.environ else tempfile.mkdtemp(prefix="django-fastpix-tests-")
)
_SQLITE_FILE = os.path.join(_SQLITE_DIR, "main.sqlite3")
# Files, never ":memory:": live-server threads would otherwise be handed one shared in-memory
# connection, which sqlite3 does not survive being used from several threads at once.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{_SQLITE_FILE}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory: worker subprocesses in the tests open the same test database.
    DATABASES["default"]["TEST"] = {"NAME": _SQLITE_FILE.replace(".sqlite3", "-test.sqlite3")}
    # Worker processes write concurrently: take the lock at BEGIN and wait for it.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}
elif env.bool("FASTPIX_TEST_PREPARED", default=False):
    # The README's PostgreSQL tuning: parameters bound by the server, statements prepared after
    # five runs on a connection. The suite runs under it too (tox -e postgres-prepared).
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}

# A fixed test key (Fernet.generate_key()); never used outside the tests.
FIELD_ENCRYPTION_KEY = "rG2Yv4mQb1f2o0GZyJ9Jd7JbX7o6p3xN3rJ8XkqkY0c="
FASTPIX: dict[str, object] = {
    "API_BASE_URL": env.str("FASTPIX_API_BASE_URL", default="https://api.fastpix.com/v1"),
    "MEDIA_SOURCES": {
        "testapp.Lesson": {
            "url_field": "video_url",
            "workspace": "tests.testapp.models.lesson_workspace",
            "title": "title",
            "metadata": "tests.testapp.models.lesson_metadata",
            "delete_remote_on_delete": True,
            "video_field": "video",
        }
    },
}
# Tests that start worker processes tune them through the environment, as FASTPIX_API_BASE_URL
# above (tests/queue/test_soak.py: short timeouts and creation backoff, the "queue" backend).
for _key, _cast in (
    ("TASK_BACKEND", env.str),
    ("CONNECT_TIMEOUT", env.float),
    ("READ_TIMEOUT", env.float),
    ("MAX_RETRIES", env.int),
    ("RETRY_BACKOFF_BASE", env.float),
    ("RETRY_BACKOFF_MAX", env.float),
    ("RETRY_AFTER_MAX", env.float),
    ("CREATION_RETRY_BASE", env.float),
    ("CREATION_RETRY_MAX", env.float),
    ("CREATION_MAX_ATTEMPTS", env.int),
    ("CREATION_LEASE_SECONDS", env.float),
    ("RECOVERY_GRACE_SECONDS", env.float),
):
    if f"FASTPIX_{_key}" in os.environ:
        FASTPIX[_key] = _cast(f"FASTPIX_{_key}")
TASKS = {
    "default": {"BACKEND": IMMEDIATE_BACKEND},
    # A real queue: rows in the database, run by `db_worker` processes (tests/queue).
    "queue": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]},
    # Redis and `rqworker --with-scheduler` processes (tests/queue). The tests give each run a
    # Redis database of its own (tests/queue/conftest.py) and pass it to workers in REDIS_URL.
    "rq": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]},
}
RQ_QUEUES = {"default": {"URL": env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")}}
POOLED_RQ_CACHE = "fastpix-rq"


def pooled_rq_caches(url: str) -> dict[str, dict[str, str]]:
    """The cache whose connection pool the pooled RQ set-up lends django-rq."""
    return {POOLED_RQ_CACHE: {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url}}


if env.bool("FASTPIX_TEST_RQ_POOLED", default=False):
    # The README's pooled RQ set-up: django-rq borrows django-redis's connection pool instead
    # of opening a Redis connection for every enqueue.
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        **pooled_rq_caches(RQ_QUEUES["default"]["URL"]),
    }
    RQ_QUEUES = {"default": {"USE_REDIS_CACHE": POOLED_RQ_CACHE}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING_CONFIG = None
