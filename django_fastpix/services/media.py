"""The media lifecycle: pending rows, exactly-once creation, refresh, retry, remote delete."""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import uuid
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from django.db import DatabaseError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Count, F, OuterRef, Subquery
from django.utils import timezone

from .. import jobs, signals
from ..adapter import get_adapter
from ..client import FastPixClient
from ..client import Media as RemoteMedia
from ..client import PlaybackId as RemotePlaybackId
from ..conf import fastpix_settings
from ..exceptions import (
    BadRequestError,
    CreationVetoed,
    FastPixError,
    InvalidPayloadError,
    MediaStateError,
    NotFoundError,
    NoUsableTokenError,
    PermissionDeniedError,
    RequestTimeoutError,
    WorkspaceLimitedError,
)
from ..models import Media, MediaStatus, PlaybackId
from . import api, statements

logger = logging.getLogger(__name__)

# Answers that a retry will not change: the media is marked failed with FastPix's reason.
PERMANENT_ERRORS = (BadRequestError, InvalidPayloadError, PermissionDeniedError, NotFoundError)


# The width of Media.source_url: a longer URL could not be stored, so it is refused up front.
MAX_URL_LENGTH = 2000


def url_problem(url: str) -> str | None:
    """Why FastPix could not pull ``url`` (None if it looks fine); checked before any call."""
    if not url or not url.strip():
        return "No video URL."
    if len(url) > MAX_URL_LENGTH:
        return f"Invalid video URL: longer than {MAX_URL_LENGTH} characters ({len(url)})."
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


def attempt_creation(media_id: int) -> Media | None:
    """One creation attempt (the task body); a reason a later attempt can fix never escapes.

    FastPix's transient answers (5xx, 429, network faults, a token revoked mid-call) and
    database errors (SQLite's "database is locked", a dropped connection) are recorded on the
    row and the next attempt is scheduled with capped backoff, so a job that fails never
    leaves its media pending without a reason or a next attempt.
    """
    try:
        return create_remote_media(media_id)
    except Media.DoesNotExist:
        logger.info("Media %s no longer exists; nothing to create", media_id)
        return None
    except (FastPixError, DatabaseError) as exc:
        if isinstance(exc, DatabaseError):
            _drop_broken_connections()
        reason = f"{type(exc).__name__}: {exc}"
        wait = getattr(exc, "retry_after", None)
        if isinstance(exc, RequestTimeoutError):
            # FastPix may still be working on a create it did not answer in time: the next
            # attempt, which looks the media up by reference first, waits at least as long.
            wait = max(wait or 0.0, float(fastpix_settings.READ_TIMEOUT))
        schedule_retry(media_id, reason, retry_after=wait)
        return None
    except Exception as exc:
        # Not FastPix's and not the database's: site code (the adapter, a receiver), a key
        # that cannot decrypt a token. Counted like any failed attempt, so it ends failed
        # with the reason after CREATION_MAX_ATTEMPTS instead of pending silently.
        logger.exception("Creating media %s failed unexpectedly", media_id)
        schedule_retry(media_id, f"{type(exc).__name__}: {exc}")
        return None


