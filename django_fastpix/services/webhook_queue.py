"""Queued webhook processing (``FASTPIX["WEBHOOK_PROCESSING"] = "queued"``): the worker's side.

The view stores a delivery as pending and answers FastPix at once (``webhooks._store_for_worker``);
the ``process_webhook_event`` task applies it here. FastPix no longer retries a failure (it
got its 2xx), so this side does: a failed event is tried again with the creation backoff, up
to CREATION_MAX_ATTEMPTS, then left failed, with its traceback, for an operator's replay.
Recovery queues again the events whose job was lost.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from .. import jobs
from ..conf import fastpix_settings
from ..models import DONE_OUTCOMES, WebhookEvent, WebhookOutcome
from .media import creation_backoff
from .webhooks import process_event

logger = logging.getLogger(__name__)

JOB = "process_webhook_event"


def attempt_event_processing(event_id: int, attempt: int = 1) -> None:
    """Apply one stored event (the task body); a failure queues the next attempt."""
    event = WebhookEvent.objects.filter(pk=event_id).first()
    if event is None or event.outcome in DONE_OUTCOMES:
        return  # applied meanwhile (a redelivery, a duplicate job, an operator's replay)
    if process_event(event):
        return
    if attempt >= int(fastpix_settings.CREATION_MAX_ATTEMPTS) or not jobs.can_defer(JOB):
        logger.error(
            "FastPix event %s (%s) failed %d time(s) and is left failed: fix the cause, then "
            "replay it (the Webhook events admin, or `manage.py fastpix_webhooks replay`)",
            event.event_id,
            event.type,
            attempt,
        )
        return
    run_after = timezone.now() + timedelta(seconds=creation_backoff(attempt))
    logger.warning(
        "FastPix event %s (%s) failed; next attempt at %s", event.event_id, event.type, run_after
    )
    jobs.enqueue(JOB, event_id, attempt + 1, run_after=run_after)


def stale_pending_events(now: datetime | None = None) -> QuerySet[WebhookEvent]:
    """Events stored for a worker that none has applied within RECOVERY_GRACE_SECONDS."""
    now = now or timezone.now()
    grace = timedelta(seconds=float(fastpix_settings.RECOVERY_GRACE_SECONDS))
    return WebhookEvent.objects.filter(outcome=WebhookOutcome.PENDING, received_at__lte=now - grace)


def requeue_stale_events(*, now: datetime | None = None, limit: int | None = None) -> int:
    """Queue again the stale pending events (their job was lost, or the queue refused it).

    A second job for an event still queued is harmless: ``process_event`` applies an event
    once, under its row lock, and the later job finds it done.
    """
    pks = list(stale_pending_events(now).order_by("pk").values_list("pk", flat=True)[:limit])
    for pk in pks:
        jobs.enqueue(JOB, pk)
    if pks:
        logger.info("Recovery: queued %d webhook event(s) again", len(pks))
    return len(pks)
