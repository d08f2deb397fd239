"""Signal receivers for source models: a save that sets or changes the URL queues a media."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

from . import signals
from .models import AccessToken
from .services.media import queue_deletion, requeue_pending
from .services.sources import media_for_saved_source, media_of
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
    for media in media_of(instance):
        transaction.on_commit(partial(queue_deletion, media.pk))


def connect_token_signals() -> None:
    """Queue a workspace's pending media again when it gains a usable token."""
    signals.token_added.connect(
        requeue_for_token, sender=AccessToken, dispatch_uid="django_fastpix.requeue.added"
    )
    signals.token_verified.connect(
        requeue_for_token, sender=AccessToken, dispatch_uid="django_fastpix.requeue.verified"
    )


def requeue_for_token(
    sender: type[AccessToken], token: AccessToken, reactivated: bool = True, **kwargs: Any
) -> None:
    """Media left pending because no token was usable go through creation again."""
    if reactivated:
        requeue_pending(token.workspace_id)
