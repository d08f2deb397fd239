"""What registering a model as a media source adds to its saves, in queries (issue 11), and
that the cheaper path keeps "your save comes first" and exactly-once creation.

A save of the same model with no source configured is the baseline. Counts are of the
statements that touch tables (BEGIN, COMMIT and savepoints apart). Real transactions
(``transaction=True``): the creation job is queued when the save commits, on whatever task
backend the site runs (a row, a Redis call); here it is only recorded (``queued``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from django_fastpix.adapter import FastPixAdapter
from django_fastpix.models import Media, MediaStatus, Workspace
from django_fastpix.services import sources as source_services
from tests.testapp.models import Lesson

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_workspace_ids", "queued"),
]

VIDEO = "https://cdn.example.com/save-cost.mp4"
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
LESSON = {
    "url_field": "video_url",
    "workspace": "tests.testapp.models.lesson_workspace",
    "title": "title",
    "metadata": "tests.testapp.models.lesson_metadata",
}


@contextmanager
def table_statements() -> Iterator[list[str]]:
    found: list[str] = []
    with CaptureQueriesContext(connection) as ctx:
        yield found
    found.extend(
        q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)
    )


def use_source(settings, **options) -> None:
    settings.FASTPIX = {
        **settings.FASTPIX,
        "MEDIA_SOURCES": {"testapp.Lesson": {**LESSON, **options}} if options is not None else {},
    }


def unregistered(settings) -> None:
    settings.FASTPIX = {**settings.FASTPIX, "MEDIA_SOURCES": {}}


def baseline_new(settings) -> int:
    unregistered(settings)
    with table_statements() as ran:
        Lesson.objects.create(title="plain", video_url=VIDEO)
    return len(ran)


def test_a_new_row_with_a_url_costs_one_insert(settings, workspace, queued):
    base = baseline_new(settings)
    use_source(settings)
    Lesson.objects.create(title="warm", video_url=VIDEO)  # the workspace id, once
    for in_atomic in (False, True):
        with table_statements() as ran:
            if in_atomic:
                with transaction.atomic():
                    lesson = Lesson.objects.create(title="one", video_url=VIDEO + "?1")
            else:
                lesson = Lesson.objects.create(title="one", video_url=VIDEO + "?2")
        assert len(ran) - base <= 1, "\n".join(ran)
        media = Media.objects.get(object_id=str(lesson.pk))
        assert media.status == MediaStatus.PENDING and media.workspace_id == workspace.pk
        assert queued.count(media.pk) == 1  # its creation, queued once


def test_with_a_video_field_the_pointer_costs_one_update_more(settings, workspace):
    base = baseline_new(settings)
    use_source(settings, video_field="video")
    Lesson.objects.create(title="warm", video_url=VIDEO)
    with table_statements() as ran:
        lesson = Lesson.objects.create(title="one", video_url=VIDEO)
    assert len(ran) - base <= 2, "\n".join(ran)  # INSERT media, UPDATE lesson.video
    assert Lesson.objects.get(pk=lesson.pk).video == Media.objects.get(object_id=str(lesson.pk))


@pytest.mark.parametrize("video_field", [None, "video"])
def test_a_save_that_leaves_the_url_unchanged_costs_nothing(settings, workspace, video_field):
    options = {"video_field": video_field} if video_field else {}
    unregistered(settings)
    plain = Lesson.objects.get(pk=Lesson.objects.create(title="p", video_url=VIDEO).pk)
    with table_statements() as ran:
        plain.title = "renamed"
        plain.save()
    base = len(ran)
    use_source(settings, **options)
    created = Lesson.objects.create(title="one", video_url=VIDEO)
    for lesson in (created, Lesson.objects.get(pk=created.pk)):  # as saved, and as loaded
        with table_statements() as ran:
            lesson.title = "renamed"
            lesson.save()
        assert len(ran) == base, "\n".join(ran)
    assert Media.objects.count() == 1


def test_a_changed_url_still_makes_a_new_media(settings, workspace):
    use_source(settings)
    lesson = Lesson.objects.create(title="one", video_url=VIDEO)
    loaded = Lesson.objects.get(pk=lesson.pk)
    with table_statements() as ran:
        loaded.video_url = VIDEO + "?v2"
        loaded.save()
    assert len(ran) <= 3  # the UPDATE, the current media looked up, the INSERT
    assert list(
        Media.objects.filter(object_id=str(lesson.pk))
        .order_by("pk")
        .values_list("source_url", flat=True)
    ) == [VIDEO, VIDEO + "?v2"]


def test_an_instance_built_in_code_is_compared_with_the_database(settings, workspace):
    """``Lesson(pk=..., video_url=...)`` overwrites a row it never loaded: its URL is new."""
    use_source(settings)
    lesson = Lesson.objects.create(title="one", video_url=VIDEO)
    Lesson(pk=lesson.pk, title="one", video_url=VIDEO + "?other").save()
    assert Media.objects.filter(object_id=str(lesson.pk)).count() == 2
    Lesson(pk=lesson.pk, title="one", video_url=VIDEO + "?other").save()
    assert Media.objects.filter(object_id=str(lesson.pk)).count() == 2  # that URL has its media


class PublishedOnly(FastPixAdapter):
    def should_create(self, source, instance):
        return not instance.title.startswith("[draft]")


def test_an_adapter_that_declines_drafts_still_gets_its_media_on_publishing(settings, workspace):
    """The URL does not change when a draft is published: such an adapter costs the look-up."""
    use_source(settings)
    settings.FASTPIX = {**settings.FASTPIX, "ADAPTER": f"{__name__}.PublishedOnly"}
    lesson = Lesson.objects.create(title="[draft] one", video_url=VIDEO)
    assert not Media.objects.exists()
    loaded = Lesson.objects.get(pk=lesson.pk)
    loaded.title = "one"
    loaded.save()
    assert Media.objects.filter(object_id=str(lesson.pk)).count() == 1
    loaded.title = "one, renamed"
    loaded.save()
    assert Media.objects.count() == 1


def test_a_remembered_workspace_that_is_gone_fails_no_save(settings, workspace, caplog):
    """The workspace id a save remembers is checked by the INSERT that uses it."""
    use_source(settings)
    first = Lesson.objects.create(title="one", video_url=VIDEO)
    old_pk = workspace.pk
    Media.objects.all().delete()
    workspace.delete()
    replacement = Workspace.objects.create(name="New", slug="prod")
    assert replacement.pk != old_pk
    for in_atomic in (False, True):
        if in_atomic:
            with transaction.atomic():
                lesson = Lesson.objects.create(title="two", video_url=VIDEO + "?a")
                Lesson.objects.filter(pk=first.pk).update(title="still usable")
        else:
            lesson = Lesson.objects.create(title="two", video_url=VIDEO + "?b")
        assert Media.objects.get(object_id=str(lesson.pk)).workspace_id == replacement.pk
    source_services._WORKSPACE_IDS["prod"] = replacement.pk
    Media.objects.all().delete()
    replacement.delete()
    with caplog.at_level(logging.ERROR), transaction.atomic():
        lesson = Lesson.objects.create(title="three", video_url=VIDEO + "?c")
    assert Lesson.objects.filter(pk=lesson.pk).exists()  # the save came first
    assert not Media.objects.filter(object_id=str(lesson.pk)).exists()
    assert "could not be resolved" in caplog.text
