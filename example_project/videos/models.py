"""The example site's own model: a lesson whose video URL becomes a FastPix media."""

from __future__ import annotations

from django.db import models

from django_fastpix.video import VideoField


class Lesson(models.Model):
    title = models.CharField(max_length=200)
    video_url = models.URLField(max_length=2000, blank=True)
    private = models.BooleanField(
        default=False, help_text="Only visitors with a signed token can play a private video."
    )
    # The FastPix media made from video_url (MEDIA_SOURCES "video_field"), or one chosen here.
    video = VideoField()
    # Set by the video.media.ready webhook handler in fastpix_hooks.py.
    video_ready_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.title
