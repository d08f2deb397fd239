"""A broken MEDIA_SOURCES entry is skipped (and logged), never raised into the site."""

from __future__ import annotations

import logging

import pytest
from django.db import transaction

from django_fastpix.models import Media
from django_fastpix.sources import media_sources
from tests.testapp.models import Lesson

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_broken_entry_is_skipped_and_the_valid_ones_still_work(settings, workspace, caplog):
    valid = settings.FASTPIX["MEDIA_SOURCES"]["testapp.Lesson"]
    settings.FASTPIX = {
        **settings.FASTPIX,
        "MEDIA_SOURCES": {
            "testapp.Lesson": valid,
            "testapp.Missing": {"url_field": "video_url", "workspace": "prod"},
            "auth.User": {"url_field": "no_such_field", "workspace": "prod"},
        },
    }
    with caplog.at_level(logging.ERROR, logger="django_fastpix.sources"):
        sources = media_sources()
    assert [m._meta.label for m in sources] == ["testapp.Lesson"]
    assert "testapp.Missing" in caplog.text and "no_such_field" in caplog.text
    with transaction.atomic():
        lesson = Lesson.objects.create(title="L", video_url="https://cdn.example.com/l.mp4")
    assert Media.objects.filter(object_id=str(lesson.pk)).count() == 1


def test_a_dotted_path_that_does_not_import_breaks_no_save(settings, workspace, caplog):
    settings.FASTPIX = {
        **settings.FASTPIX,
        "MEDIA_SOURCES": {
            "testapp.Lesson": {"url_field": "video_url", "workspace": "no.such.module.callable"}
        },
    }
    with caplog.at_level(logging.ERROR), transaction.atomic():
        lesson = Lesson.objects.create(title="L", video_url="https://cdn.example.com/l.mp4")
    assert Lesson.objects.filter(pk=lesson.pk).exists()
    assert "no.such.module" in caplog.text
