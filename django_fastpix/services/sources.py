"""Turning source-model saves into pending media rows, queued after commit."""

from __future__ import annotations

import logging
import threading
from functools import partial
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connections, models, transaction

from .. import signals
from ..adapter import FastPixAdapter, get_adapter
from ..models import Media, MediaStatus, Workspace
from ..sources import MediaSource
from .media import MAX_URL_LENGTH, queue_creation, queue_deletion, url_problem
from .media_insert import StaleWorkspace, insert_media, statement_can_record, video_fk

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
# again. Never trusted alone: the INSERT that uses an entry checks it (see media_insert).
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
        media = _record(source, instance, workspace, values)
    except StaleWorkspace:
        assert isinstance(workspace, str)
        _forget_workspace(workspace)
        try:
            workspace = _workspace_by_slug(workspace)
        except LookupError as exc:
            _log_unresolved(label, exc)
            return None
        media = _record(source, instance, workspace, values)
    if problem:
        logger.warning("Not creating FastPix media for %s: %s", label, problem)
        signals.send_after_commit(signals.media_failed, sender=Media, media=media, reason=problem)
        transaction.on_commit(partial(get_adapter().creation_failed, media, problem), robust=True)
    else:
        transaction.on_commit(partial(queue_creation, media.pk))
    if current is not None and source.on_url_change == "delete":
        transaction.on_commit(partial(queue_deletion, current.pk))
    return media


def needs_no_savepoint(source: MediaSource, instance: models.Model, using: str) -> bool:
    """Whether a new object's media can be recorded inside the site's transaction without a
    savepoint of its own: on PostgreSQL one failed statement aborts the whole transaction, so
    the app's work normally runs in a savepoint (two more round trips), which undoes a failure
    of the app's own statements or of the site's code it calls (adapter, option callables).

    None is needed when that work is one statement that no value can make fail and no site
    code runs: the default adapter, the workspace a slug already remembered, the title a
    field, no metadata callable, a known access policy, an object id that fits, and the
    single-statement INSERT (which also points the ``video_field``). What can still fail it
    (a lost connection, a timeout) fails the site's own next statement just the same.
    """
    if connections[using].vendor != "postgresql" or type(get_adapter()) is not FastPixAdapter:
        return False
    model_fields = {f.name for f in instance._meta.concrete_fields}
    return (
        isinstance(source.workspace, str)
        and source.workspace in _WORKSPACE_IDS
        and source.access_policy in ("public", "private")
        and source.metadata is None
        and isinstance(source.title, str)
        and source.title in model_fields
        and source.url_field in model_fields
        and len(str(instance.pk)) <= OBJECT_ID_WIDTH
        and statement_can_record(using, instance, video_fk(source, instance))
    )


OBJECT_ID_WIDTH = int(Media._meta.get_field("object_id").max_length or 0)


def _log_unresolved(label: str, exc: Exception) -> None:
    logger.error(
        "No FastPix media for %s: its workspace could not be resolved (%s: %s). "
        "Fix the source's workspace, then run `manage.py fastpix_media recover`.",
        label,
        type(exc).__name__,
        exc,
    )


def _record(
    source: MediaSource, instance: models.Model, workspace: Workspace | str, values: dict[str, Any]
) -> Media:
    """INSERT the media row and point the source's ``video_field`` at it, as one unit.

    A workspace given by slug is its remembered id, checked by the INSERT itself: a stale id
    raises ``StaleWorkspace`` and writes nothing. Inside the site's transaction the caller
    (the save receiver) has made a savepoint for all of the app's work: a failed statement
    here is undone with it, never aborting the site's transaction.
    """
    if isinstance(workspace, Workspace):
        media, slug = Media(workspace=workspace, **values), None
    else:
        media, slug = Media(workspace_id=_WORKSPACE_IDS[workspace], **values), workspace
    pointer = video_fk(source, instance)
    insert_media(media, slug, instance, pointer)
    if pointer is not None:
        setattr(instance, pointer.name, media)  # the in-memory object follows, for the caller
    return media
