"""The statements a registered source model's new row costs, exactly, and that the cheaper
recording (one prepared INSERT; on PostgreSQL the video-field pointer in the same statement)
writes what ``Media.objects.create()`` + an UPDATE wrote.

Baseline: the same save with no source configured. On PostgreSQL a new row costs one
statement more (a data-modifying CTE: INSERT the media, point the video field at it), and no
BEGIN/COMMIT in autocommit; SQLite, which has no such CTE, runs the pointer's UPDATE apart (two
writes, in one transaction of their own in autocommit). Inside the site's ``atomic()`` the
app's work has one savepoint. Real transactions (``transaction=True``); the creation job is
recorded (``queued``) instead of queued.
"""

from __future__ import annotations

import logging

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models.signals import post_save, pre_save

from django_fastpix.adapter import FastPixAdapter
from django_fastpix.models import Media, MediaStatus, Workspace
from django_fastpix.services import media_insert, statements
from tests.integration import test_source_save_queries as source_queries
from tests.integration.test_source_save_queries import TRANSACTION_CONTROL, VIDEO, unregistered
from tests.testapp.models import Lesson

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_workspace_ids", "queued"),
]

LESSON = {**source_queries.LESSON, "access_policy": "private"}


def use_source(settings, video_field: str | None) -> None:
    options = {**LESSON, "video_field": video_field} if video_field else LESSON
    settings.FASTPIX = {**settings.FASTPIX, "MEDIA_SOURCES": {"testapp.Lesson": options}}


def save(in_atomic: bool, url: str) -> Lesson:
    if in_atomic:
        with transaction.atomic():
            return Lesson.objects.create(title="One", video_url=url)
    return Lesson.objects.create(title="One", video_url=url)


def extra_statements(in_atomic: bool, video_field: str | None) -> tuple[int, int]:
    """(table statements, all statements) a registered new row adds to an unregistered one."""
    separate_update = bool(video_field) and connection.vendor != "postgresql"
    tables = 2 if separate_update else 1
    if in_atomic:
        return tables, tables + 2  # SAVEPOINT, RELEASE SAVEPOINT
    return tables, tables + (2 if separate_update else 0)  # BEGIN, COMMIT for two writes


@pytest.mark.parametrize("video_field", [None, "video"])
@pytest.mark.parametrize("in_atomic", [False, True], ids=["autocommit", "atomic"])
def test_a_new_row_costs_the_fewest_statements(
    settings, workspace, queued, django_assert_num_queries, in_atomic, video_field
):
    unregistered(settings)
    with django_assert_num_queries(1 + (2 if in_atomic else 0)):  # BEGIN, COMMIT in atomic()
        save(in_atomic, VIDEO)
    use_source(settings, video_field)
    save(in_atomic, VIDEO + "?warm")  # the workspace's id, read once per process
    tables, every = extra_statements(in_atomic, video_field)
    with django_assert_num_queries(1 + (2 if in_atomic else 0) + every) as ran:
        lesson = save(in_atomic, VIDEO + "?1")
    table_statements = [
        q["sql"] for q in ran.captured_queries if not q["sql"].startswith(TRANSACTION_CONTROL)
    ]
    assert len(table_statements) == 1 + tables, "\n".join(table_statements)
    media = Media.objects.get(object_id=str(lesson.pk))
    assert queued.count(media.pk) == 1
    if video_field:
        assert Lesson.objects.get(pk=lesson.pk).video_id == media.pk
        with django_assert_num_queries(0):
            assert lesson.video == media  # the in-memory object follows
    else:
        assert Lesson.objects.get(pk=lesson.pk).video_id is None


@pytest.mark.parametrize("in_atomic", [False, True], ids=["autocommit", "atomic"])
def test_the_committed_row_is_what_create_wrote(settings, workspace, queued, in_atomic):
    use_source(settings, "video")
    lesson = save(in_atomic, VIDEO)
    media = Media.objects.get()
    assert media.status == MediaStatus.PENDING and media.error == ""
    assert media.workspace_id == workspace.pk
    assert media.content_type == ContentType.objects.get_for_model(Lesson)
    assert media.object_id == str(lesson.pk) and media.source_object == lesson
    assert media.source_url == VIDEO
    assert media.title == "One"
    assert media.metadata == {"lesson": str(lesson.pk)}
    assert media.access_policy == "private"
    assert media.fastpix_id is None and media.upload_id == "" and media.creation_attempts == 0
    assert media.created_at is not None and media.updated_at >= media.created_at
    assert Lesson.objects.get(pk=lesson.pk).video == media
    assert queued == [media.pk]
    # The returned object is the saved row, not a copy that differs from it.
    assert lesson.video is not None
    assert lesson.video.pk == media.pk and lesson.video.reference == media.reference
    assert lesson.video._state.adding is False


