"""System checks: encryption key, stored secrets, API settings, SQLite locking, media sources,
task backend, webhook route."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db import DatabaseError
from django.db.utils import load_backend
from django.urls import NoReverseMatch, Resolver404, get_script_prefix, resolve, reverse
from django.utils.module_loading import import_string

from .exceptions import EncryptionKeyError
from .sources import CALLABLE_OPTIONS, OPTIONS, video_field_problem


@checks.register(checks.Tags.security)
def check_encryption_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """fastpix.E001: FIELD_ENCRYPTION_KEY is set and every key in it is well formed."""
    from .fields import get_crypter

    try:
        get_crypter()
    except EncryptionKeyError as exc:
        return [
            checks.Error(
                str(exc),
                hint="Set FIELD_ENCRYPTION_KEY to a Fernet key or a list of them (first encrypts).",
                id="fastpix.E001",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_stored_secrets_decrypt(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """fastpix.E002: the configured keys decrypt every stored secret (a wrong key fails here)."""
    from .fields import UndecryptableValue, get_crypter
    from .services.encryption import encrypted_models

    try:
        get_crypter()
    except EncryptionKeyError:
        return []  # E001 already says so.
    bad: list[str] = []
    try:
        for model, names in encrypted_models():
            # What operators know a row by: a token's name, a signing key's FastPix id.
            fields = {f.name for f in model._meta.fields}
            label = next((f for f in ("name", "fastpix_id") if f in fields), "pk")
            for obj in model._default_manager.only("pk", label, *names):
                if any(isinstance(getattr(obj, n), UndecryptableValue) for n in names):
                    bad.append(f"{model._meta.verbose_name} #{obj.pk} {getattr(obj, label)!r}")
    except DatabaseError:
        # No table yet (before migrate) or no database: nothing stored to check.
        return []
    if not bad:
        return []
    return [
        checks.Error(
            f"{len(bad)} stored FastPix secret(s) cannot be decrypted with FIELD_ENCRYPTION_KEY: "
            + ", ".join(bad[:10])
            + (" …" if len(bad) > 10 else ""),
            hint="FIELD_ENCRYPTION_KEY is wrong or lost the key these were encrypted with. Add "
            "that key back (a list, the new key first) and run `manage.py fastpix_rotate_keys`. "
            "Nothing has been overwritten.",
            id="fastpix.E002",
        )
    ]


@checks.register()
def check_fastpix_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """fastpix.E003: FASTPIX has only known keys; fastpix.W001: https while DEBUG is off."""
    from .conf import fastpix_settings

    try:
        fastpix_settings.validate()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="fastpix.E003")]
    messages: list[checks.CheckMessage] = []
    base_url = str(fastpix_settings.API_BASE_URL)
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        messages.append(
            checks.Error(
                f"FASTPIX['API_BASE_URL'] is not an http(s) URL: {base_url!r}.", id="fastpix.E004"
            )
        )
    elif parts.scheme != "https" and not settings.DEBUG:
        messages.append(
            checks.Warning(
                f"FASTPIX['API_BASE_URL'] is {base_url!r}, not https, while DEBUG is off: "
                "secrets would travel in the clear, and this is likely a fake server left on.",
                hint="Remove API_BASE_URL from FASTPIX to use https://api.fastpix.com/v1.",
                id="fastpix.W001",
            )
        )
    return messages


@checks.register()
def check_playback_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """fastpix.E011: playback hosts and player script are usable URLs; fastpix.W005: the token
    lifetime is outside the range it is clamped to."""
    from .conf import fastpix_settings

    try:
        fastpix_settings.validate()
    except ImproperlyConfigured:
        return []  # fastpix.E003 says why
    messages: list[checks.CheckMessage] = []
    for name in ("STREAM_BASE_URL", "IMAGE_BASE_URL"):
        value = str(getattr(fastpix_settings, name))
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            messages.append(
                checks.Error(
                    f"FASTPIX['{name}'] is not an http(s) URL: {value!r}.", id="fastpix.E011"
                )
            )
    script = str(fastpix_settings.PLAYER_SCRIPT_URL)
    parts = urlsplit(script)
    if not script or (parts.scheme and parts.scheme not in ("http", "https")) or " " in script:
        messages.append(
            checks.Error(
                f"FASTPIX['PLAYER_SCRIPT_URL'] is not a URL a page can load: {script!r}.",
                hint="An https URL, or a path such as /static/fastpix/player.js.",
                id="fastpix.E011",
            )
        )
    lifetime = fastpix_settings.PLAYBACK_TOKEN_LIFETIME
    from .services.signing_keys import MAX_TOKEN_LIFETIME, MIN_TOKEN_LIFETIME

    if (
        isinstance(lifetime, bool)
        or not isinstance(lifetime, (int, float))
        or not MIN_TOKEN_LIFETIME <= lifetime <= MAX_TOKEN_LIFETIME
    ):
        messages.append(
            checks.Warning(
                f"FASTPIX['PLAYBACK_TOKEN_LIFETIME'] is {lifetime!r}: playback tokens live "
                f"{MIN_TOKEN_LIFETIME}..{MAX_TOKEN_LIFETIME} seconds, so it is clamped.",
                id="fastpix.W005",
            )
        )
    return messages


# What SQLite needs when tasks run in worker processes: the write lock taken at BEGIN (so a
# transaction never fails upgrading a read lock) and a wait for it instead of failing at once.
SQLITE_WORKER_OPTIONS = {"transaction_mode": "IMMEDIATE", "timeout": 20}


@checks.register()
def check_sqlite_with_task_workers(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """fastpix.W002: SQLite takes its write lock at BEGIN when tasks run in other processes."""
    backend = _media_task_backend()
    if backend is None or backend.endswith("ImmediateBackend"):
        return []  # tasks run inside the request's process: no second writer to wait for
    return [
        checks.Warning(
            f"DATABASES[{alias!r}] is SQLite without OPTIONS transaction_mode='IMMEDIATE' and a "
            f"timeout, while FastPix tasks run on {backend}: a webhook holding SQLite's write "
            "lock makes a task's write fail with 'database is locked'.",
            hint=f"Set DATABASES[{alias!r}]['OPTIONS'] to include "
            f"{_sqlite_worker_options(config)!r} (keeping any other option).",
            id="fastpix.W002",
        )
        for alias, config in settings.DATABASES.items()
        if _is_sqlite(config) and not _sqlite_waits_for_write_lock(config)
    ]


def _media_task_backend() -> str | None:
    """The class path of the task backend FASTPIX["TASK_BACKEND"] names (None if none)."""
    from .conf import fastpix_settings

    try:
        alias = str(fastpix_settings.TASK_BACKEND)
    except ImproperlyConfigured:
        return None  # E003 says so
    # Django 6.x defaults TASKS to one immediate backend; on 5.2 (the backport) an unset TASKS
    # means the same, so "unset" and "immediate" are one case.
    tasks = getattr(settings, "TASKS", None) or {}
    backend = (tasks.get(alias) or {}).get("BACKEND")
    return str(backend) if backend else None


def _is_sqlite(config: dict[str, Any]) -> bool:
    # The backend's vendor, not the ENGINE string: SpatiaLite and custom wrappers are SQLite too.
    try:
        return bool(load_backend(config.get("ENGINE", "")).DatabaseWrapper.vendor == "sqlite")
    except ImproperlyConfigured:
        return False  # Django reports an unknown ENGINE itself


def _sqlite_worker_options(config: dict[str, Any]) -> dict[str, Any]:
    # A timeout already set is kept: only the missing part is asked for.
    timeout = (config.get("OPTIONS") or {}).get("timeout")
    return {**SQLITE_WORKER_OPTIONS, **({"timeout": timeout} if timeout is not None else {})}


def _sqlite_waits_for_write_lock(config: dict[str, Any]) -> bool:
    options = config.get("OPTIONS") or {}
    # EXCLUSIVE also takes the write lock at BEGIN (and keeps readers out too).
    mode = str(options.get("transaction_mode") or "").upper()
    return mode in ("IMMEDIATE", "EXCLUSIVE") and options.get("timeout") is not None


@checks.register()
def check_media_sources(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """fastpix.E005-E008: each MEDIA_SOURCES entry's model, fields and callables; every problem."""
    configured = _configured_sources()
    if configured is None:
        return []
    if not isinstance(configured, dict):
        return [
            checks.Error(
                "FASTPIX['MEDIA_SOURCES'] must be a dict: {'app_label.Model': {options}}.",
                id="fastpix.E008",
            )
        ]
    messages: list[checks.CheckMessage] = []
    for label, options in configured.items():
        messages += _source_problems(str(label), options)
    return messages


