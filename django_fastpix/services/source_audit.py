"""Auditing media sources: site objects that hold a video URL but never got a media."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Cast, Length, Replace, Trim
from django.db.models.lookups import GreaterThan

from ..models import Media
from ..sources import MediaSource


def objects_without_media(source: MediaSource) -> models.QuerySet[models.Model]:
    """Objects of ``source.model`` with a non-blank URL and no Media row at all (any status).

    One query: a NOT EXISTS over Media's (content_type, object_id) index. ``object_id`` holds
    ``str(pk)``, so the pk is cast to text to compare (for UUID keys, with or without dashes:
    SQLite stores a UUID as 32 hex digits).
    """
    model = source.model
    pk_text = Cast(models.OuterRef("pk"), models.CharField())
    media = Media.objects.filter(content_type=ContentType.objects.get_for_model(model))
    if isinstance(model._meta.pk, models.UUIDField):
        # SQLite stores (and casts) a UUID as 32 hex digits; object_id holds str(uuid).
        media = media.annotate(
            bare_id=Replace("object_id", models.Value("-"), models.Value(""))
        ).filter(models.Q(object_id=pk_text) | models.Q(bare_id=pk_text))
    else:
        media = media.filter(object_id=pk_text)
    # Blank and NULL URLs make no media (the save path strips the URL): neither counts here.
    has_url = GreaterThan(Length(Trim(source.url_field)), 0)
    return model._default_manager.filter(has_url).filter(~models.Exists(media)).order_by("pk")
