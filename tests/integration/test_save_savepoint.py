"""When a new object's media is recorded inside the site's transaction without a savepoint.

On PostgreSQL the app's work inside the site's ``atomic()`` runs in a savepoint of its own,
so that a failure of its statements or of the site's code it calls cannot abort the site's
transaction (test_save_cost, test_host_site_first). When that work is one statement no value
can make fail and no site code runs (the README's plain source: a workspace slug, a title
field; the default adapter), the savepoint's two round trips are left out. Real transactions.
"""

from __future__ import annotations

import logging

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from django_fastpix.adapter import FastPixAdapter
from django_fastpix.models import Media
from django_fastpix.services.sources import needs_no_savepoint
from django_fastpix.sources import source_for
from tests.integration.test_source_save_queries import TRANSACTION_CONTROL, VIDEO
from tests.testapp.models import Lesson

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_workspace_ids", "queued"),
]

# The README's example source: no callable, no site code.
PLAIN = {"url_field": "video_url", "workspace": "prod", "title": "title", "video_field": "video"}


def use(settings, **options) -> None:
    """The plain source with ``options`` over it (an option given as None is left out)."""
    source = {k: v for k, v in {**PLAIN, **options}.items() if v is not None}
    settings.FASTPIX = {**settings.FASTPIX, "MEDIA_SOURCES": {"testapp.Lesson": source}}


def lesson_policy(lesson: Lesson) -> str:
    return "private"


def save_in_atomic(url: str) -> tuple[Lesson, list[str]]:
    with CaptureQueriesContext(connection) as ctx, transaction.atomic():
        lesson = Lesson.objects.create(title="One", video_url=url)
    return lesson, [q["sql"] for q in ctx.captured_queries]


def test_a_plain_source_records_a_new_object_without_a_savepoint_on_postgresql(
    settings, workspace, queued
):
    use(settings)
    save_in_atomic(VIDEO + "?warm")  # the workspace's id, read once per process
    lesson, ran = save_in_atomic(VIDEO)
    savepoints = [s for s in ran if "SAVEPOINT" in s]
    tables = [s for s in ran if not s.startswith(TRANSACTION_CONTROL)]
    if connection.vendor == "postgresql":
        assert savepoints == [] and len(tables) == 2, ran  # the site's INSERT, the app's CTE
    else:
        assert len(savepoints) == 2, ran  # SQLite: INSERT + pointer UPDATE, kept as one unit
    media = Media.objects.get(object_id=str(lesson.pk))
    assert Lesson.objects.get(pk=lesson.pk).video_id == media.pk
    assert queued.count(media.pk) == 1


class PolicyAdapter(FastPixAdapter):
    def access_policy_for(self, source, instance):
        return "x" * 40  # site code: wider than the column, PostgreSQL refuses the INSERT


def test_site_code_keeps_the_savepoint_and_the_site_transaction_usable(
    settings, workspace, queued, caplog
):
    use(settings)
    save_in_atomic(VIDEO + "?warm")  # the workspace's id remembered: only the adapter differs
    settings.FASTPIX = {**settings.FASTPIX, "ADAPTER": f"{__name__}.PolicyAdapter"}
    with caplog.at_level(logging.ERROR), transaction.atomic():
        Lesson.objects.create(title="Kept", video_url=VIDEO)
        Lesson.objects.create(title="After", video_url="")
    assert {"Kept", "After"} <= set(Lesson.objects.values_list("title", flat=True))


@pytest.mark.parametrize(
    "options",
    [
        {"workspace": "tests.testapp.models.lesson_workspace"},  # a callable
        {"metadata": "tests.testapp.models.lesson_metadata"},
        {"title": None},  # str(instance): the model's own code
        {"access_policy": f"{__name__}.lesson_policy"},
    ],
    ids=["workspace-callable", "metadata-callable", "title-from-str", "policy-callable"],
)
def test_any_site_code_or_unknown_value_keeps_the_savepoint(settings, workspace, options):
    use(settings, **options)
    lesson = Lesson.objects.create(title="x", video_url=VIDEO)  # remembers the workspace
    source = source_for(Lesson)
    assert source is not None
    assert not needs_no_savepoint(source, lesson, "default")


def test_the_plain_source_needs_none_only_where_everything_holds(settings, workspace):
    use(settings)
    lesson = Lesson.objects.create(title="x", video_url=VIDEO)  # remembers the workspace
    source = source_for(Lesson)
    assert source is not None
    assert needs_no_savepoint(source, lesson, "default") is (connection.vendor == "postgresql")
    lesson.pk = "9" * 65  # an object id wider than Media.object_id
    assert not needs_no_savepoint(source, lesson, "default")
