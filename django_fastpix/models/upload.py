"""Direct uploads: a browser sends a file straight to FastPix; the row tracks where it went."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models

from .media import Media
from .workspace import Workspace

# How long after an upload ended without a media the sweep still looks for one.
LATE_MEDIA_WINDOW = timedelta(days=1)


class UploadStatus(models.TextChoices):
    """Where an upload is; every status but ``waiting`` is final."""

    WAITING = "waiting", "Waiting for the file"
    ASSET_CREATED = "asset_created", "Media created"
    CANCELLED = "cancelled", "Cancelled"
    ERRORED = "errored", "Errored"
    TIMED_OUT = "timed_out", "Timed out"


class UploadQuerySet(models.QuerySet["Upload"]):
    def waiting(self) -> UploadQuerySet:
        return self.filter(status=UploadStatus.WAITING)

    def sweepable(self, now: datetime) -> UploadQuerySet:
        """Uploads a sweep looks at: waiting ones, and those that ended without a media in the
        last day (a late media event still links them); older ones are left alone."""
        recent = models.Q(finished_at__gte=now - LATE_MEDIA_WINDOW) & ~models.Q(
            status=UploadStatus.CANCELLED
        )
        return self.filter(media__isnull=True).filter(
            models.Q(status=UploadStatus.WAITING) | recent
        )


class Upload(models.Model):
    """One FastPix direct upload; its signed URL is handed to the browser once, never stored."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="uploads")
    fastpix_id = models.CharField("FastPix upload id", max_length=255)
    status = models.CharField(
        max_length=20, choices=UploadStatus.choices, default=UploadStatus.WAITING
    )
    error = models.TextField(blank=True)
    # When FastPix stops accepting the file (the create response's ``timeout``).
    expires_at = models.DateTimeField(null=True, blank=True)
    media = models.ForeignKey(
        Media, on_delete=models.SET_NULL, null=True, blank=True, related_name="uploads"
    )
    # The site object the video is for, and its VideoField to fill once the media exists.
    content_type = models.ForeignKey(ContentType, on_delete=models.SET_NULL, null=True, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    target = GenericForeignKey("content_type", "object_id")
    field_name = models.CharField(max_length=100, blank=True)
    access_policy = models.CharField(max_length=10, default="public")
    filename = models.CharField(max_length=255, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = UploadQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "fastpix_id"], name="fastpix_upload_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="fastpix_upload_status_idx"),
        ]

    def __str__(self) -> str:
        return f"upload {self.fastpix_id} ({self.status})"

    def __repr__(self) -> str:
        return f"<Upload {self.pk}: {self.fastpix_id} {self.status}>"

    @property
    def is_finished(self) -> bool:
        return self.status != UploadStatus.WAITING
