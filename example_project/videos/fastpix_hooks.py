"""How a site customises django-fastpix without forking it: an adapter and a webhook handler.

The adapter is named in settings (FASTPIX["ADAPTER"]); the handler registers itself when
VideosConfig.ready() imports this module.
"""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from django_fastpix.adapter import FastPixAdapter
from django_fastpix.models import Media, WebhookEvent
from django_fastpix.webhook_handlers import fastpix_webhook

from .models import Lesson

logger = logging.getLogger(__name__)


class LessonAdapter(FastPixAdapter):
    """Drafts get no media yet; every media carries its lesson's id in FastPix metadata."""

    def should_create(self, source: Any, instance: Any) -> bool:
        return not str(instance.title).startswith("[draft]")

    def metadata_for(self, source: Any, instance: Any) -> dict[str, str]:
        return {"lesson": str(instance.pk)}


@fastpix_webhook("video.media.ready")
def lesson_video_ready(event: WebhookEvent, media: Media | None) -> None:
    """Stamp the lesson when its video is ready (idempotent: a redelivery keeps the first time)."""
    if media is None or media.object_id == "":
        return
    Lesson.objects.filter(pk=media.object_id, video_ready_at__isnull=True).update(
        video_ready_at=timezone.now()
    )
    logger.info("Lesson %s: video ready to play", media.object_id)


def lesson_access_policy(lesson: Lesson) -> str:
    """A private lesson's video is private in FastPix: playable only with a signed token."""
    return "private" if lesson.private else "public"
