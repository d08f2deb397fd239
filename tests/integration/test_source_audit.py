"""objects_without_media: source objects holding a video URL that no Media row points to."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from django_fastpix.models import Media, MediaStatus, Workspace
from django_fastpix.services.source_audit import objects_without_media
from django_fastpix.sources import source_for
from tests.testapp.models import Lesson

pytestmark = pytest.mark.django_db

VIDEO = "https://cdn.example.com/lesson.mp4"


def lesson(title: str, url: str = VIDEO, slug: str = "ghost") -> Lesson:
    """A lesson saved through the real save path; "ghost" is a workspace that doesn't exist."""
    return Lesson.objects.create(title=title, video_url=url, workspace_slug=slug)


def test_only_objects_with_a_url_and_no_media_at_all(workspace, django_assert_num_queries):
    orphans = [lesson("orphan 1"), lesson("orphan 2")]
    assert not Media.objects.exists()  # their workspace could not be resolved: no media
    with_media = lesson("has media", slug=workspace.slug)
    assert Media.objects.filter(object_id=str(with_media.pk)).exists()
    # Any media counts, whatever its state: recovery must not make a second one.
    for status in (MediaStatus.FAILED, MediaStatus.DELETED):
        other = lesson(f"{status} media")
        Media.objects.create(
            workspace=workspace,
            status=status,
            content_type=ContentType.objects.get_for_model(Lesson),
            object_id=str(other.pk),
        )
    lesson("no url", url="")
    lesson("blank url", url="   ")

    source = source_for(Lesson)
    assert source is not None
    found = objects_without_media(source)
    with django_assert_num_queries(1):
        assert list(found) == orphans


def test_a_media_of_another_model_with_the_same_id_does_not_count(workspace):
    orphan = lesson("orphan")
    # Same object id, but it belongs to a Workspace object, not to the lesson.
    Media.objects.create(
        workspace=workspace,
        content_type=ContentType.objects.get_for_model(Workspace),
        object_id=str(orphan.pk),
    )
    source = source_for(Lesson)
    assert source is not None
    assert list(objects_without_media(source)) == [orphan]
