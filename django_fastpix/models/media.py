"""Local mirrors of FastPix media and their playback ids."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from .workspace import Workspace

if TYPE_CHECKING:
    from django.http import HttpRequest
    from django.utils.safestring import SafeString


class MediaStatus(models.TextChoices):
    """FastPix's media statuses, normalised, plus ``pending`` before FastPix knows the media."""

    PENDING = "pending", "Pending"
    CREATED = "created", "Created"
    DOWNLOADING = "downloading", "Downloading"
    DOWNLOADED = "downloaded", "Downloaded"
    VALIDATING = "validating", "Validating"
    IN_QUEUE = "in_queue", "In queue"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"
    DELETED = "deleted", "Deleted"

    @classmethod
    def from_fastpix(cls, value: str | None) -> MediaStatus | None:
        """FastPix's spelling ("In Queue", "Ready", "media_ready") → ours; None if unknown."""
        if not value:
            return None
        key = value.strip().lower().replace(" ", "_").replace("-", "_")
        key = key.removeprefix("media_").removeprefix("video.media.")
        try:
            return cls(key)
        except ValueError:
            return None

    @property
    def rank(self) -> int:
        """Order along the lifecycle; status only ever moves to a higher rank."""
        return _RANK[self]


_RANK = {status: i for i, status in enumerate(MediaStatus)}
# Every status on the way to ready: the player shows a "processing" placeholder meanwhile.
IN_PROGRESS = frozenset(MediaStatus) - {MediaStatus.READY, MediaStatus.FAILED, MediaStatus.DELETED}


class PlaybackSurface(Protocol):
    """Players and URLs for media: what ``Media.player()`` and its siblings delegate to.

    Signing a private playback id needs the signing keys and, on first need, FastPix: layers
    above the models. So the models import nothing of it; ``django_fastpix.video`` plugs its
    implementation in here (``connect_playback``) when it is imported, as the app does when
    it is ready. This keeps the import graph acyclic (tests/unit/test_import_graph.py).
    """

    def player(
        self, media: Media, options: Mapping[str, Any], request: HttpRequest | None
    ) -> SafeString: ...

    def image_url(
        self,
        media: Media,
        kind: Literal["thumbnail", "clip"],
        options: Mapping[str, Any],
        request: HttpRequest | None,
    ) -> str: ...

    def stream_url(self, media: Media, request: HttpRequest | None) -> str: ...

    def playback_url(self, playback: PlaybackId, kind: Literal["stream", "thumbnail"]) -> str: ...


_surface: PlaybackSurface | None = None


def connect_playback(surface: PlaybackSurface) -> None:
    """Install the implementation behind ``Media.player()`` & co. (``django_fastpix.video``)."""
    global _surface
    _surface = surface


def playback_surface() -> PlaybackSurface:
    """The connected playback implementation; ImproperlyConfigured if it never was."""
    if _surface is None:
        raise ImproperlyConfigured(
            "django_fastpix's playback layer is not loaded: import django_fastpix.video "
            "(the app does so when it is ready) before rendering players or playback URLs."
        )
    return _surface


