"""Turning source-model saves into pending media rows, queued after commit."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from functools import partial
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Subquery

from .. import signals
from ..adapter import get_adapter
from ..models import Media, MediaStatus, Workspace
from ..sources import MediaSource
from .media import MAX_URL_LENGTH, queue_creation, queue_deletion, url_problem

logger = logging.getLogger(__name__)


def media_of(instance: models.Model) -> models.QuerySet[Media]:
    """The media produced by ``instance`` (newest first)."""
    content_type = ContentType.objects.get_for_model(instance)
    return Media.objects.filter(content_type=content_type, object_id=str(instance.pk)).order_by(
        "-created_at", "-pk"
    )


def resolve_workspace(source: MediaSource, instance: models.Model) -> Workspace:
    """The workspace the instance's media belongs to (the adapter's answer, a slug by default)."""
    chosen = get_adapter().workspace_for(source, instance)
    if isinstance(chosen, Workspace):
        return chosen
    return _workspace_by_slug(str(chosen))


def _workspace_by_slug(slug: str) -> Workspace:
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise LookupError(f"no workspace has the slug {slug!r} (create it first)")
    _remember_workspace(slug, workspace.pk)
    return workspace


# slug -> pk of the workspaces saves have used, so that a save does not read the workspace
# again. Never trusted alone: the INSERT that uses an entry checks it (see _insert_media).
_WORKSPACE_IDS: dict[str, int] = {}
_WORKSPACE_IDS_LOCK = threading.Lock()
_WORKSPACE_IDS_MAX = 1024


def _remember_workspace(slug: str, pk: int) -> None:
    with _WORKSPACE_IDS_LOCK:
        if len(_WORKSPACE_IDS) >= _WORKSPACE_IDS_MAX:
            _WORKSPACE_IDS.clear()
        _WORKSPACE_IDS[slug] = pk


def _forget_workspace(slug: str) -> None:
    with _WORKSPACE_IDS_LOCK:
        _WORKSPACE_IDS.pop(slug, None)


class _StaleWorkspace(Exception):
    """A remembered workspace id no longer names a workspace with that slug."""


def point_video_field(source: MediaSource, instance: models.Model, media: Media) -> None:
    """Point the source's ``video_field`` of ``instance`` at ``media`` (if it has one).

    A queryset update, not a save: no save signals (so no recursion into this module) and
    nothing else of the object written. The in-memory object follows, for the caller.
    """
    if not source.video_field:
        return
    field = instance._meta.get_field(source.video_field)
    if not isinstance(field, models.ForeignKey):  # parse_source() let no other kind through
        return
    type(instance)._base_manager.filter(pk=instance.pk).update(**{field.attname: media.pk})
    setattr(instance, field.name, media)


def media_for_saved_source(
    source: MediaSource, instance: models.Model, *, new: bool = False
) -> Media | None:
    """Create a pending media for a new or changed URL and queue its creation on commit.

    Runs inside the caller's save transaction (in a savepoint of its own): a rolled-back save
    takes the row with it, and the task is only queued once the save has committed. No request
    is made here, and nothing here may fail the site's save: a workspace that cannot be
    resolved is logged (``fastpix_doctor`` lists the object, ``fastpix_media recover`` creates
    its media once fixed); a source option that raises leaves a failed media carrying the
    reason. ``new``: the object was just inserted, so it has no media to compare with.
    """
    url = source.url_of(instance)
    if not url:
        return None
    current = None if new else media_of(instance).exclude(status=MediaStatus.DELETED).first()
    if current is not None and current.source_url == url[:MAX_URL_LENGTH]:
        return None
    label = f"{instance._meta.label} #{instance.pk}"
    adapter = get_adapter()
    if not adapter.should_create(source, instance):
        logger.info("The adapter declined a FastPix media for %s", label)
        return None
    try:
        chosen = adapter.workspace_for(source, instance)
        workspace: Workspace | str = chosen if isinstance(chosen, Workspace) else str(chosen)
        if isinstance(workspace, str) and workspace not in _WORKSPACE_IDS:
            workspace = _workspace_by_slug(workspace)
    except Exception as exc:  # a missing workspace or a broken callable: the site's save wins
        _log_unresolved(label, exc)
        return None
    problem = url_problem(url)
    values: dict[str, Any] = {}
    try:
        values = {
            "access_policy": adapter.access_policy_for(source, instance),
            "title": str(adapter.title_for(source, instance))[:255],
            "metadata": adapter.metadata_for(source, instance),
        }
    except Exception as exc:
        problem = problem or (
            f"Could not build the media's settings from {label}: {type(exc).__name__}: {exc}"
        )
    values.update(
        source_url=url[:MAX_URL_LENGTH],
        status=MediaStatus.FAILED if problem else MediaStatus.PENDING,
        error=(problem or "")[:2000],
        content_type=ContentType.objects.get_for_model(instance),
        object_id=str(instance.pk),
    )
    try:
        with _protected(source):
            media = _insert_media(workspace, values)
            point_video_field(source, instance, media)
    except _StaleWorkspace:
        assert isinstance(workspace, str)
        _forget_workspace(workspace)
        try:
            workspace = _workspace_by_slug(workspace)
        except LookupError as exc:
            _log_unresolved(label, exc)
            return None
        with _protected(source):
            media = _insert_media(workspace, values)
            point_video_field(source, instance, media)
    if problem:
        logger.warning("Not creating FastPix media for %s: %s", label, problem)
        signals.send_after_commit(signals.media_failed, sender=Media, media=media, reason=problem)
        transaction.on_commit(partial(get_adapter().creation_failed, media, problem), robust=True)
    else:
        transaction.on_commit(partial(queue_creation, media.pk))
    if current is not None and source.on_url_change == "delete":
        transaction.on_commit(partial(queue_deletion, current.pk))
    return media


def _log_unresolved(label: str, exc: Exception) -> None:
    logger.error(
        "No FastPix media for %s: its workspace could not be resolved (%s: %s). "
        "Fix the source's workspace, then run `manage.py fastpix_media recover`.",
        label,
        type(exc).__name__,
        exc,
    )


@contextlib.contextmanager
def _protected(source: MediaSource) -> Iterator[None]:
    """A savepoint inside the site's transaction (a failure here must not abort it); a
    transaction when the writes are two; nothing for a single statement in autocommit."""
    if connection.in_atomic_block or source.video_field:
        with transaction.atomic():
            yield
    else:
        yield


def _insert_media(workspace: Workspace | str, values: dict[str, Any]) -> Media:
    """INSERT the media row; a workspace given by slug is its remembered id, checked by the
    INSERT itself (a stale id inserts NULL, refused at once: ``_StaleWorkspace``)."""
    if isinstance(workspace, Workspace):
        return Media.objects.create(workspace=workspace, **values)
    pk = _WORKSPACE_IDS[workspace]
    checked = Subquery(Workspace.objects.filter(pk=pk, slug=workspace).order_by().values("pk"))
    media = Media(workspace_id=checked, **values)
    try:
        media.save(force_insert=True)
    except IntegrityError:
        raise _StaleWorkspace(workspace) from None
    media.workspace_id = pk  # what the check let through
    return media
