"""The media lifecycle: pending rows, exactly-once creation, refresh, retry, remote delete."""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from .. import signals
from ..client import Media as RemoteMedia
from ..conf import fastpix_settings
from ..exceptions import (
    BadRequestError,
    FastPixError,
    InvalidPayloadError,
    NotFoundError,
    NoUsableTokenError,
    PermissionDeniedError,
)
from ..models import Media, MediaStatus, PlaybackId
from . import api

logger = logging.getLogger(__name__)

# Answers that a retry will not change: the media is marked failed with FastPix's reason.
PERMANENT_ERRORS = (BadRequestError, InvalidPayloadError, PermissionDeniedError, NotFoundError)


def url_problem(url: str) -> str | None:
    """Why FastPix could not pull ``url`` (None if it looks fine); checked before any call."""
    if not url or not url.strip():
        return "No video URL."
    if any(ch.isspace() for ch in url.strip()):
        return f"Invalid video URL (contains whitespace): {url[:200]!r}"
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        scheme = parts.scheme or "no"
        return f"Invalid video URL: FastPix pulls only http(s) URLs, not {scheme} scheme."
    if not parts.hostname:
        return f"Invalid video URL (no host): {url[:200]!r}"
    return None


def reference_key() -> str:
    """The metadata key carrying a media's local reference to FastPix and back."""
    return str(fastpix_settings.REFERENCE_METADATA_KEY)


def parse_reference(value: object) -> uuid.UUID | None:
    """A reference read back from FastPix metadata; a malformed one is no reference."""
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


# --- creation ---


def create_remote_media(media_id: int) -> Media:
    """Create the FastPix media for a pending row, exactly once (the task body).

    The row's reference travels as metadata and as the Idempotency-Key. Before every call
    the attempt count is committed; a later attempt (after a timeout, or a worker that died
    mid-call) first looks for the media by its reference instead of creating a second one.
    """
    now = timezone.now()
    with transaction.atomic():
        media = Media.objects.select_for_update().select_related("workspace").get(pk=media_id)
        if media.fastpix_id or media.status != MediaStatus.PENDING:
            return media  # done already, or failed/deleted: nothing to create
        if media.creation_lease_until and media.creation_lease_until > now:
            logger.info("Media %s is being created by another worker; standing down", media.pk)
            return media
        problem = url_problem(media.source_url)
        if problem:
            _fail(media, problem)
            return media
        media.creation_attempts += 1
        media.creation_lease_until = now + timedelta(
            seconds=float(fastpix_settings.CREATION_LEASE_SECONDS)
        )
        Media.objects.filter(pk=media.pk).update(
            creation_attempts=media.creation_attempts,
            creation_lease_until=media.creation_lease_until,
        )
    # Committed above; the API calls below run outside any transaction.
    try:
        return _create_or_reconcile(media)
    finally:
        Media.objects.filter(pk=media.pk).update(creation_lease_until=None)


def _create_or_reconcile(media: Media) -> Media:
    try:
        if media.creation_attempts > 1:
            found = find_remote_by_reference(media)
            if found is not None:
                logger.info("Reconciled %s with FastPix media %s by reference", media.pk, found.id)
                return link_remote(media, found)
        metadata = {**(media.metadata or {}), reference_key(): str(media.reference)}
        remote = api.call(
            media.workspace,
            "create_media",
            media.source_url,
            access_policy=media.access_policy,
            metadata=metadata,
            title=media.title or None,
            idempotency_key=str(media.reference),
        )
    except PERMANENT_ERRORS as exc:
        _fail(media, f"FastPix refused the media: {exc}")
        return media
    except NoUsableTokenError as exc:
        _note_error(media, str(exc))
        return media
    except FastPixError as exc:
        # Transient (network, 5xx, 429): the row stays pending with the reason; the task may
        # be retried and will reconcile first.
        _note_error(media, f"{type(exc).__name__}: {exc}")
        raise
    return link_remote(media, remote)


def requeue_pending(workspace_id: int) -> int:
    """Queue creation again for the workspace's pending media (e.g. a usable token arrived)."""
    from ..tasks import enqueue_create

    pending = list(
        Media.objects.filter(
            workspace_id=workspace_id, status=MediaStatus.PENDING, fastpix_id__isnull=True
        )
        .exclude(creation_lease_until__gt=timezone.now())
        .values_list("pk", flat=True)
    )
    for pk in pending:
        transaction.on_commit(partial(enqueue_create, pk))
    return len(pending)