def create_remote_media(media_id: int) -> Media:
    """Create the FastPix media for a pending row, exactly once.

    The row's reference travels as metadata and as the Idempotency-Key. Before every call
    the attempt count is committed; a later attempt (after a timeout, or a worker that died
    mid-call) first looks for the media by its reference instead of creating a second one.
    Transient errors are raised after their reason is noted (``attempt_creation`` schedules).
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
        # If this worker dies mid-call, recovery may requeue once the lease has run out.
        media.next_attempt_at = media.creation_lease_until
        Media.objects.filter(pk=media.pk).update(
            creation_attempts=media.creation_attempts,
            creation_lease_until=media.creation_lease_until,
            next_attempt_at=media.next_attempt_at,
        )
    # Committed above; the API calls below run outside any transaction.
    try:
        return _create_or_reconcile(media)
    finally:
        _release_lease(media.pk)


def _release_lease(media_id: int) -> None:
    try:
        Media.objects.filter(pk=media_id).update(creation_lease_until=None)
    except DatabaseError:
        # Not fatal: the lease expires by itself, and schedule_retry clears it too.
        logger.warning("Could not release the creation lease of media %s", media_id)


def _create_or_reconcile(media: Media) -> Media:
    try:
        if media.creation_attempts > 1:
            found = find_remote_by_reference(media)
            if found is not None:
                logger.info("Reconciled %s with FastPix media %s by reference", media.pk, found.id)
                return link_remote(media, found)
        veto = _creation_veto(media)
        if veto:
            _fail(media, veto)
            return media
        metadata = {**(media.metadata or {}), reference_key(): str(media.reference)}
        remote = api.call(
            media.workspace,
            FastPixClient.create_media,
            media.source_url,
            access_policy=media.access_policy,
            metadata=metadata,
            title=media.title or None,
            idempotency_key=str(media.reference),
            **get_adapter().create_options(media),
        )
    except PERMANENT_ERRORS as exc:
        _fail(media, f"FastPix refused the media: {exc}")
        return media
    except NoUsableTokenError as exc:
        # No request went out: this attempt does not count. Adding or verifying a token
        # requeues the workspace's pending media.
        Media.objects.filter(pk=media.pk).update(creation_attempts=F("creation_attempts") - 1)
        _note_error(media, str(exc))
        return media
    except WorkspaceLimitedError as exc:
        # Held here (a shared 429 pause or an open circuit): no request went out, so this
        # attempt does not count; attempt_creation reschedules it after exc.retry_after.
        Media.objects.filter(pk=media.pk).update(creation_attempts=F("creation_attempts") - 1)
        _note_error(media, f"{type(exc).__name__}: {exc}")
        raise
    except FastPixError as exc:
        _note_error(media, f"{type(exc).__name__}: {exc}")
        raise
    return link_remote(media, remote)


def _creation_veto(media: Media) -> str | None:
    """Ask ``media_creating`` receivers; the reason if one vetoed (or failed), else None."""
    try:
        signals.media_creating.send(sender=Media, media=media)
    except CreationVetoed as exc:
        return f"Creation vetoed: {exc}"
    except Exception as exc:  # a broken receiver must not leave the media pending silently
        logger.exception("A media_creating receiver failed for media %s", media.pk)
        return f"A media_creating receiver failed: {type(exc).__name__}: {exc}"
    return None


def creation_backoff(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` calls: doubling, capped, jittered."""
    base = float(fastpix_settings.CREATION_RETRY_BASE)
    cap = float(fastpix_settings.CREATION_RETRY_MAX)
    delay = min(cap, base * 2.0 ** min(max(attempts, 1) - 1, 30))
    # Half jitter: spreads a burst of failures out without ever retrying at once.
    return delay * (0.5 + random.random() / 2)  # noqa: S311 (not cryptographic)


def schedule_retry(media_id: int, reason: str, *, retry_after: float | None = None) -> None:
    """Record why an attempt failed and queue the next one (or fail after the last one).

    On a backend that runs jobs later (``run_after``) the next attempt is a queued job and
    recovery only steps in if it is overdue; on one that cannot (the immediate backend),
    recovery (``fastpix_media recover``) queues it once it is due.
    """
    reason = reason[:2000]
    now = timezone.now()
    try:
        attempts = (
            Media.objects.filter(pk=media_id, status=MediaStatus.PENDING, fastpix_id__isnull=True)
            .values_list("creation_attempts", flat=True)
            .first()
        )
    except DatabaseError:
        attempts = 0  # unknown: retry soon, the database decides next time
    else:
        if attempts is None:
            return  # created, failed or deleted meanwhile
    max_attempts = int(fastpix_settings.CREATION_MAX_ATTEMPTS)
    if attempts >= max_attempts:
        try:
            _fail(Media.objects.get(pk=media_id), f"Gave up after {attempts} attempts: {reason}")
        except DatabaseError:
            logger.exception("Could not mark media %s failed; recovery retries it", media_id)
        return
    run_after = now + timedelta(seconds=max(retry_after or 0.0, creation_backoff(attempts)))
    try:
        deferred = jobs.can_defer("create_media")
    except Exception:  # a misconfigured task backend: recovery queues the attempt when due
        logger.exception("The task backend cannot be asked; media %s waits for recovery", media_id)
        deferred = False
    grace = timedelta(seconds=float(fastpix_settings.RECOVERY_GRACE_SECONDS))
    try:
        Media.objects.filter(pk=media_id, status=MediaStatus.PENDING).update(
            error=reason,
            creation_lease_until=None,
            next_attempt_at=run_after + grace if deferred else run_after,
            updated_at=now,
        )
    except DatabaseError:
        logger.warning("Could not record the failed attempt of media %s", media_id)
    logger.warning(
        "Creating media %s failed (%s); next attempt at %s", media_id, reason, run_after.isoformat()
    )
    if not deferred:
        return
    try:
        jobs.enqueue("create_media", media_id, run_after=run_after)
    except Exception:  # the queue itself failed: recovery requeues the row when it is due
        logger.exception("Could not queue the next attempt of media %s", media_id)
        with contextlib.suppress(DatabaseError):
            Media.objects.filter(pk=media_id, status=MediaStatus.PENDING).update(
                next_attempt_at=run_after
            )