class Media(models.Model):
    """A FastPix media as the site knows it; exists (pending) before any API call."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="media")
    # NULL until FastPix assigns one: the per-workspace uniqueness must not count blanks.
    fastpix_id = models.CharField(  # noqa: DJ001
        "FastPix media id", max_length=255, null=True, blank=True
    )
    upload_id = models.CharField(max_length=255, blank=True)
    # Travels in FastPix metadata and as the Idempotency-Key: how a retry finds its media.
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    source_url = models.URLField(max_length=2000, blank=True)
    status = models.CharField(max_length=20, choices=MediaStatus.choices, default="pending")
    access_policy = models.CharField(max_length=10, default="public")
    title = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    duration = models.FloatField("duration (seconds)", null=True, blank=True)
    # Values FastPix reports are cut to these widths; the event keeps the whole value.
    aspect_ratio = models.CharField(max_length=64, blank=True)
    max_resolution = models.CharField(max_length=64, blank=True)
    source_resolution = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True, help_text="Why creation or processing failed.")
    # Committed before each create call: a value above 1 means an earlier call may have reached
    # FastPix, so the next attempt looks for that media before creating another.
    creation_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    # Held while one worker creates the media: a duplicate job finds it and stands down; a
    # worker that died lets it expire (FASTPIX["CREATION_LEASE_SECONDS"]) before another tries.
    creation_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    # When recovery may queue this pending media again if no job has taken it meanwhile
    # (NULL: updated_at + FASTPIX["RECOVERY_GRACE_SECONDS"]).
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The site object whose save produced this media (object ids as text: any pk type fits).
    content_type = models.ForeignKey(ContentType, on_delete=models.SET_NULL, null=True, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    source_object = GenericForeignKey("content_type", "object_id")
    # The live stream this media is a recording of (FastPix's ``streamId``).
    live_stream = models.ForeignKey(
        "django_fastpix.LiveStream",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recordings",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "media"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "fastpix_id"],
                condition=models.Q(fastpix_id__isnull=False),
                name="fastpix_media_unique_id_per_workspace",
            ),
        ]
        indexes = [
            models.Index(fields=["content_type", "object_id"], name="fastpix_media_source_idx"),
            models.Index(fields=["workspace", "status"], name="fastpix_media_status_idx"),
            models.Index(fields=["workspace", "upload_id"], name="fastpix_media_upload_idx"),
        ]

    def __str__(self) -> str:
        return self.title or self.fastpix_id or f"pending {self.reference}"

    @property
    def playable(self) -> bool:
        return self.status == MediaStatus.READY

    @property
    def is_ready(self) -> bool:
        """FastPix has processed it: it plays, and its images exist."""
        return self.status == MediaStatus.READY

    @property
    def is_processing(self) -> bool:
        """On its way to ready: pending here, or being fetched or transcoded by FastPix."""
        return self.status in IN_PROGRESS

    @property
    def has_failed(self) -> bool:
        """Creation or processing failed; ``error`` says why (not for visitors' eyes)."""
        return self.status == MediaStatus.FAILED

    @property
    def playback(self) -> PlaybackId | None:
        """The playback id players use: the one with the media's own access policy, else the
        first. Reads ``playback_ids.all()``, so ``prefetch_related("playback_ids")`` is used."""
        if self.pk is None:
            return None
        playback_ids = list(self.playback_ids.all())
        for playback in playback_ids:
            if playback.access_policy == self.access_policy:
                return playback
        return playback_ids[0] if playback_ids else None

    def player(self, *, request: HttpRequest | None = None, **options: Any) -> SafeString:
        """The ``{% fastpix_player %}`` HTML of this media, fallbacks included.

        Pass ``request`` (or install ``PlaybackCacheMiddleware``) so that tokens and the
        player script are shared with the rest of the page and the page is kept out of caches.
        """
        return playback_surface().player(self, options, request)

    def thumbnail_url(self, *, request: HttpRequest | None = None, **options: Any) -> str:
        """A thumbnail URL (signed when private), or '' until the media is ready.

        ``options``: time, width, height, fit_mode, format (jpg, png, webp); a bad value
        raises ValueError.
        """
        return playback_surface().image_url(self, "thumbnail", options, request)

    def clip_url(self, *, request: HttpRequest | None = None, **options: Any) -> str:
        """An animated clip URL (gif or webp; signed when private), or '' until ready."""
        return playback_surface().image_url(self, "clip", options, request)

    def stream_url(self, *, request: HttpRequest | None = None) -> str:
        """The HLS (.m3u8) URL (signed when private), or '' until the media is ready."""
        return playback_surface().stream_url(self, request)


class PlaybackId(models.Model):
    """A playback id of a media: what players and thumbnails are addressed by."""

    media = models.ForeignKey(Media, on_delete=models.CASCADE, related_name="playback_ids")
    fastpix_id = models.CharField("playback id", max_length=255, unique=True)
    access_policy = models.CharField(max_length=10, default="public")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.fastpix_id

    @property
    def workspace_id(self) -> int:
        """The workspace whose signing key signs this playback id's tokens."""
        return self.media.workspace_id

    @property
    def stream_url(self) -> str:
        """The HLS URL on FASTPIX["STREAM_BASE_URL"], unsigned (``Media.stream_url()`` signs)."""
        return playback_surface().playback_url(self, "stream")

    @property
    def thumbnail_url(self) -> str:
        """The PNG thumbnail on FASTPIX["IMAGE_BASE_URL"], unsigned (see ``Media``'s)."""
        return playback_surface().playback_url(self, "thumbnail")
