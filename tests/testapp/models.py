"""A site model for the tests: a lesson whose video URL becomes a FastPix media."""

from __future__ import annotations

import uuid

from django.db import models

from django_fastpix.video import VideoField


class Lesson(models.Model):
    title = models.CharField(max_length=200)
    video_url = models.URLField(max_length=2000, blank=True)
    workspace_slug = models.SlugField(default="prod")
    # Pointed at the media made from video_url (MEDIA_SOURCES "video_field" in tests/settings).
    video = VideoField()

    def __str__(self) -> str:
        return self.title


def lesson_workspace(lesson: Lesson) -> str:
    return lesson.workspace_slug


def lesson_metadata(lesson: Lesson) -> dict[str, str]:
    return {"lesson": str(lesson.pk)}


class Clip(models.Model):
    """A source model with a UUID primary key (stored as 32 hex digits on SQLite)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    video_url = models.URLField(max_length=2000, blank=True)

    def __str__(self) -> str:
        return str(self.pk)