def queue_creation(media_id: int) -> None:
    """Queue a media's creation (an on_commit callback): a broken queue never breaks a save.

    If the enqueue fails (queue database or Redis unreachable, a misnamed backend), the row
    keeps the reason and is due for recovery at once.
    """
    try:
        jobs.enqueue("create_media", media_id)
    except Exception as exc:  # anything: this runs after the site's commit, in its request
        logger.exception("Could not queue creation of FastPix media %s", media_id)
        with contextlib.suppress(DatabaseError):
            Media.objects.filter(pk=media_id, status=MediaStatus.PENDING).update(
                error=f"Could not queue creation: {type(exc).__name__}: {exc}"[:2000],
                next_attempt_at=timezone.now(),
            )


def queue_deletion(media_id: int) -> None:
    """Queue a media's remote deletion (an on_commit callback); a broken queue is logged.

    The row keeps its status, so ``fastpix_media delete`` or the admin can delete it later.
    """
    try:
        jobs.enqueue("delete_media", media_id)
    except Exception:  # anything: this runs after the site's commit, in its request
        logger.exception("Could not queue deletion of FastPix media %s", media_id)


def _drop_broken_connections() -> None:
    # A worker lives on after a database error; a connection left unusable would fail every
    # later job, so it is closed here and reopened on next use.
    for connection in connections.all(initialized_only=True):
        connection.close_if_unusable_or_obsolete()


def requeue_pending(workspace_id: int) -> int:
    """Queue creation again for the workspace's pending media (e.g. a usable token arrived)."""
    pending = list(
        Media.objects.filter(
            workspace_id=workspace_id, status=MediaStatus.PENDING, fastpix_id__isnull=True
        )
        .exclude(creation_lease_until__gt=timezone.now())
        .values_list("pk", flat=True)
    )
    for pk in pending:
        transaction.on_commit(partial(queue_creation, pk))
    return len(pending)


def find_remote_by_reference(media: Media) -> RemoteMedia | None:
    """The FastPix media carrying this row's reference in its metadata, among the newest."""
    wanted = str(media.reference)
    newest = api.pages(media.workspace, FastPixClient.list_media, "desc")
    for page in itertools.islice(newest, int(fastpix_settings.RECONCILE_PAGES)):
        for remote in page.items:
            if str(remote.metadata.get(reference_key(), "")) == wanted:
                return remote
    return None


def link_remote(media: Media, remote: RemoteMedia) -> Media:
    """Store FastPix's id and state on the row (once), and send ``media_created``."""
    with transaction.atomic():
        media = Media.objects.select_for_update().get(pk=media.pk)
        newly_linked = not media.fastpix_id
        if newly_linked and media.status == MediaStatus.DELETED:
            # Deleted here while FastPix was still creating it: keep the id and delete the
            # media there too, or it would live on, billed, with nothing tracking it.
            media.fastpix_id = remote.id
            media.save(update_fields=["fastpix_id", "updated_at"])
            transaction.on_commit(partial(queue_deletion, media.pk))
            return media
        if newly_linked:
            if media.status == MediaStatus.FAILED:
                # Our own verdict (attempts exhausted), not FastPix's: FastPix has the media,
                # so its state, not ours, decides from here.
                media.status = MediaStatus.PENDING
            media.error = ""  # created after all: the reasons of failed attempts are history
            moved = _absorb_stand_in(media, remote.id)
            media.fastpix_id = remote.id
            media.next_attempt_at = None
            media.save(
                update_fields=["fastpix_id", "status", "error", "next_attempt_at", "updated_at"]
            )
            signals.send_after_commit(signals.media_created, sender=Media, media=media)
            if moved is not None:
                _signal_status(media, moved)
        apply_remote_state(media, remote)
    return media