def _configured_sources() -> Any:
    from .conf import fastpix_settings

    try:
        return fastpix_settings.MEDIA_SOURCES or {}
    except ImproperlyConfigured:
        return None  # E003 says so


def _source_problems(label: str, options: Any) -> list[checks.CheckMessage]:
    where = f"FASTPIX['MEDIA_SOURCES'][{label!r}]"
    if not isinstance(options, dict):
        return [checks.Error(f"{where} must be a dict of options.", id="fastpix.E008")]
    messages: list[checks.CheckMessage] = [
        checks.Error(
            f"{where} has an unknown option {key!r}.",
            hint=f"Known options: {', '.join(sorted(OPTIONS))}.",
            id="fastpix.E008",
        )
        for key in sorted(set(options) - OPTIONS, key=str)
    ]
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        model = None
        messages.append(
            checks.Error(
                f"{where}: {label!r} is not an installed model.",
                hint="Name it 'app_label.ModelName', of an app in INSTALLED_APPS.",
                id="fastpix.E005",
            )
        )
    messages += _url_field_problems(where, model, options.get("url_field"))
    if model is not None:
        problem = video_field_problem(model, options.get("video_field"))
        if problem:
            messages.append(checks.Error(f"{where}['video_field']: {problem}", id="fastpix.E006"))
    for key in sorted(CALLABLE_OPTIONS):
        messages += _callable_option_problems(where, model, key, options.get(key))
    if options.get("on_url_change", "keep") not in ("keep", "delete"):
        messages.append(
            checks.Error(f"{where}['on_url_change'] must be 'keep' or 'delete'.", id="fastpix.E008")
        )
    return messages