def find_remote_by_reference(media: Media) -> RemoteMedia | None:
    """The FastPix media carrying this row's reference in its metadata, among the newest."""
    wanted = str(media.reference)
    for page_number in range(1, int(fastpix_settings.RECONCILE_PAGES) + 1):
        page = api.call(media.workspace, "list_media", 50, page_number, "desc")
        for remote in page.items:
            if str(remote.metadata.get(reference_key(), "")) == wanted:
                return remote
        if not page.has_next:
            break
    return None


def link_remote(media: Media, remote: RemoteMedia) -> Media:
    """Store FastPix's id and state on the row (once), and send ``media_created``."""
    with transaction.atomic():
        media = Media.objects.select_for_update().get(pk=media.pk)
        newly_linked = not media.fastpix_id
        if newly_linked:
            _absorb_stand_in(media, remote.id)
            media.fastpix_id = remote.id
            media.error = ""
            media.save(update_fields=["fastpix_id", "error", "updated_at"])
            transaction.on_commit(partial(signals.media_created.send, sender=Media, media=media))
        apply_remote_state(media, remote)
    return media


def _absorb_stand_in(media: Media, fastpix_id: str) -> None:
    """Fold in a row a webhook created for this FastPix id before our create answer arrived.

    That happens when FastPix's event did not carry our reference: the event's row knows the
    state, ours knows the source object; one row survives, with the furthest status.
    """
    stand_in = (
        Media.objects.select_for_update()
        .filter(workspace_id=media.workspace_id, fastpix_id=fastpix_id)
        .exclude(pk=media.pk)
        .first()
    )
    if stand_in is None:
        return
    if MediaStatus(stand_in.status).rank > MediaStatus(media.status).rank:
        media.status = stand_in.status
    media.last_event_at = stand_in.last_event_at
    PlaybackId.objects.filter(media=stand_in).update(media=media)
    stand_in.delete()
    media.save(update_fields=["status", "last_event_at", "updated_at"])


def _fail(media: Media, reason: str) -> None:
    with transaction.atomic():
        changed = Media.objects.filter(pk=media.pk, status=MediaStatus.PENDING).update(
            status=MediaStatus.FAILED, error=reason, updated_at=timezone.now()
        )
        media.refresh_from_db()
        if changed:
            transaction.on_commit(
                partial(signals.media_failed.send, sender=Media, media=media, reason=reason)
            )
    logger.warning("Media %s failed: %s", media.pk, reason)


def _note_error(media: Media, reason: str) -> None:
    Media.objects.filter(pk=media.pk).update(error=reason[:2000], updated_at=timezone.now())
    media.error = reason


# --- state from FastPix (shared by create, refresh, webhooks and sync) ---


def fields_from_remote(remote: RemoteMedia) -> dict[str, Any]:
    """Our columns from a parsed FastPix media (status handled separately: forward only)."""
    values: dict[str, Any] = {
        "metadata": {k: v for k, v in remote.metadata.items() if k != reference_key()},
        "duration": remote.duration_seconds,
        "aspect_ratio": remote.aspect_ratio or "",
        "max_resolution": remote.max_resolution or "",
        "source_resolution": remote.source_resolution or "",
    }
    if remote.title is not None:
        values["title"] = remote.title[:255]
    if remote.upload_id:
        values["upload_id"] = remote.upload_id
    return values


def next_status(current: str, reported: str | None) -> MediaStatus | None:
    """The status to store, or None: FastPix's report only ever moves a media forward."""
    new = MediaStatus.from_fastpix(reported)
    if new is None:
        return None
    if new.rank <= MediaStatus(current).rank:
        return None
    return new


def advance_status(media: Media, reported: str | None) -> MediaStatus | None:
    """Move ``media.status`` forward to ``reported`` in memory (Ready clears the error)."""
    moved = next_status(media.status, reported)
    if moved is not None:
        media.status = moved
        if moved == MediaStatus.READY:
            media.error = ""
    return moved