def _absorb_stand_in(media: Media, fastpix_id: str) -> MediaStatus | None:
    """Fold in a row a webhook created for this FastPix id before our create answer arrived.

    That happens when FastPix's event did not carry our reference: the event's row knows the
    state (a ``deleted`` that came first left a deleted row: a tombstone), ours knows the
    source object; one row survives, with the furthest status. Returns the status it moved to.
    """
    stand_in = (
        Media.objects.select_for_update()
        .filter(workspace_id=media.workspace_id, fastpix_id=fastpix_id)
        .exclude(pk=media.pk)
        .first()
    )
    if stand_in is None:
        return None
    moved = None
    if MediaStatus(stand_in.status).rank > MediaStatus(media.status).rank:
        media.status = moved = MediaStatus(stand_in.status)
        if stand_in.error:
            media.error = stand_in.error
    for name in FORWARD_FIELDS:
        if not _blank(getattr(stand_in, name)):
            setattr(media, name, getattr(stand_in, name))
    media.last_event_at = stand_in.last_event_at
    PlaybackId.objects.filter(media=stand_in).update(media=media)
    stand_in.delete()
    media.save(update_fields=["status", "error", "last_event_at", *FORWARD_FIELDS, "updated_at"])
    return moved


def _fail(media: Media, reason: str) -> None:
    with transaction.atomic():
        changed = Media.objects.filter(pk=media.pk, status=MediaStatus.PENDING).update(
            status=MediaStatus.FAILED, error=reason, updated_at=timezone.now()
        )
        media.refresh_from_db()
        if changed:
            signals.send_after_commit(
                signals.media_failed, sender=Media, media=media, reason=reason
            )
            transaction.on_commit(
                partial(get_adapter().creation_failed, media, reason), robust=True
            )
    logger.warning("Media %s failed: %s", media.pk, reason)


def _note_error(media: Media, reason: str) -> None:
    Media.objects.filter(pk=media.pk).update(error=reason[:2000], updated_at=timezone.now())
    media.error = reason


# --- state from FastPix (shared by create, refresh, webhooks and sync) ---


# Columns filled from FastPix's reports, besides the status.
FORWARD_FIELDS = ("metadata", "duration", "aspect_ratio", "max_resolution", "source_resolution")


def fields_from_remote(remote: RemoteMedia) -> dict[str, Any]:
    """Our columns from a parsed FastPix media (status handled separately: forward only).

    Text is cut to its column's width (the stored event keeps FastPix's whole value), so an
    unexpected long value never fails the write.
    """
    values: dict[str, Any] = {
        "metadata": {k: v for k, v in remote.metadata.items() if k != reference_key()},
        "duration": remote.duration_seconds,
        "aspect_ratio": _fit("aspect_ratio", remote.aspect_ratio),
        "max_resolution": _fit("max_resolution", remote.max_resolution),
        "source_resolution": _fit("source_resolution", remote.source_resolution),
    }
    if remote.title is not None:
        values["title"] = _fit("title", remote.title)
    if remote.upload_id and len(remote.upload_id) <= _width("upload_id"):
        values["upload_id"] = remote.upload_id
    return values


def _width(name: str) -> int:
    field = Media._meta.get_field(name)
    return int(getattr(field, "max_length", None) or 0)


def _fit(name: str, value: str | None) -> str:
    return (value or "")[: _width(name)]


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == {}


def forward_changes(media: Media, remote: RemoteMedia, reported: str | None) -> set[str]:
    """Set on ``media`` what a report adds, and return the changed names (status excluded).

    A report from an earlier stage than the row's (the create answer arriving after the
    ``ready`` event) changes nothing, and no report blanks a value an earlier one gave: FastPix
    never takes a duration or a resolution back.
    """
    status = MediaStatus.from_fastpix(reported)
    if status is not None and status.rank < MediaStatus(media.status).rank:
        return set()
    changed = set()
    for name, value in fields_from_remote(remote).items():
        current = getattr(media, name)
        if current != value and not (_blank(value) and not _blank(current)):
            setattr(media, name, value)
            changed.add(name)
    return changed


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