def test_medias_save_signals_are_sent_as_by_save(settings, workspace):
    """Site receivers of Media's pre_save/post_save see the row, and may still adjust it."""
    seen: list[tuple[str, bool]] = []

    def before(sender, instance, **kwargs):
        instance.title = f"{instance.title} (checked)"
        seen.append(("pre", instance._state.adding))

    def after(sender, instance, created, **kwargs):
        seen.append(("post", created and instance.pk is not None))

    pre_save.connect(before, sender=Media, dispatch_uid="test-save-cost-pre")
    post_save.connect(after, sender=Media, dispatch_uid="test-save-cost-post")
    try:
        use_source(settings, "video")
        Lesson.objects.create(title="One", video_url=VIDEO)
    finally:
        pre_save.disconnect(sender=Media, dispatch_uid="test-save-cost-pre")
        post_save.disconnect(sender=Media, dispatch_uid="test-save-cost-post")
    assert seen == [("pre", True), ("post", True)]
    assert Media.objects.get().title == "One (checked)"


def test_a_rolled_back_save_leaves_nothing_and_queues_nothing(settings, workspace, queued):
    use_source(settings, "video")
    with pytest.raises(RuntimeError), transaction.atomic():
        Lesson.objects.create(title="One", video_url=VIDEO)
        raise RuntimeError("the site's own failure")
    assert not Lesson.objects.exists()
    assert not Media.objects.exists()
    assert queued == []


def save_after_the_workspace_was_replaced(workspace: Workspace, in_atomic: bool) -> Media:
    """Replace the workspace a save remembered (same slug, new id), save again, and check the
    new media went to the replacement with the object's pointer set; the new media."""
    Lesson.objects.update(video=None)
    Media.objects.all().delete()
    workspace.delete()
    replacement = Workspace.objects.create(name="New", slug="prod")
    lesson = save(in_atomic, VIDEO + "?after")
    media = Media.objects.get()
    assert media.workspace_id == replacement.pk
    assert Lesson.objects.get(pk=lesson.pk).video_id == media.pk
    return media


@pytest.mark.parametrize("in_atomic", [False, True], ids=["autocommit", "atomic"])
def test_a_stale_remembered_workspace_is_caught_by_the_statement(
    settings, workspace, queued, in_atomic
):
    """The id a save remembers for a slug is checked by the INSERT (pointer included)."""
    use_source(settings, "video")
    Lesson.objects.create(title="warm", video_url=VIDEO)
    media = save_after_the_workspace_was_replaced(workspace, in_atomic)
    assert queued[-1] == media.pk


class TooLongPolicy(FastPixAdapter):
    def access_policy_for(self, source, instance):
        return "x" * 40  # wider than the column: PostgreSQL refuses the INSERT


def test_a_failed_statement_of_the_apps_own_leaves_the_sites_transaction_usable(
    settings, workspace, queued, caplog
):
    """On PostgreSQL the app's own (failing) INSERT runs in the savepoint the receiver makes
    inside the site's transaction: the site's save and its later queries commit."""
    use_source(settings, "video")
    settings.FASTPIX = {**settings.FASTPIX, "ADAPTER": f"{__name__}.TooLongPolicy"}
    with caplog.at_level(logging.ERROR), transaction.atomic():
        lesson = Lesson.objects.create(title="Kept", video_url=VIDEO)
        Lesson.objects.create(title="After", video_url="")  # the site goes on
    assert set(Lesson.objects.values_list("title", flat=True)) == {"Kept", "After"}
    if connection.vendor == "postgresql":
        assert not Media.objects.exists() and queued == []
        assert Lesson.objects.get(pk=lesson.pk).video_id is None
        assert "Could not record a FastPix media" in caplog.text
    # In autocommit the failed statement is its own: nothing written, the save kept.
    lesson = Lesson.objects.create(title="Alone", video_url=VIDEO + "?2")
    assert Lesson.objects.filter(pk=lesson.pk).exists()


@pytest.mark.parametrize("in_atomic", [False, True], ids=["autocommit", "atomic"])
def test_other_vendors_take_the_orm_and_write_the_same(
    settings, workspace, queued, monkeypatch, in_atomic
):
    """Where the prepared statement is not used (other vendors, a pointer in a parent table):
    ``save()`` and an UPDATE, the remembered workspace still checked by the INSERT."""
    monkeypatch.setattr(statements, "VENDORS", frozenset())
    use_source(settings, "video")
    first = save(in_atomic, VIDEO)
    media = Media.objects.get()
    assert (media.workspace_id, media.object_id, media.status) == (
        workspace.pk,
        str(first.pk),
        MediaStatus.PENDING,
    )
    assert Lesson.objects.get(pk=first.pk).video_id == media.pk == queued[-1]
    save_after_the_workspace_was_replaced(workspace, in_atomic)


def test_without_returning_the_statement_path_is_not_taken(monkeypatch):
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    assert not media_insert.statement_can_record("default", Lesson(), None)


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="emulates SQLite < 3.35; PostgreSQL has RETURNING"
)
def test_old_sqlite_records_the_media_through_the_orm(settings, monkeypatch, workspace):
    """SQLite before 3.35 has no RETURNING: the save still records its media, through the ORM."""
    use_source(settings, "video")
    monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)
    lesson = save(False, VIDEO)
    media = Media.objects.get(object_id=str(lesson.pk))
    assert Lesson.objects.get(pk=lesson.pk).video_id == media.pk
