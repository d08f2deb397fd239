"""Sync: page through FastPix's media list and upsert local rows in bulk, a page at a time."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .. import signals
from ..client import FastPixClient
from ..client import Media as RemoteMedia
from ..conf import fastpix_settings
from ..exceptions import NotFoundError, SyncInProgressError
from ..models import Media, MediaStatus, PlaybackId, Workspace
from . import api, statements
from .media import (
    FASTPIX_ID_WIDTH,
    advance_status,
    fields_from_remote,
    forward_changes,
    known_playback_ids,
    link_remote,
    parse_reference,
    playback_policy,
    reference_key,
    storable_playback_ids,
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
    ``SyncInProgressError``. Each page costs a bounded number of queries whatever the table
    size (not one per media): the token lookup of its request, then ``upsert_page``'s 2 or 3.
    """
    report = SyncReport()
    started = timezone.now()
    owner = _take_sync_lease(workspace)
    renewed = time.monotonic()
    try:
        for page in api.pages(workspace, FastPixClient.list_media, "asc"):
            report.pages += 1
            report.total = page.total
            # Renewed once a quarter of the hold has passed, not on every page: a write
            # per page would be most of a no-change sync's cost.
            if time.monotonic() - renewed > _sync_lease().total_seconds() / 4:
                _renew_sync_lease(workspace, owner)
                renewed = time.monotonic()
            try:
                with transaction.atomic():
                    upsert_page(workspace, page.items, report)
            except IntegrityError:
                # A webhook inserted one of this page's media since the page was read.
                with transaction.atomic():
                    upsert_page_carefully(workspace, page.items, report)
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
    """Create or update the rows of one page: at most 3 queries on a first sync (read, media
    insert, playback ids insert), 2 when nothing changed (read, last-synced stamp), one more
    when rows changed.

    Run inside a transaction. A webhook that inserts a stand-in row for one of the page's
    media between the read and the insert makes the insert fail with ``IntegrityError``: the
    caller rolls the page back and runs ``upsert_page_carefully``, which lets such rows win
    instead (and reads back the ids it needs).
    """
    _upsert(workspace, items, report, careful=False)


def upsert_page_carefully(
    workspace: Workspace, items: list[RemoteMedia], report: SyncReport
) -> None:
    """``upsert_page`` for a page whose first attempt met a row inserted meanwhile."""
    _upsert(workspace, items, report, careful=True)