def lock_linked_media(workspace_id: int, remote: RemoteMedia) -> tuple[Media | None, bool]:
    """The row linked to FastPix media ``remote`` (locked for update, None if there is none),
    and whether it has every playback id ``remote`` reports: one query for both."""
    wanted = sorted({p.id for p in storable_playback_ids(remote)})
    using = router.db_for_write(Media)
    connection = connections[using]
    # Each count of playback ids is a statement of its own (and, prepared, a plan per
    # connection): a media reporting more than a few takes the ORM instead.
    if statements.statements_usable(connection) and len(wanted) <= MAX_WRITTEN_PLAYBACK_IDS:
        sql = _lock_linked_sql(connection, len(wanted))
        found = statements.rows(
            Media, using, sql, [*wanted, workspace_id, remote.id], ["fastpix_known_playback_ids"]
        )
        media = found[0] if found else None
    else:
        rows = Media.objects.select_for_update().filter(
            workspace_id=workspace_id, fastpix_id=remote.id
        )
        if wanted:
            rows = rows.annotate(fastpix_known_playback_ids=known_playback_ids(wanted))
        media = next(iter(rows.order_by()[:1]), None)
    if media is None:
        return None, False
    # NULL (no such playback id) and no annotation (none wanted) both count as 0.
    known = getattr(media, "fastpix_known_playback_ids", None) or 0
    return media, known == len(wanted)


# FastPix media have one or two playback ids; more take the ORM (see lock_linked_media).
MAX_WRITTEN_PLAYBACK_IDS = 8


def _lock_linked_sql(connection: BaseDatabaseWrapper, wanted: int) -> str:
    """``lock_linked_media``'s statement for ``wanted`` playback ids (written once each)."""

    def write() -> str:
        media = statements.table(connection, Media)
        playback = statements.table(connection, PlaybackId)
        pk = statements.column(connection, Media._meta.pk)
        media_column = partial(statements.field_column, connection, Media)
        playback_column = partial(statements.field_column, connection, PlaybackId)
        known = "0"
        if wanted:
            known = (
                f"(SELECT COUNT(*) FROM {playback} "  # noqa: S608 - names from the models
                f"WHERE {playback}.{playback_column('media')} = {media}.{pk} "
                f"AND {playback}.{playback_column('fastpix_id')} "
                f"IN ({statements.placeholders(wanted)}))"
            )
        return (
            f"SELECT {statements.columns_of(connection, Media)}, "  # noqa: S608
            f"{known} AS fastpix_known_playback_ids FROM {media} "
            f"WHERE {media}.{media_column('workspace')} = %s "
            f"AND {media}.{media_column('fastpix_id')} = %s{statements.for_update(connection)}"
        )

    return statements.written_once(("lock-linked-media", connection.vendor, wanted), write)


def known_playback_ids(wanted: list[str]) -> Subquery:
    """An annotation: how many of the playback ids ``wanted`` the media row has (NULL: none)."""
    known = (
        PlaybackId.objects.filter(media=OuterRef("pk"), fastpix_id__in=wanted)
        .order_by()
        .values("media")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Subquery(known[:1])


def apply_remote_state(
    media: Media,
    remote: RemoteMedia,
    *,
    status_hint: str | None = None,
    occurred_at: Any = None,
    playback_ids_known: bool = False,
) -> list[str]:
    """Bring ``media`` up to ``remote`` (inside the caller's transaction); returns changed fields.

    Status moves forward only, so duplicate and out-of-order reports converge. Other fields
    move forward too (see ``forward_changes``) unless the report is older than the last one
    applied. ``playback_ids_known``: the row is known to have every playback id reported.
    """
    changed: list[str] = []
    newer = occurred_at is None or media.last_event_at is None or occurred_at >= media.last_event_at
    if newer:
        changed += sorted(forward_changes(media, remote, status_hint or remote.status))
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
        statements.update_fields(media, [*changed, "updated_at"])
    if not playback_ids_known:
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
            PlaybackId(media=media, fastpix_id=p.id, access_policy=playback_policy(p.access_policy))
            for p in storable_playback_ids(remote)
            if p.id not in known
        ],
        ignore_conflicts=True,
    )


