"""The host site first (issue 8): nothing in a site model's save path can fail that save.

Problems become a media with a reason (or, when there is no workspace to hold one, a log
line), and `fastpix_media recover` / `recover_media` finishes the work once they are fixed.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.urls import reverse
from django.utils import timezone

from django_fastpix import signals
from django_fastpix.models import Media, MediaStatus, Workspace
from django_fastpix.tasks import enqueue_create
from tests.reliability_support import BrokenBackend, backend_path
from tests.settings import IMMEDIATE_BACKEND
from tests.testapp.models import Lesson

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.reliability_support")]

VIDEO = "https://cdn.example.com/host-first.mp4"
LESSON_SOURCE = {
    "url_field": "video_url",
    "workspace": "tests.testapp.models.lesson_workspace",
    "title": "title",
    "metadata": "tests.testapp.models.lesson_metadata",
}


def use_source(settings, **options) -> None:
    settings.FASTPIX = {
        **settings.FASTPIX,
        "MEDIA_SOURCES": {"testapp.Lesson": {**LESSON_SOURCE, **options}},
    }


def add_lesson_in_admin(admin_client, **fields) -> int:
    """The host site's admin add view; returns the status code."""
    data = {"title": "From the admin", "video_url": VIDEO, "workspace_slug": "prod", **fields}
    return admin_client.post(reverse("host_admin:testapp_lesson_add"), data).status_code


def lesson_media(lesson: Lesson):
    return Media.objects.filter(object_id=str(lesson.pk))


# --- a workspace that does not exist (yet) ---


def test_unresolvable_workspace_saves_the_object_and_recovery_makes_the_media_later(
    settings, admin_client, fake_token, fake_api, caplog, django_capture_on_commit_callbacks
):
    use_source(settings, workspace="later")  # a slug no workspace has yet
    caplog.set_level(logging.ERROR, logger="django_fastpix")
    with django_capture_on_commit_callbacks(execute=True):
        from_code = Lesson.objects.create(title="From code", video_url=VIDEO)
    with django_capture_on_commit_callbacks(execute=True):
        assert add_lesson_in_admin(admin_client) == 302
    from_admin = Lesson.objects.get(title="From the admin")
    assert Lesson.objects.count() == 2 and not Media.objects.exists()
    assert fake_api.requests == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    for lesson in (from_code, from_admin):
        assert any(f"testapp.Lesson #{lesson.pk}" in r.getMessage() for r in errors), errors
    assert all("recover" in r.getMessage() for r in errors)

    later = Workspace.objects.create(name="Later", slug="later")
    fake_token(ws=later)
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("fastpix_media", "recover", stdout=out)
    assert "made 2 media" in out.getvalue()
    for lesson in (from_code, from_admin):
        (media,) = lesson_media(lesson)
        assert media.workspace == later and media.fastpix_id and media.status != MediaStatus.FAILED
    assert len(fake_api.media()) == 2


def test_a_workspace_callable_that_raises_saves_the_object(
    settings, django_capture_on_commit_callbacks, caplog
):
    use_source(settings, workspace="tests.reliability_support.broken_title")
    caplog.set_level(logging.ERROR, logger="django_fastpix")
    with django_capture_on_commit_callbacks(execute=True):
        lesson = Lesson.objects.create(title="Odd", video_url=VIDEO)
    assert Lesson.objects.filter(pk=lesson.pk).exists() and not Media.objects.exists()
    assert any("SourceOptionError" in r.getMessage() for r in caplog.records)