def apply_remote_state(
    media: Media, remote: RemoteMedia, *, status_hint: str | None = None, occurred_at: Any = None
) -> list[str]:
    """Bring ``media`` up to ``remote`` (inside the caller's transaction); returns changed fields.

    Status moves forward only, so duplicate and out-of-order reports converge. Other fields
    are taken unless the report is older than the last one applied.
    """
    changed: list[str] = []
    newer = occurred_at is None or media.last_event_at is None or occurred_at >= media.last_event_at
    if newer:
        for name, value in fields_from_remote(remote).items():
            if getattr(media, name) != value:
                setattr(media, name, value)
                changed.append(name)
        if occurred_at is not None:
            media.last_event_at = occurred_at
            changed.append("last_event_at")
    status = advance_status(media, status_hint or remote.status)
    if status is not None:
        changed += ["status", "error"]
    if status_hint is None and occurred_at is None:
        media.last_synced_at = timezone.now()
        changed.append("last_synced_at")
    if changed:
        media.save(update_fields=[*changed, "updated_at"])
    sync_playback_ids(media, remote)
    if status is not None:
        _signal_status(media, status)
    return changed


def sync_playback_ids(media: Media, remote: RemoteMedia) -> None:
    """Add the playback ids FastPix reports that the row lacks (ids are never reused)."""
    if not remote.playback_ids:
        return
    known = set(PlaybackId.objects.filter(media=media).values_list("fastpix_id", flat=True))
    PlaybackId.objects.bulk_create(
        [
            PlaybackId(media=media, fastpix_id=p.id, access_policy=p.access_policy or "public")
            for p in remote.playback_ids
            if p.id not in known
        ],
        ignore_conflicts=True,
    )


def _signal_status(media: Media, status: MediaStatus) -> None:
    signal = {
        MediaStatus.READY: signals.media_ready,
        MediaStatus.FAILED: signals.media_failed,
        MediaStatus.DELETED: signals.media_deleted,
    }.get(status)
    if signal is None:
        return
    kwargs: dict[str, Any] = {"media": media}
    if status == MediaStatus.FAILED:
        kwargs["reason"] = media.error
    transaction.on_commit(partial(signal.send, sender=Media, **kwargs))


# --- operator actions ---


def refresh_media(media: Media) -> Media:
    """Fetch the media from FastPix and apply what it says (forward-only status)."""
    if not media.fastpix_id:
        raise NotFoundError(f"Media {media.pk} has no FastPix id yet.", status=404)
    try:
        remote = api.call(media.workspace, "get_media", media.fastpix_id)
    except NotFoundError:
        mark_deleted(media)
        return media
    with transaction.atomic():
        apply_remote_state(media, remote)
    return media


def retry_media_creation(media: Media) -> Media:
    """Send a failed or pending media through creation again (a new reference if it failed)."""
    from ..tasks import enqueue_create

    if media.fastpix_id:
        raise BadRequestError(f"Media {media.pk} already exists in FastPix.", status=400)
    if media.status not in (MediaStatus.PENDING, MediaStatus.FAILED):
        raise BadRequestError(f"Media {media.pk} is {media.status}; nothing to retry.", status=400)
    with transaction.atomic():
        if media.status == MediaStatus.FAILED:
            # A fresh reference: FastPix replays the first answer to a repeated idempotency key,
            # which for a refused payload would be the same refusal.
            media.status = MediaStatus.PENDING
            media.error = ""
            media.reference = uuid.uuid4()
            media.creation_attempts = 0
            media.save(
                update_fields=["status", "error", "reference", "creation_attempts", "updated_at"]
            )
        transaction.on_commit(partial(enqueue_create, media.pk))
    return media


def delete_remote_media(media: Media) -> Media:
    """Delete the media in FastPix (a 404 counts as done) and mark the row deleted."""
    if media.fastpix_id:
        with contextlib.suppress(NotFoundError):  # already gone: deleting is idempotent
            api.call(media.workspace, "delete_media", media.fastpix_id)
    mark_deleted(media)
    return media


def mark_deleted(media: Media) -> None:
    with transaction.atomic():
        changed = (
            Media.objects.filter(pk=media.pk)
            .exclude(status=MediaStatus.DELETED)
            .update(status=MediaStatus.DELETED, updated_at=timezone.now())
        )
        media.refresh_from_db()
        if changed:
            transaction.on_commit(partial(signals.media_deleted.send, sender=Media, media=media))
