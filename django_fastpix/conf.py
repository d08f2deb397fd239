"""The app's settings: one ``FASTPIX`` dict, read on every access, defaults here only."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    # Where the API lives; tests and local development point it at the fake server.
    "API_BASE_URL": "https://api.fastpix.com/v1",
    # Seconds to open a connection, and to wait for each response.
    "CONNECT_TIMEOUT": 5.0,
    "READ_TIMEOUT": 30.0,
    # Retries after the first attempt, on 408/429/5xx and connection errors.
    "MAX_RETRIES": 3,
    # Exponential backoff: BASE * 2**attempt seconds with full jitter, capped at MAX.
    "RETRY_BACKOFF_BASE": 0.25,
    "RETRY_BACKOFF_MAX": 8.0,
    # A Retry-After longer than this is not waited for: the error is raised instead.
    "RETRY_AFTER_MAX": 30.0,
    # How often (seconds) last_used_at is written back; calls in between write nothing.
    "LAST_USED_WRITE_INTERVAL": 60.0,
    # Key for the token-id digest; None derives one from SECRET_KEY.
    "TOKEN_DIGEST_KEY": None,
    # The User-Agent header of every request; None: "django-fastpix/<version> …".
    "USER_AGENT": None,
    # Site models whose saves create FastPix media: {"app.Model": {...}}, see sources.py.
    "MEDIA_SOURCES": {},
    # Metadata key that carries the local reference UUID to FastPix and back.
    "REFERENCE_METADATA_KEY": "django_fastpix_ref",
    # Pages of the newest media searched for a reference before re-creating after a failure.
    "RECONCILE_PAGES": 4,
    # How long one worker owns a media's creation; longer than a create with all its retries.
    "CREATION_LEASE_SECONDS": 900,
    # A creation that failed for a transient reason (FastPix 5xx/429/network, a database
    # error) is tried again after BASE * 2**(attempt-1) seconds, capped at MAX, with jitter;
    # after MAX_ATTEMPTS calls to FastPix the media is marked failed with the last reason.
    "CREATION_RETRY_BASE": 15.0,
    "CREATION_RETRY_MAX": 1800.0,
    "CREATION_MAX_ATTEMPTS": 12,
    # Recovery (`fastpix_media recover`, the recover_media task) requeues a pending media
    # whose next attempt is this many seconds overdue: its job was lost or its worker died.
    "RECOVERY_GRACE_SECONDS": 300.0,
    # A sync holds its workspace this long (renewed every page); a second sync is refused.
    "SYNC_LEASE_SECONDS": 600.0,
    # Webhooks: largest accepted body, and how long the previous secret stays valid.
    "WEBHOOK_MAX_BODY_BYTES": 1_048_576,
    "WEBHOOK_PREVIOUS_SECRET_WINDOW": 24 * 3600,
    # "inline": a delivery is applied before it is answered (a failure answers 500 and FastPix
    # delivers again). "queued": it is stored, answered, and applied by a worker (the
    # process_webhook_event task, retried with the creation backoff): FastPix waits for one
    # INSERT, and a burst of events is spread over the workers.
    "WEBHOOK_PROCESSING": "inline",
    # The task backend alias (Django Tasks API) media work is enqueued on.
    "TASK_BACKEND": "default",
    # Playback hosts; tests and local development point them at the fake server.
    "STREAM_BASE_URL": "https://stream.fastpix.com",
    "IMAGE_BASE_URL": "https://images.fastpix.com",
    # Seconds a private playback token stays valid (clamped to 60 s .. 24 h). Tokens are minted
    # per request: a page holding one must not be cached for longer than this.
    "PLAYBACK_TOKEN_LIFETIME": 900,
    # Create a workspace's signing key through FastPix the first time a private media is shown
    # (needs a token with the system permission); False: only `fastpix_signing_keys create`.
    "CREATE_SIGNING_KEY_ON_DEMAND": True,
    # The <fastpix-player> web component, loaded once per page. Self-host it by pointing this at
    # your static file; PLAYER_SCRIPT_INTEGRITY is the Subresource Integrity hash ("sha384-…").
    "PLAYER_SCRIPT_URL": "https://unpkg.com/@fastpix/fp-player@1.0.24/dist/player.js",
    "PLAYER_SCRIPT_INTEGRITY": "",
    # Dotted path of a django_fastpix.adapter.FastPixAdapter subclass: site-specific creation
    # behaviour (whether to create, workspace, title, metadata, settings, failures).
    "ADAPTER": "django_fastpix.adapter.FastPixAdapter",
    # Dotted path of ``callable(request, target) -> bool``: may this request start a browser
    # upload (for ``target``, the site object the video is for, or None)?
    "UPLOAD_PERMISSION": "django_fastpix.uploads.default_upload_permission",
    # The Origin FastPix lets upload requests come from (None: the requesting page's origin).
    "UPLOAD_CORS_ORIGIN": None,
    # Chunk size for @fastpix/resumable-uploads, in KB (5120..512000, a multiple of 256).
    "UPLOAD_CHUNK_SIZE_KB": 16384,
    # Seconds a signed upload context (rendered into a form) stays valid.
    "UPLOAD_CONTEXT_MAX_AGE": 86400,
    # The browser uploader script (None: the pinned copy shipped in the app's static files).
    "UPLOAD_SCRIPT_URL": None,
    # Ingest endpoints shown to operators; FastPix's API does not return them.
    "LIVE_RTMPS_URL": "rtmps://live.fastpix.com:443/live",
    "LIVE_SRT_URL": "srt://live.fastpix.com:778",
    # Where the per-workspace limits (a 429 pause, the circuit breaker) live, seen by every
    # process: "database" (a row per workspace in the app's tables) or "cache" (the cache alias
    # LIMITS_CACHE; it must be shared by all workers: Redis or Memcached, not LocMemCache).
    "LIMITS_STORE": "database",
    "LIMITS_CACHE": "default",
    # A 429 pauses the workspace's calls in every process for its Retry-After (1 s without
    # one), at most this many seconds.
    "RATE_LIMIT_PAUSE_MAX": 300.0,
    # This many calls in a row failing with 5xx, a timeout or a connection error open the
    # workspace's circuit: calls are refused without a request for COOLDOWN seconds, then one
    # probe call goes through (its success closes the circuit, its failure reopens it).
    "CIRCUIT_FAILURE_THRESHOLD": 5,
    "CIRCUIT_COOLDOWN_SECONDS": 30.0,
}


class FastPixSettings:
    """Attribute access to ``settings.FASTPIX`` with defaults; unknown keys are an error."""

    def _user_settings(self) -> dict[str, Any]:
        configured = getattr(settings, "FASTPIX", None) or {}
        if not isinstance(configured, dict):
            raise ImproperlyConfigured("settings.FASTPIX must be a dict.")
        unknown = sorted(set(configured) - set(DEFAULTS))
        if unknown:
            raise ImproperlyConfigured(
                f"Unknown key(s) in settings.FASTPIX: {', '.join(unknown)}. "
                f"Known keys: {', '.join(sorted(DEFAULTS))}."
            )
        return configured

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"FASTPIX has no setting {name!r}")
        return self._user_settings().get(name, DEFAULTS[name])

    def validate(self) -> None:
        """Raise ImproperlyConfigured for unknown keys (used by the system checks)."""
        self._user_settings()


fastpix_settings = FastPixSettings()