def storable_playback_ids(remote: RemoteMedia) -> list[RemotePlaybackId]:
    """The playback ids of ``remote`` a row can hold (a wider one is skipped, see below)."""
    return [p for p in remote.playback_ids if len(p.id) <= PLAYBACK_ID_WIDTH]


# Wider ids are not FastPix's: skipped rather than cut (a cut id would address nothing).
FASTPIX_ID_WIDTH = _width("fastpix_id")
PLAYBACK_ID_WIDTH = int(PlaybackId._meta.get_field("fastpix_id").max_length or 0)


def playback_policy(value: str | None) -> str:
    return value if value in ("public", "private", "drm") else "public"


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
    signals.send_after_commit(signal, sender=Media, **kwargs)


# --- operator actions ---


def refresh_media(media: Media) -> Media:
    """Fetch the media from FastPix and apply what it says (forward-only status)."""
    if not media.fastpix_id:
        raise MediaStateError(f"Media {media.pk} has no FastPix id yet: nothing to refresh.")
    try:
        remote = api.call(media.workspace, FastPixClient.get_media, media.fastpix_id)
    except NotFoundError:
        mark_deleted(media)
        return media
    with transaction.atomic():
        apply_remote_state(media, remote)
    return media


def retry_media_creation(media: Media) -> Media:
    """Send a failed or pending media through creation again (a new reference if it failed)."""
    with transaction.atomic():
        # The committed row, locked: a webhook may have linked it since it was loaded.
        media = Media.objects.select_for_update().get(pk=media.pk)
        if media.fastpix_id:
            raise MediaStateError(f"Media {media.pk} already exists in FastPix: nothing to retry.")
        if media.status not in (MediaStatus.PENDING, MediaStatus.FAILED):
            raise MediaStateError(f"Media {media.pk} is {media.status}; nothing to retry.")
        if media.status == MediaStatus.FAILED:
            # A fresh reference: FastPix replays the first answer to a repeated idempotency key,
            # which for a refused payload would be the same refusal.
            media.status = MediaStatus.PENDING
            media.error = ""
            media.reference = uuid.uuid4()
            media.creation_attempts = 0
            media.next_attempt_at = None
            media.save(
                update_fields=[
                    "status",
                    "error",
                    "reference",
                    "creation_attempts",
                    "next_attempt_at",
                    "updated_at",
                ]
            )
        transaction.on_commit(partial(queue_creation, media.pk))
    return media


def attempt_deletion(media_id: int, attempt: int = 1) -> None:
    """One remote-deletion attempt (the task body); a transient failure queues the next one.

    FastPix's transient answers and database errors reschedule with the creation backoff (on
    backends that run jobs later), up to CREATION_MAX_ATTEMPTS; a refusal (403, 400) or the
    last attempt is logged as an error and leaves the row as it is, for the admin or
    ``fastpix_media delete``.
    """
    try:
        media = Media.objects.select_related("workspace").get(pk=media_id)
        delete_remote_media(media)
    except Media.DoesNotExist:
        return
    except PERMANENT_ERRORS as exc:
        logger.error("FastPix refused to delete media %s: %s", media_id, exc)
    except (FastPixError, DatabaseError) as exc:
        if isinstance(exc, DatabaseError):
            _drop_broken_connections()
        if attempt >= int(fastpix_settings.CREATION_MAX_ATTEMPTS) or not jobs.can_defer(
            "delete_media"
        ):
            logger.error("Deleting media %s in FastPix failed for good: %s", media_id, exc)
            return
        wait = max(getattr(exc, "retry_after", None) or 0.0, creation_backoff(attempt))
        run_after = timezone.now() + timedelta(seconds=wait)
        logger.warning(
            "Deleting media %s failed (%s); next attempt at %s", media_id, exc, run_after
        )
        jobs.enqueue("delete_media", media_id, attempt + 1, run_after=run_after)


def delete_remote_media(media: Media) -> Media:
    """Delete the media in FastPix (a 404 counts as done) and mark the row deleted."""
    if media.fastpix_id:
        with contextlib.suppress(NotFoundError):  # already gone: deleting is idempotent
            api.call(media.workspace, FastPixClient.delete_media, media.fastpix_id)
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
            signals.send_after_commit(signals.media_deleted, sender=Media, media=media)
