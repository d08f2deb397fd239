"""objects_without_media with a UUID primary key (SQLite casts it without dashes)."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from django_fastpix.models import Media
from django_fastpix.services.source_audit import objects_without_media
from django_fastpix.sources import MediaSource
from tests.testapp.models import Clip

pytestmark = pytest.mark.django_db


def test_uuid_keyed_objects_with_media_are_not_listed(workspace):
    with_media = Clip.objects.create(video_url="https://cdn.example.com/a.mp4")
    without = Clip.objects.create(video_url="https://cdn.example.com/b.mp4")
    Clip.objects.create(video_url="")  # no URL: never listed
    Media.objects.create(
        workspace=workspace,
        source_url=with_media.video_url,
        content_type=ContentType.objects.get_for_model(Clip),
        object_id=str(with_media.pk),
    )
    source = MediaSource(model=Clip, url_field="video_url", workspace="prod")
    assert list(objects_without_media(source)) == [without]