def _url_field_problems(where: str, model: Any, url_field: Any) -> list[checks.CheckMessage]:
    if not url_field:
        return [checks.Error(f"{where} needs 'url_field'.", id="fastpix.E006")]
    if model is None:
        return []  # E005 already names the model
    try:
        model._meta.get_field(str(url_field))
    except FieldDoesNotExist:
        return [
            checks.Error(
                f"{where}['url_field']: {model._meta.label} has no field {url_field!r}.",
                id="fastpix.E006",
            )
        ]
    return []


def _callable_option_problems(
    where: str, model: Any, key: str, value: Any
) -> list[checks.CheckMessage]:
    """A dotted path imports to a callable; a plain word is what that option takes there."""
    at = f"{where}[{key!r}]"
    if value is None or callable(value):
        if value is None and key == "workspace":
            return [checks.Error(f"{where} needs 'workspace'.", id="fastpix.E008")]
        return []
    if not isinstance(value, str):
        return [
            checks.Error(
                f"{at} must be a string or a callable, not {type(value).__name__}.",
                id="fastpix.E008",
            )
        ]
    if "." in value:  # the same rule as sources._resolve: a dotted path names a callable
        return _import_problems(at, value)
    return _plain_value_problems(where, model, key, value)


def _import_problems(at: str, path: str) -> list[checks.CheckMessage]:
    try:
        target = import_string(path)
    except Exception as exc:  # an import may fail in any way; the site must still start
        return [
            checks.Error(
                f"{at}: {path!r} cannot be imported ({type(exc).__name__}: {exc}).",
                id="fastpix.E007",
            )
        ]
    if not callable(target):
        return [checks.Error(f"{at}: {path!r} is not callable.", id="fastpix.E007")]
    return []


def _plain_value_problems(
    where: str, model: Any, key: str, value: str
) -> list[checks.CheckMessage]:
    at = f"{where}[{key!r}]"
    if key == "workspace" and not value:
        return [checks.Error(f"{where} needs 'workspace'.", id="fastpix.E008")]
    if key == "metadata":
        return [
            checks.Error(
                f"{at} must be a callable or a dotted path to one, not {value!r}.",
                id="fastpix.E008",
            )
        ]
    if key == "access_policy" and value not in ("public", "private"):
        return [
            checks.Error(
                f"{at} must be 'public', 'private' or a callable, not {value!r}.",
                id="fastpix.E008",
            )
        ]
    if key == "title" and model is not None and not hasattr(model, value):
        return [
            checks.Error(
                f"{at}: {model._meta.label} has no field or attribute {value!r}.",
                id="fastpix.E006",
            )
        ]
    return []


