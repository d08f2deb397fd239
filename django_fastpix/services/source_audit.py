"""Auditing media sources: site objects that hold a video URL but never got a media."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models.functions import Cast, Length, Trim
from django.db.models.lookups import GreaterThan

from ..models import Media
from ..sources import MediaSource


def objects_without_media(source: MediaSource) -> models.QuerySet[models.Model]:
    """Objects of ``source.model`` with a non-blank URL and no Media row at all (any status).

    One query: a NOT EXISTS over Media's (content_type, object_id) index. ``object_id`` holds
    ``str(pk)``, so the pk is cast to text to compare; that matches integer and text keys (and
    UUID keys on PostgreSQL; SQLite stores a UUID as 32 hex digits without dashes).
    """
    model = source.model
    media = Media.objects.filter(
        content_type=ContentType.objects.get_for_model(model),
        object_id=Cast(models.OuterRef("pk"), models.CharField()),
    )
    # Blank and NULL URLs make no media (the save path strips the URL): neither counts here.
    has_url = GreaterThan(Length(Trim(source.url_field)), 0)
    return model._default_manager.filter(has_url).filter(~models.Exists(media)).order_by("pk")
