"""Local mirrors of FastPix media and their playback ids."""

from __future__ import annotations

import uuid

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from .workspace import Workspace


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
        ]

    def __str__(self) -> str:
        return self.title or self.fastpix_id or f"pending {self.reference}"

    @property
    def playable(self) -> bool:
        return self.status == MediaStatus.READY


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
    def stream_url(self) -> str:
        return f"https://stream.fastpix.com/{self.fastpix_id}.m3u8"

    @property
    def thumbnail_url(self) -> str:
        return f"https://images.fastpix.com/{self.fastpix_id}/thumbnail.png"