@dataclass
class _Page:
    """What one page changes, applied to the report only once its writes have succeeded."""

    created: list[Media] = field(default_factory=list)
    updated: list[Media] = field(default_factory=list)
    changed_fields: set[str] = field(default_factory=set)
    unchanged_pks: list[int] = field(default_factory=list)
    # (media, remote) pairs whose row lacks some of the playback ids FastPix reports.
    playback_missing: list[tuple[Media, RemoteMedia]] = field(default_factory=list)
    # Rows created here whose create answer was lost, folded into a webhook's stand-in.
    unlinked: list[tuple[Media, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _upsert(
    workspace: Workspace, items: list[RemoteMedia], report: SyncReport, *, careful: bool
) -> None:
    if not items:
        return
    now = timezone.now()
    page = _Page()
    existing = _read_known(workspace, items, page)
    for remote in items:
        media = existing.get(remote.id)
        if media is None:
            if len(remote.id) > FASTPIX_ID_WIDTH:
                page.errors.append(f"Skipped a media id longer than {FASTPIX_ID_WIDTH} chars.")
                continue
            page.created.append(
                Media(
                    workspace=workspace,
                    fastpix_id=remote.id,
                    status=MediaStatus.from_fastpix(remote.status) or MediaStatus.CREATED,
                    last_synced_at=now,
                    **fields_from_remote(remote),
                )
            )
            page.playback_missing.append((page.created[-1], remote))
            continue
        if getattr(media, "fastpix_known_playback_ids", 0) != len(_playback_ids(remote)):
            page.playback_missing.append((media, remote))
        changed = forward_changes(media, remote, remote.status)
        if media.fastpix_id != remote.id:
            media.fastpix_id = remote.id
            changed.add("fastpix_id")
        if advance_status(media, remote.status) is not None:
            changed |= {"status", "error"}
        if changed:
            # Only rows and columns that differ: bulk_update's CASE per row and column is
            # what a sync spends its time on otherwise.
            media.updated_at = media.last_synced_at = now
            page.updated.append(media)
            page.changed_fields |= changed | {"updated_at", "last_synced_at"}
        else:
            page.unchanged_pks.append(media.pk)
    _write(workspace, page, now, careful=careful)
    by_id = {remote.id: remote for remote in items}
    for media, fastpix_id in page.unlinked:
        link_remote(media, by_id[fastpix_id])
    report.seen += len(items)
    report.created += len(page.created)
    report.updated += len(page.updated)
    report.unchanged += len(page.unchanged_pks)
    report.errors += page.errors


def _read_known(workspace: Workspace, items: list[RemoteMedia], page: _Page) -> dict[str, Media]:
    """The page's rows the site has, by FastPix id, locked, in one query.

    A row is found by its FastPix id, or, for a row created here whose create answer was lost,
    by the reference our metadata carries. Each row also counts which of the page's playback
    ids it has, so a page where nothing changed reads no playback id table.
    """
    references = {}
    for remote in items:
        ref = parse_reference(remote.metadata.get(reference_key()))
        if ref is not None:
            references[ref] = remote.id
    matches = Q(fastpix_id__in=[m.id for m in items])
    if references:
        matches |= Q(fastpix_id__isnull=True, reference__in=list(references))
    # Locked: a webhook committing between this read and the bulk update must not be undone.
    rows = Media.objects.select_for_update().filter(matches, workspace=workspace).order_by()
    wanted = sorted({pid for remote in items for pid in _playback_ids(remote)})
    if wanted:
        rows = rows.annotate(fastpix_known_playback_ids=known_playback_ids(wanted))
    found = list(rows)
    existing = {m.fastpix_id: m for m in found if m.fastpix_id}
    for media in found:
        if media.fastpix_id:
            continue
        fastpix_id = references[media.reference]
        if fastpix_id in existing:
            # A webhook's stand-in row holds the id already: linking folds it into ours.
            page.unlinked.append((media, fastpix_id))
        else:
            existing[fastpix_id] = media
    return existing


def _playback_ids(remote: RemoteMedia) -> set[str]:
    return {p.id for p in storable_playback_ids(remote)}


def _write(workspace: Workspace, page: _Page, now: datetime, *, careful: bool) -> None:
    if page.created:
        if careful:
            # A stand-in row a webhook made since the read wins (it is at least as current).
            Media.objects.bulk_create(page.created, ignore_conflicts=True)
        else:
            # One INSERT that returns the new rows' ids, on SQLite under Django 5.2 too.
            statements.insert_many(page.created)
    if page.updated:
        Media.objects.bulk_update(page.updated, sorted(page.changed_fields))
    if page.unchanged_pks:
        Media.objects.filter(pk__in=page.unchanged_pks).update(last_synced_at=now)
    _insert_playback_ids(workspace, page.playback_missing)


def _insert_playback_ids(workspace: Workspace, missing: list[tuple[Media, RemoteMedia]]) -> None:
    """Insert the playback ids rows lack; ids already stored are skipped by the database."""
    if not missing:
        return
    unknown_pks = [media.fastpix_id for media, _ in missing if media.pk is None]
    pks = {}
    if unknown_pks:
        # Rows the insert did not return ids for (a careful page, or a database that cannot
        # return them): one read, and a stand-in row that won gets the playback ids.
        pks = dict(
            Media.objects.filter(workspace=workspace, fastpix_id__in=unknown_pks).values_list(
                "fastpix_id", "pk"
            )
        )
    rows = []
    for media, remote in missing:
        media_pk = media.pk if media.pk is not None else pks.get(media.fastpix_id)
        if media_pk is None:
            continue
        rows += [
            PlaybackId(
                media_id=media_pk, fastpix_id=p.id, access_policy=playback_policy(p.access_policy)
            )
            for p in storable_playback_ids(remote)
        ]
    PlaybackId.objects.bulk_create(rows, ignore_conflicts=True)
