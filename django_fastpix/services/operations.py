"""Operator actions behind the management commands: start and watch media, stored pairs."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..models import Media, MediaStatus, Workspace
from .media import attempt_creation, refresh_media

FINAL_STATUSES = frozenset({MediaStatus.READY, MediaStatus.FAILED, MediaStatus.DELETED})


# --- media ---


def start_media(
    workspace: Workspace, url: str, *, title: str = "", access_policy: str = "public"
) -> Media:
    """Store a pending media for ``url`` and create it in FastPix now, not through the queue.

    A transient failure is not raised: the row stays pending with the reason in ``error`` and
    its next attempt scheduled, so the caller can always name the row.
    """
    media = Media.objects.create(
        workspace=workspace, source_url=url.strip(), title=title, access_policy=access_policy
    )
    attempt_creation(media.pk)
    media.refresh_from_db()
    return media


def wait_for_media(
    media: Media,
    *,
    timeout: float,
    interval: float,
    on_poll: Callable[[Media], None] | None = None,
) -> Media:
    """Refresh ``media`` from FastPix until it is ready, failed or deleted, or ``timeout`` ends."""
    deadline = time.monotonic() + timeout
    while media.fastpix_id and media.status not in FINAL_STATUSES:
        media = refresh_media(media)
        if on_poll is not None:
            on_poll(media)
        if media.status in FINAL_STATUSES or time.monotonic() + interval > deadline:
            break
        time.sleep(interval)
    return media
