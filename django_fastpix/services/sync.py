"""Sync: page through FastPix's media list and upsert local rows in bulk, a page at a time."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import signals
from ..client import FastPixClient
from ..client import Media as RemoteMedia
from ..conf import fastpix_settings
from ..exceptions import NotFoundError, SyncInProgressError
from ..models import Media, MediaStatus, PlaybackId, Workspace
from . import api
from .media import (
    FASTPIX_ID_WIDTH,
    PLAYBACK_ID_WIDTH,
    advance_status,
    fields_from_remote,
    forward_changes,
    link_remote,
    parse_reference,
    playback_policy,
    reference_key,
)


@dataclass
class SyncReport:
    """Counts of one sync run."""

    pages: int = 0
    seen: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    marked_deleted: int = 0
    total: int | None = None
    errors: list[str] = field(default_factory=list)


def sync_media(
    workspace: Workspace,
    *,
    progress: Callable[[SyncReport], None] | None = None,
    mark_missing_deleted: bool = True,
) -> SyncReport:
    """Bring local media of ``workspace`` in line with FastPix; repairs missed webhooks.

    One sync per workspace at a time, in any number of processes: a second one raises
    ``SyncInProgressError``. Each page costs a bounded number of queries (not one per media):
    the token lookup, one read of the known rows, one bulk insert, one bulk update, and two
    for playback ids.
    """
    report = SyncReport()
    started = timezone.now()
    owner = _take_sync_lease(workspace)
    try:
        for page in api.pages(workspace, FastPixClient.list_media, "asc"):
            report.pages += 1
            report.total = page.total
            with transaction.atomic():
                _renew_sync_lease(workspace, owner)
                upsert_page(workspace, page.items, report)
            if progress:
                progress(report)
        # Only after a listing that saw every media FastPix counted (a delete during the sync
        # shifts pages and hides some): then a row it did not list was deleted there.
        if mark_missing_deleted and report.seen == (report.total or 0):
            report.marked_deleted = sweep_unlisted(workspace, started)
    finally:
        Workspace.objects.filter(pk=workspace.pk, sync_lease_owner=owner).update(
            sync_lease_until=None, sync_lease_owner=""
        )
    return report


def _take_sync_lease(workspace: Workspace) -> str:
    """Hold the workspace for this sync, or raise if another sync holds it."""
    now = timezone.now()
    owner = uuid.uuid4().hex
    # A conditional UPDATE: the database decides, so two syncs starting together never both win.
    taken = (
        Workspace.objects.filter(pk=workspace.pk)
        .filter(Q(sync_lease_until__isnull=True) | Q(sync_lease_until__lt=now))
        .update(sync_lease_until=now + _sync_lease(), sync_lease_owner=owner)
    )
    if not taken:
        until = (
            Workspace.objects.filter(pk=workspace.pk)
            .values_list("sync_lease_until", flat=True)
            .first()
        )
        raise SyncInProgressError(workspace.slug, until)
    return owner


def _renew_sync_lease(workspace: Workspace, owner: str) -> None:
    Workspace.objects.filter(pk=workspace.pk, sync_lease_owner=owner).update(
        sync_lease_until=timezone.now() + _sync_lease()
    )


def _sync_lease() -> timedelta:
    return timedelta(seconds=float(fastpix_settings.SYNC_LEASE_SECONDS))


def sweep_unlisted(workspace: Workspace, started: datetime) -> int:
    """Mark deleted the linked rows this sync did not see, once FastPix confirms each is gone.

    Not seeing a media is no proof: a delete during the listing shifts the later pages back
    by one, so one live media goes unlisted while the counts still agree. Each candidate is
    asked for by id, and only a 404 marks it deleted (a status nothing can undo).
    """
    unseen = list(
        Media.objects.filter(workspace=workspace, fastpix_id__isnull=False, updated_at__lt=started)
        .exclude(status=MediaStatus.DELETED)
        # Every listed row got last_synced_at >= started; a row linked by a create task
        # while the sync ran has a newer updated_at and is left alone.
        .filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=started))
        .values_list("pk", "fastpix_id")
    )
    confirmed = [pk for pk, fastpix_id in unseen if _gone_in_fastpix(workspace, str(fastpix_id))]
    with transaction.atomic():
        gone = list(
            Media.objects.select_for_update()
            .filter(pk__in=confirmed, updated_at__lt=started)
            .exclude(status=MediaStatus.DELETED)
        )
        for media in gone:
            media.status = MediaStatus.DELETED
            media.updated_at = timezone.now()
            signals.send_after_commit(signals.media_deleted, sender=Media, media=media)
        Media.objects.bulk_update(gone, ["status", "updated_at"], batch_size=500)
    return len(gone)


def _gone_in_fastpix(workspace: Workspace, fastpix_id: str) -> bool:
    try:
        api.call(workspace, FastPixClient.get_media, fastpix_id)
    except NotFoundError:
        return True
    return False


def upsert_page(workspace: Workspace, items: list[RemoteMedia], report: SyncReport) -> None:
    """Create or update the rows of one page with a fixed number of queries."""
    if not items:
        return
    report.seen += len(items)
    ids = [m.id for m in items]
    references = {}
    for remote in items:
        ref = parse_reference(remote.metadata.get(reference_key()))
        if ref is not None:
            references[ref] = remote.id
    # Locked: a webhook committing between this read and the bulk update must not be undone.
    locked = Media.objects.select_for_update()
    existing = {
        m.fastpix_id or "": m for m in locked.filter(workspace=workspace, fastpix_id__in=ids)
    }
    # Rows created locally whose create answer was lost carry only our reference.
    unlinked: list[tuple[Media, str]] = []
    if references:
        for media in locked.filter(
            workspace=workspace, fastpix_id__isnull=True, reference__in=list(references)
        ):
            fastpix_id = references[media.reference]
            if fastpix_id in existing:
                # A webhook's stand-in row holds the id already: linking folds it into ours.
                unlinked.append((media, fastpix_id))
            else:
                existing[fastpix_id] = media
    now = timezone.now()
    to_create: list[Media] = []
    to_update: list[Media] = []
    changed_fields: set[str] = set()
    seen_pks: list[int] = []
    for remote in items:
        found = existing.get(remote.id)
        if found is None:
            if len(remote.id) > FASTPIX_ID_WIDTH:
                report.errors.append(f"Skipped a media id longer than {FASTPIX_ID_WIDTH} chars.")
                continue
            to_create.append(
                Media(
                    workspace=workspace,
                    fastpix_id=remote.id,
                    status=MediaStatus.from_fastpix(remote.status) or MediaStatus.CREATED,
                    last_synced_at=now,
                    **fields_from_remote(remote),
                )
            )
            continue
        media = found
        seen_pks.append(media.pk)
        changed = forward_changes(media, remote, remote.status)
        if media.fastpix_id != remote.id:
            media.fastpix_id = remote.id
            changed.add("fastpix_id")
        if advance_status(media, remote.status) is not None:
            changed |= {"status", "error"}
        if changed:
            # Only rows and columns that differ: bulk_update's CASE per row and column is
            # what a sync spends its time on otherwise.
            media.updated_at = now
            to_update.append(media)
            changed_fields |= changed | {"updated_at"}
    if to_create:
        # A webhook may have made a stand-in row for one of these since the read above; that
        # row wins (it is at least as current), rather than the page failing on the constraint.
        Media.objects.bulk_create(to_create, ignore_conflicts=True)
        report.created += len(to_create)
    if to_update:
        Media.objects.bulk_update(to_update, sorted(changed_fields))
        report.updated += len(to_update)
    if seen_pks:
        Media.objects.filter(pk__in=seen_pks).update(last_synced_at=now)
        report.unchanged += len(seen_pks) - len(to_update)
    _upsert_playback_ids(workspace, items)
    by_id = {remote.id: remote for remote in items}
    for media, fastpix_id in unlinked:
        link_remote(media, by_id[fastpix_id])


def _upsert_playback_ids(workspace: Workspace, items: list[RemoteMedia]) -> None:
    wanted = {p.id: (m.id, p.access_policy) for m in items for p in m.playback_ids}
    if not wanted:
        return
    known = set(
        PlaybackId.objects.filter(fastpix_id__in=list(wanted)).values_list("fastpix_id", flat=True)
    )
    missing = {pid: v for pid, v in wanted.items() if pid not in known}
    if not missing:
        return
    media_pks = dict(
        Media.objects.filter(
            workspace=workspace, fastpix_id__in={mid for mid, _ in missing.values()}
        ).values_list("fastpix_id", "pk")
    )
    PlaybackId.objects.bulk_create(
        [
            PlaybackId(
                media_id=media_pks[mid], fastpix_id=pid, access_policy=playback_policy(policy)
            )
            for pid, (mid, policy) in missing.items()
            if mid in media_pks and len(pid) <= PLAYBACK_ID_WIDTH
        ],
        ignore_conflicts=True,
    )
