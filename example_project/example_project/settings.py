"""Settings of the example site, read from the environment and .env through django-environ."""

from __future__ import annotations

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env(DEBUG=(bool, True))
environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env.str("SECRET_KEY", default="example-project-insecure-key-change-me")
DEBUG = env.bool("DEBUG")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_fastpix",
    "videos",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Pages that carry playback tokens are never cached longer than the tokens live.
    "django_fastpix.middleware.PlaybackCacheMiddleware",
]
ROOT_URLCONF = "example_project.urls"
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
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Webhooks arrive on other threads while tasks write: take the write lock at BEGIN and
    # wait for it, instead of failing with "database is locked" on a lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"
# The example site's own sign-in page (editors upload videos on the lesson pages).
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "lesson-list"
LOGOUT_REDIRECT_URL = "lesson-list"

# The FastPix workspace (its slug) the lessons' videos and the browser uploads go to.
VIDEOS_WORKSPACE = env.str("FASTPIX_WORKSPACE", default="demo")

# A Fernet key, or a comma-separated list (the first encrypts, all decrypt).
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY")

FASTPIX = {
    "API_BASE_URL": env.str("FASTPIX_API_BASE_URL", default="https://api.fastpix.com/v1"),
    # Where players and thumbnails load from; the fake server prints its own.
    "STREAM_BASE_URL": env.str("FASTPIX_STREAM_BASE_URL", default="https://stream.fastpix.com"),
    "IMAGE_BASE_URL": env.str("FASTPIX_IMAGE_BASE_URL", default="https://images.fastpix.com"),
    **(
        {"PLAYER_SCRIPT_URL": env.str("FASTPIX_PLAYER_SCRIPT_URL")}
        if env.str("FASTPIX_PLAYER_SCRIPT_URL", default="")
        else {}
    ),
    # Saving a Lesson with a video URL creates a FastPix media in the "demo" workspace.
    "MEDIA_SOURCES": {
        "videos.Lesson": {
            "url_field": "video_url",
            "workspace": VIDEOS_WORKSPACE,
            "title": "title",
            # A private lesson's video gets a private playback id: played with signed tokens.
            "access_policy": "videos.fastpix_hooks.lesson_access_policy",
            # lesson.video is the lesson's Media, set when the media is made.
            "video_field": "video",
            "delete_remote_on_delete": True,
        }
    },
    # Site-specific creation behaviour (videos/fastpix_hooks.py).
    "ADAPTER": "videos.fastpix_hooks.LessonAdapter",
    # Browser uploads send the file in chunks of this many KB (a multiple of 256, >= 5120).
    "UPLOAD_CHUNK_SIZE_KB": env.int("FASTPIX_UPLOAD_CHUNK_SIZE_KB", default=16384),
}

# The Django Tasks API: in-process by default; point it at a real queue to scale out.
try:
    import django.tasks  # noqa: F401

    _IMMEDIATE = "django.tasks.backends.immediate.ImmediateBackend"
except ImportError:
    _IMMEDIATE = "django_tasks.backends.immediate.ImmediateBackend"
TASKS = {"default": {"BACKEND": env.str("TASK_BACKEND", default=_IMMEDIATE)}}