@checks.register()
def check_source_workspaces(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """fastpix.W003: a workspace given as a slug in MEDIA_SOURCES exists in the database."""
    from .models import Workspace

    wanted = _workspace_slugs()
    if not wanted:
        return []
    try:
        existing = set(
            Workspace.objects.filter(slug__in=set(wanted.values())).values_list("slug", flat=True)
        )
    except DatabaseError:
        # No table yet (before migrate) or no database: nothing to compare with.
        return []
    return [
        checks.Warning(
            f"FASTPIX['MEDIA_SOURCES'][{label!r}]['workspace'] is {slug!r}, and no workspace "
            f"has that slug: {label} objects saved with a video URL get no FastPix media.",
            hint=f"Create the workspace {slug!r} (e.g. in the admin, FastPix > Workspaces), then "
            "run `manage.py fastpix_media recover` to create the media of the objects saved "
            "meanwhile.",
            id="fastpix.W003",
        )
        for label, slug in wanted.items()
        if slug not in existing
    ]


def _workspace_slugs() -> dict[str, str]:
    """Source label -> its workspace, for sources that name one by slug (not a callable)."""
    configured = _configured_sources()
    if not isinstance(configured, dict):
        return {}
    return {
        str(label): options["workspace"]
        for label, options in configured.items()
        if isinstance(options, dict)
        and isinstance(options.get("workspace"), str)
        and options["workspace"]
        and "." not in options["workspace"]
    }


# Task backends whose jobs are rows of an app's tables: the app must be installed (and migrated).
DATABASE_TASK_BACKENDS = {"django_tasks_db.": "django_tasks_db"}


@checks.register()
def check_task_backend(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """fastpix.E009: TASK_BACKEND names a TASKS alias; fastpix.E010: its app is installed."""
    from .conf import fastpix_settings

    try:
        alias = str(fastpix_settings.TASK_BACKEND)
    except ImproperlyConfigured:
        return []  # E003 says so
    tasks = getattr(settings, "TASKS", None)
    # Unset (the 5.2 backport) means one immediate "default" backend, as on Django 6.
    aliases = set(tasks) if isinstance(tasks, dict) else {"default"}
    if alias not in aliases:
        return [
            checks.Error(
                f"FASTPIX['TASK_BACKEND'] is {alias!r}, which is not an alias of TASKS "
                f"({', '.join(sorted(map(str, aliases))) or 'none'}): no media creation can be "
                "queued (media stay pending).",
                hint=f"Add {alias!r} to TASKS, or set FASTPIX['TASK_BACKEND'] to one of its "
                "aliases.",
                id="fastpix.E009",
            )
        ]
    backend = _media_task_backend() or ""
    return [
        checks.Error(
            f"FastPix tasks run on {backend} (TASKS[{alias!r}]), whose app {app!r} is not in "
            "INSTALLED_APPS: queueing a media fails (it stays pending), and `db_worker` is an "
            "unknown command.",
            hint=f"`pip install {app.replace('_', '-')}`, add {app!r} to INSTALLED_APPS, run "
            "`manage.py migrate`, then start workers with `manage.py db_worker`.",
            id="fastpix.E010",
        )
        for prefix, app in DATABASE_TASK_BACKENDS.items()
        if backend.startswith(prefix) and not apps.is_installed(app)
    ]


WEBHOOK_URL_NAME = "django_fastpix:webhook"
# A slug used to ask whether the webhook route exists at all (any slug would do).
SAMPLE_SLUG = "example"


def webhook_path(slug: str) -> str | None:
    """The path of ``slug``'s webhook URL in this site's URLconf; None if it is not routed."""
    try:
        return reverse(WEBHOOK_URL_NAME, kwargs={"workspace": slug})
    except NoReverseMatch:
        return None


def webhook_route_problem(slug: str) -> str | None:
    """Why FastPix's deliveries for ``slug`` would not reach the app's webhook view, if so."""
    path = webhook_path(slug)
    if path is None:
        return (
            f"The URL {WEBHOOK_URL_NAME!r} cannot be reversed: the site's URLconf does not "
            "include django_fastpix.urls, so every FastPix webhook delivery gets 404."
        )
    # reverse() prefixes the script name (FORCE_SCRIPT_NAME); resolve() expects the path without.
    prefix = get_script_prefix()
    local = "/" + path[len(prefix) :] if path.startswith(prefix) else path
    try:
        match = resolve(local)
    except Resolver404:
        return f"{path} does not resolve, so FastPix's deliveries there get 404."
    # By name, not by importing the view: checks stay below the edges (the doctor uses this).
    app_name, _, url_name = WEBHOOK_URL_NAME.partition(":")
    if match.url_name != url_name or match.app_names[-1:] != [app_name]:
        return (
            f"{path} reaches {match.view_name or match._func_path!r}, not django_fastpix's "
            "webhook view: an earlier URL pattern shadows it, so FastPix's deliveries never "
            "arrive."
        )
    return None


@checks.register(checks.Tags.urls)
def check_webhook_route(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """fastpix.W004: the site routes FastPix's webhooks to the app's view."""
    if not getattr(settings, "ROOT_URLCONF", None):
        return []  # Django itself reports a missing URLconf
    try:
        problem = webhook_route_problem(SAMPLE_SLUG)
    except Exception:  # a URLconf that does not import: Django's own URL checks report it
        return []
    if problem is None:
        return []
    return [
        checks.Warning(
            problem,
            hint='Add path("fastpix/", include("django_fastpix.urls")) to your urls.py (before '
            "any catch-all pattern), then paste each workspace's webhook URL "
            "(`manage.py fastpix_workspace webhook-url SLUG`) into FastPix.",
            id="fastpix.W004",
        )
    ]


# Caches that live in one process: limits kept there are not shared by the workers.
PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@checks.register()
def check_limits_store(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """fastpix.E012: LIMITS_STORE is known, LIMITS_CACHE an alias; fastpix.W006: a shared cache."""
    from .conf import fastpix_settings

    try:
        store = str(fastpix_settings.LIMITS_STORE)
        alias = str(fastpix_settings.LIMITS_CACHE)
    except ImproperlyConfigured:
        return []  # E003 says why
    if store not in ("database", "cache"):
        return [
            checks.Error(
                f"FASTPIX['LIMITS_STORE'] is {store!r}; it must be 'database' or 'cache'.",
                id="fastpix.E012",
            )
        ]
    if store != "cache":
        return []
    caches = getattr(settings, "CACHES", None) or {"default": {"BACKEND": PER_PROCESS_CACHES[0]}}
    if alias not in caches:
        return [
            checks.Error(
                f"FASTPIX['LIMITS_CACHE'] is {alias!r}, which is not an alias of CACHES.",
                id="fastpix.E012",
            )
        ]
    backend = str(caches[alias].get("BACKEND", ""))
    if backend in PER_PROCESS_CACHES:
        return [
            checks.Warning(
                f"FASTPIX['LIMITS_STORE'] is 'cache' on CACHES[{alias!r}] ({backend}), which "
                "each process keeps to itself: a 429 pause or an open circuit seen by one "
                "worker does not hold the others.",
                hint="Point FASTPIX['LIMITS_CACHE'] at a shared cache (Redis, Memcached), or "
                "use FASTPIX['LIMITS_STORE'] = 'database'.",
                id="fastpix.W006",
            )
        ]
    return []


@checks.register()
def check_webhook_processing(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """fastpix.E013: WEBHOOK_PROCESSING is 'inline' or 'queued'."""
    from .conf import fastpix_settings

    try:
        mode = fastpix_settings.WEBHOOK_PROCESSING
    except ImproperlyConfigured:
        return []  # E003 says why
    if mode in ("inline", "queued"):
        return []
    return [
        checks.Error(
            f"FASTPIX['WEBHOOK_PROCESSING'] is {mode!r}; it must be 'inline' or 'queued'.",
            hint="'queued' answers FastPix once the event is stored and applies it in a worker "
            "(the process_webhook_event task).",
            id="fastpix.E013",
        )
    ]
