"""Turning source-model saves into pending media rows, queued after commit."""

from __future__ import annotations

import logging
from functools import partial

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from .. import signals
from ..models import Media, MediaStatus, Workspace
from ..sources import MediaSource
from .media import url_problem

logger = logging.getLogger(__name__)


def media_of(instance: models.Model) -> models.QuerySet[Media]:
    """The media produced by ``instance`` (newest first)."""
    content_type = ContentType.objects.get_for_model(instance)
    return Media.objects.filter(content_type=content_type, object_id=str(instance.pk)).order_by(
        "-created_at", "-pk"
    )


def resolve_workspace(source: MediaSource, instance: models.Model) -> Workspace:
    """The workspace the instance's media belongs to (a slug or a callable's answer)."""
    chosen = source.workspace(instance) if callable(source.workspace) else source.workspace
    if isinstance(chosen, Workspace):
        return chosen
    return Workspace.objects.get(slug=str(chosen))


def media_for_saved_source(source: MediaSource, instance: models.Model) -> Media | None:
    """Create a pending media for a new or changed URL and queue its creation on commit.

    Runs inside the caller's save transaction: a rolled-back save takes the row with it,
    and the task is only queued once the save has committed. No request is made here.
    """
    from ..tasks import enqueue_create, enqueue_delete

    url = source.url_of(instance)
    current = media_of(instance).exclude(status=MediaStatus.DELETED).first()
    if not url or (current is not None and current.source_url == url):
        return None
    problem = url_problem(url)
    media = Media.objects.create(
        workspace=resolve_workspace(source, instance),
        source_url=url[:2000],
        status=MediaStatus.FAILED if problem else MediaStatus.PENDING,
        error=problem or "",
        access_policy=source.access_policy_of(instance),
        title=source.title_of(instance),
        metadata=source.metadata_of(instance),
        content_type=ContentType.objects.get_for_model(instance),
        object_id=str(instance.pk),
    )
    if problem:
        logger.warning("Not creating FastPix media for %r: %s", instance, problem)
        transaction.on_commit(
            partial(signals.media_failed.send, sender=Media, media=media, reason=problem)
        )
    else:
        transaction.on_commit(partial(enqueue_create, media.pk))
    if current is not None and source.on_url_change == "delete":
        transaction.on_commit(partial(enqueue_delete, current.pk))
    return media
