"""Signal receivers for source models: a save that sets or changes the URL queues a media."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

from .sources import media_sources, source_for

logger = logging.getLogger(__name__)


def connect_sources() -> None:
    """Connect the receivers to every configured source model (idempotent: dispatch_uid)."""
    for model in media_sources():
        label = model._meta.label_lower
        post_save.connect(
            source_saved, sender=model, dispatch_uid=f"django_fastpix.source_saved.{label}"
        )
        post_delete.connect(
            source_deleted, sender=model, dispatch_uid=f"django_fastpix.source_deleted.{label}"
        )


def source_saved(
    sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any
) -> None:
    """Queue a FastPix media when the URL is new; never call FastPix inside the save."""
    if raw:  # loaddata: fixtures describe state, they don't ask for new media
        return
    source = source_for(sender)
    if source is None:
        return
    from .services.sources import media_for_saved_source

    try:
        # A savepoint: whatever fails here is undone alone, and the site's save goes on.
        with transaction.atomic():
            media_for_saved_source(source, instance)
    except Exception:
        logger.exception(
            "Could not record a FastPix media for %s #%s; the object is saved. "
            "`manage.py fastpix_doctor` lists such objects, `fastpix_media recover` retries.",
            sender._meta.label,
            instance.pk,
        )


def source_deleted(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """Optionally delete the FastPix media of a deleted source, after the delete commits."""
    source = source_for(sender)
    if source is None or not source.delete_remote_on_delete:
        return
    from .services.media import queue_deletion
    from .services.sources import media_of

    for media in media_of(instance):
        transaction.on_commit(partial(queue_deletion, media.pk))
