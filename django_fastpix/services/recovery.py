"""Recovery: queue again the work a lost job or a dead worker left behind (cron-safe, idempotent).

Three kinds of leftovers: pending media whose next attempt is overdue (the job was lost, the
worker died mid-call and its lease ran out, the queue refused the job), source objects that
hold a video URL but never got a media (their workspace could not be resolved when they were
saved), and webhook events stored for a worker that none applied (queued processing).
Running it twice at once, or every minute, queues nothing twice that a job has not already
taken: duplicate jobs stand down on the creation lease (and on the event's row lock).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from ..conf import fastpix_settings
from ..models import Media, MediaStatus
from ..sources import media_sources
from .media import queue_creation
from .webhook_queue import requeue_stale_events

logger = logging.getLogger(__name__)


@dataclass
class RecoveryReport:
    """What one recovery run did."""

    requeued: int = 0
    created_for_objects: int = 0
    objects_still_without_media: int = 0
    events_requeued: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def due_media(now: datetime | None = None) -> QuerySet[Media]:
    """Pending media with no FastPix id whose next attempt is overdue and not leased."""
    now = now or timezone.now()
    grace = timedelta(seconds=float(fastpix_settings.RECOVERY_GRACE_SECONDS))
    return (
        Media.objects.filter(status=MediaStatus.PENDING, fastpix_id__isnull=True)
        .filter(Q(creation_lease_until__isnull=True) | Q(creation_lease_until__lt=now))
        .filter(
            Q(next_attempt_at__lte=now)
            | Q(next_attempt_at__isnull=True, updated_at__lte=now - grace)
        )
    )


def recover_media(*, now: datetime | None = None, limit: int | None = None) -> RecoveryReport:
    """Queue every overdue pending media, and make the media source objects never got."""
    now = now or timezone.now()
    report = RecoveryReport()
    grace = timedelta(seconds=float(fastpix_settings.RECOVERY_GRACE_SECONDS))
    with transaction.atomic():
        # Locked, skipping rows another run holds: two runs at once split the due rows
        # instead of both reading them before either has pushed them out.
        due = list(
            due_media(now)
            .select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:limit]
        )
        # Pushed out first, so an overlapping recovery run does not queue the same rows.
        Media.objects.filter(pk__in=due).update(next_attempt_at=now + grace)
    for pk in due:
        queue_creation(pk)
    report.requeued = len(due)
    _create_missing(report)
    report.events_requeued = requeue_stale_events(now=now, limit=limit)
    if report.requeued or report.created_for_objects or report.events_requeued:
        logger.info("Recovery: %s", report.as_dict())
    return report


def _create_missing(report: RecoveryReport) -> None:
    from .source_audit import objects_without_media
    from .sources import media_for_saved_source

    for source in media_sources().values():
        for instance in objects_without_media(source).iterator():
            try:
                with transaction.atomic():
                    media = media_for_saved_source(source, instance)
            except Exception:
                logger.exception("Recovery could not make a media for %r", instance)
                media = None
            if media is None:
                report.objects_still_without_media += 1
            else:
                report.created_for_objects += 1