# --- a source option that raises ---


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("title", "no title for"),
        ("metadata", "metadata service is down"),
        ("access_policy", "no title for"),
    ],
)
def test_a_source_option_that_raises_leaves_a_failed_media_with_the_reason(
    settings, admin_client, workspace, fake_api, django_capture_on_commit_callbacks, option, message
):
    broken = "broken_metadata" if option == "metadata" else "broken_title"
    use_source(settings, **{option: f"tests.reliability_support.{broken}"})
    failures: list[str] = []
    signals.media_failed.connect(
        lambda sender, media, reason, **kw: failures.append(reason), weak=False, dispatch_uid="hf"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            from_code = Lesson.objects.create(title="Broken option", video_url=VIDEO)
        with django_capture_on_commit_callbacks(execute=True):
            assert add_lesson_in_admin(admin_client) == 302
    finally:
        signals.media_failed.disconnect(dispatch_uid="hf")
    from_admin = Lesson.objects.get(title="From the admin")
    for lesson in (from_code, from_admin):
        (media,) = lesson_media(lesson)
        assert media.status == MediaStatus.FAILED
        assert "SourceOptionError" in media.error and message in media.error
        assert f"testapp.Lesson #{lesson.pk}" in media.error
    assert len(failures) == 2 and fake_api.requests == []


# --- a queue that refuses the job ---


def test_a_failing_enqueue_keeps_the_media_pending_with_the_reason_until_recovery(
    settings, admin_client, fake_token, fake_api, django_capture_on_commit_callbacks, caplog
):
    fake_token()
    settings.TASKS = {
        "default": {"BACKEND": IMMEDIATE_BACKEND},
        "broken": {"BACKEND": backend_path(BrokenBackend)},
    }
    settings.FASTPIX = {**settings.FASTPIX, "TASK_BACKEND": "broken"}
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        from_code = Lesson.objects.create(title="Queue down", video_url=VIDEO)
    with django_capture_on_commit_callbacks(execute=True):
        assert add_lesson_in_admin(admin_client) == 302
    from_admin = Lesson.objects.get(title="From the admin")
    for lesson in (from_code, from_admin):
        (media,) = lesson_media(lesson)
        assert media.status == MediaStatus.PENDING and not media.fastpix_id
        assert media.error.startswith("Could not queue creation")
        assert "queue database unreachable" in media.error
        assert media.next_attempt_at is not None
        assert before <= media.next_attempt_at <= timezone.now()  # due at once
    assert fake_api.requests == []
    assert any("Could not queue creation" in r.getMessage() for r in caplog.records)

    from django_fastpix.services.recovery import recover_media

    settings.FASTPIX = {**settings.FASTPIX, "TASK_BACKEND": "default"}  # the queue is back
    report = recover_media()
    assert report.requeued == 2
    for lesson in (from_code, from_admin):
        (media,) = lesson_media(lesson)
        assert media.fastpix_id and media.status == MediaStatus.CREATED and media.error == ""
    assert len(fake_api.media()) == 2


# --- the database fails under the create task ---


@pytest.mark.django_db(transaction=True)
def test_a_database_error_in_the_create_task_leaves_a_reason_and_a_next_attempt(
    fake_token, workspace, fake_api, monkeypatch
):
    fake_token()
    media = Media.objects.create(workspace=workspace, source_url=VIDEO, title="Locked out")
    # This process's connection waits at most 1 s for a lock; another connection holds the
    # media (SQLite: the whole database's write lock) for 1.5 s, so the attempt's first
    # transaction fails and the database is free again by the time the failure is recorded.
    if connection.vendor == "sqlite":
        options = {**connection.settings_dict["OPTIONS"], "timeout": 1}
        monkeypatch.setitem(connection.settings_dict, "OPTIONS", options)
        connection.close()
    else:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '1s'")
    held = threading.Event()

    def hold_the_lock() -> None:
        try:
            with transaction.atomic():
                Media.objects.select_for_update().get(pk=media.pk)
                held.set()
                time.sleep(1.5)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert held.wait(10)
        before = timezone.now()
        enqueue_create(media.pk)  # the immediate backend runs the task here
    finally:
        holder.join(10)
        connection.close()  # the short timeout ends with this test
    media.refresh_from_db()
    assert media.status == MediaStatus.PENDING and media.fastpix_id is None
    assert media.error.startswith("OperationalError"), media.error
    assert media.next_attempt_at is not None and media.next_attempt_at > before
    assert media.creation_lease_until is None and media.creation_attempts == 0
    assert fake_api.requests_for("POST /on-demand") == []

    from django_fastpix.services.recovery import recover_media

    report = recover_media(now=media.next_attempt_at + timedelta(seconds=1))
    assert report.requeued == 1
    media.refresh_from_db()
    assert media.fastpix_id and media.status == MediaStatus.CREATED and media.error == ""


# --- FastPix keeps failing ---


def test_a_create_that_keeps_getting_5xx_fails_after_the_last_attempt(
    settings, fake_token, workspace, fake_api, django_capture_on_commit_callbacks
):
    fake_token()
    settings.FASTPIX = {**settings.FASTPIX, "CREATION_MAX_ATTEMPTS": 3, "MAX_RETRIES": 0}
    fake_api.inject("POST /on-demand", status=503)
    failures: list[str] = []
    signals.media_failed.connect(
        lambda sender, media, reason, **kw: failures.append(reason), weak=False, dispatch_uid="5xx"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            lesson = Lesson.objects.create(title="Unlucky", video_url=VIDEO)  # attempt 1
        (media,) = lesson_media(lesson)
        for attempt in (1, 2):
            media.refresh_from_db()
            assert media.status == MediaStatus.PENDING, attempt
            assert media.creation_attempts == attempt and "503" in media.error
            assert media.next_attempt_at is not None and media.next_attempt_at > timezone.now()
            with django_capture_on_commit_callbacks(execute=True):
                enqueue_create(media.pk)  # the next attempt, when it is due
        with django_capture_on_commit_callbacks(execute=True):
            enqueue_create(media.pk)  # a stray job afterwards changes nothing
    finally:
        signals.media_failed.disconnect(dispatch_uid="5xx")
    media.refresh_from_db()
    assert media.status == MediaStatus.FAILED
    assert media.error.startswith("Gave up after 3 attempts"), media.error
    assert "503" in media.error
    assert len(fake_api.requests_for("POST /on-demand")) == 3
    assert failures == [media.error]


def failing_query_metadata(lesson: Lesson) -> dict[str, str]:
    """A metadata callable whose query fails in the database (a bad migration, a timeout)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT no_such_column FROM testapp_lesson")
    return {}


def test_a_failed_query_in_the_apps_work_leaves_the_sites_transaction_usable(
    settings, workspace, fake_token, fake_api
):
    """On PostgreSQL one failed statement aborts the whole transaction: the app's work runs in
    a savepoint of its own inside the site's transaction, so the site's save and its later
    queries still commit (tox -e postgres runs this on PostgreSQL)."""
    use_source(settings, workspace="prod", metadata=f"{__name__}.failing_query_metadata")
    fake_token()
    with transaction.atomic():
        lesson = Lesson.objects.create(title="Kept", video_url=VIDEO, workspace_slug="prod")
        Lesson.objects.create(title="After", video_url="")  # the site goes on in its transaction
    assert set(Lesson.objects.values_list("title", flat=True)) >= {"Kept", "After"}
    assert Lesson.objects.get(pk=lesson.pk).title == "Kept"
