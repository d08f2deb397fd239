"""Signal receivers for source models: a save that sets or changes the URL queues a media."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import models, router, transaction
from django.db.models.signals import post_delete, post_init, post_save, pre_save

from . import signals
from .adapter import FastPixAdapter, get_adapter
from .models import AccessToken
from .services.media import queue_deletion, requeue_pending
from .services.sources import media_for_saved_source, media_of, needs_no_savepoint
from .sources import MediaSource, media_sources, source_for

logger = logging.getLogger(__name__)


# On a source instance: (url field, its value) as loaded or last saved.
SAVED_URL = "_fastpix_saved_url"
# Model -> the url field whose value post_init records (set when the receivers connect).
_URL_FIELDS: dict[type[models.Model], str] = {}


def connect_sources() -> None:
    """Connect the receivers to every configured source model (idempotent: dispatch_uid)."""
    for model, source in media_sources().items():
        label = model._meta.label_lower
        _URL_FIELDS[model] = source.url_field
        post_init.connect(
            source_loaded, sender=model, dispatch_uid=f"django_fastpix.source_loaded.{label}"
        )
        pre_save.connect(
            source_saving, sender=model, dispatch_uid=f"django_fastpix.source_saving.{label}"
        )
        post_save.connect(
            source_saved, sender=model, dispatch_uid=f"django_fastpix.source_saved.{label}"
        )
        post_delete.connect(
            source_deleted, sender=model, dispatch_uid=f"django_fastpix.source_deleted.{label}"
        )


def source_loaded(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """Remember the URL an instance starts with: saving it unchanged then costs no query."""
    name = _URL_FIELDS.get(sender)
    if name is not None and name in instance.__dict__:  # not a deferred field
        instance.__dict__[SAVED_URL] = (name, instance.__dict__[name])


def source_saving(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """An instance built in code (not loaded) says nothing about the row it may overwrite."""
    if instance._state.adding:
        instance.__dict__.pop(SAVED_URL, None)


def source_saved(
    sender: type[models.Model],
    instance: models.Model,
    created: bool = False,
    raw: bool = False,
    **kwargs: Any,
) -> None:
    """Queue a FastPix media when the URL is new; never call FastPix inside the save."""
    if raw:  # loaddata: fixtures describe state, they don't ask for new media
        return
    source = source_for(sender)
    if source is None:
        return
    if not created and _unchanged(source, instance):
        return
    # Known again only once this save commits: a rolled-back save must look again next time.
    instance.__dict__.pop(SAVED_URL, None)
    using = router.db_for_write(sender, instance=instance)
    try:
        in_site_transaction = transaction.get_connection(using).in_atomic_block
        if in_site_transaction and not (created and needs_no_savepoint(source, instance, using)):
            # Inside the site's transaction, everything the app does (its look-ups and the
            # adapter's callables too) is undone alone on failure: on PostgreSQL one failed
            # statement would otherwise abort the site's whole transaction.
            with transaction.atomic(using=using):
                media_for_saved_source(source, instance, new=created)
        else:
            media_for_saved_source(source, instance, new=created)
    except Exception:
        logger.exception(
            "Could not record a FastPix media for %s #%s; the object is saved. "
            "`manage.py fastpix_doctor` lists such objects, `fastpix_media recover` retries.",
            sender._meta.label,
            instance.pk,
        )
    else:
        saved = (source.url_field, getattr(instance, source.url_field))
        transaction.on_commit(partial(_remember_url, instance, saved), using=using)


def _remember_url(instance: models.Model, saved: tuple[str, Any]) -> None:
    instance.__dict__[SAVED_URL] = saved


def _unchanged(source: MediaSource, instance: models.Model) -> bool:
    """Whether this save needs nothing, known without a query.

    The URL is the one the instance was loaded with (or last saved with), and its media is
    known to exist (the video field points at one) or could only be missing through a failure
    that recovery repairs: only an adapter's ``should_create`` can turn an unchanged URL into a
    media to create now (a draft published), so such an adapter costs the look-up.
    """
    saved = instance.__dict__.get(SAVED_URL)
    if saved is None or saved != (source.url_field, getattr(instance, source.url_field)):
        return False
    if source.on_url_change != "keep":
        # A stale copy writing an older URL back could point at a media deleted remotely
        # since: sources that delete old media always look.
        return False
    if not source.url_of(instance):
        return True
    if source.video_field:
        field = instance._meta.get_field(source.video_field)
        if getattr(instance, field.attname, None) is not None:  # type: ignore[union-attr]
            return True
    return type(get_adapter()).should_create is FastPixAdapter.should_create


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
