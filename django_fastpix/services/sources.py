"""Turning source-model saves into pending media rows, queued after commit."""

from __future__ import annotations

import logging
from functools import partial

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

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
    workspace = Workspace.objects.filter(slug=str(chosen)).first()
    if workspace is None:
        raise LookupError(f"no workspace has the slug {str(chosen)!r} (create it first)")
    return workspace


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


def media_for_saved_source(source: MediaSource, instance: models.Model) -> Media | None:
    """Create a pending media for a new or changed URL and queue its creation on commit.

    Runs inside the caller's save transaction: a rolled-back save takes the row with it,
    and the task is only queued once the save has committed. No request is made here, and
    nothing here may fail the site's save: a workspace that cannot be resolved is logged
    (``fastpix_doctor`` lists the object, ``fastpix_media recover`` creates its media once
    fixed); a source option that raises leaves a failed media carrying the reason.
    """
    url = source.url_of(instance)
    current = media_of(instance).exclude(status=MediaStatus.DELETED).first()
    if not url or (current is not None and current.source_url == url):
        return None
    label = f"{instance._meta.label} #{instance.pk}"
    adapter = get_adapter()
    if not adapter.should_create(source, instance):
        logger.info("The adapter declined a FastPix media for %s", label)
        return None
    try:
        workspace = resolve_workspace(source, instance)
    except Exception as exc:  # a missing workspace or a broken callable: the site's save wins
        logger.error(
            "No FastPix media for %s: its workspace could not be resolved (%s: %s). "
            "Fix the source's workspace, then run `manage.py fastpix_media recover`.",
            label,
            type(exc).__name__,
            exc,
        )
        return None
    problem = url_problem(url)
    options: dict[str, object] = {}
    try:
        options = {
            "access_policy": adapter.access_policy_for(source, instance),
            "title": str(adapter.title_for(source, instance))[:255],
            "metadata": adapter.metadata_for(source, instance),
        }
    except Exception as exc:
        problem = problem or (
            f"Could not build the media's settings from {label}: {type(exc).__name__}: {exc}"
        )
    media = Media.objects.create(
        workspace=workspace,
        source_url=url[:MAX_URL_LENGTH],
        status=MediaStatus.FAILED if problem else MediaStatus.PENDING,
        error=(problem or "")[:2000],
        content_type=ContentType.objects.get_for_model(instance),
        object_id=str(instance.pk),
        **options,
    )
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
