"""Source saves become FastPix media in the background, exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from django_fastpix import signals
from django_fastpix.exceptions import RequestTimeoutError
from django_fastpix.models import Media, MediaStatus
from django_fastpix.services import media as media_services
from tests.conftest import subprocess_env
from tests.testapp.models import Lesson

pytestmark = pytest.mark.django_db

VIDEO = "https://cdn.example.com/lesson-1.mp4"


@pytest.fixture
def ready(fake_token, workspace):
    """A workspace with a read+write token known to the fake."""
    return fake_token()


def save_lesson(captured, **fields) -> Lesson:
    with captured(execute=True):
        return Lesson.objects.create(title=fields.pop("title", "Intro"), **fields)


def creations(callbacks: list) -> list:
    """The on-commit callbacks that queue a media's creation (the save also remembers its URL
    on commit)."""
    return [c for c in callbacks if getattr(c, "func", None) is media_services.queue_creation]


def test_save_creates_media_after_commit_only(ready, fake_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        lesson = Lesson.objects.create(title="Intro", video_url=VIDEO)
        media = Media.objects.get()
        assert media.status == MediaStatus.PENDING and media.source_object == lesson
        assert fake_api.requests == []  # nothing inside the save's transaction
    (creation,) = creations(callbacks)
    assert fake_api.requests == []
    creation()  # the commit: the task runs (immediate backend)
    media.refresh_from_db()
    assert media.fastpix_id and media.status == MediaStatus.CREATED
    assert media.title == "Intro" and media.creation_attempts == 1
    (post,) = fake_api.requests_for("POST /on-demand")
    assert post.header("Idempotency-Key") == str(media.reference)
    assert post.json["metadata"]["django_fastpix_ref"] == str(media.reference)
    assert post.json["metadata"]["lesson"] == str(lesson.pk)
    assert post.json["inputs"] == [{"type": "video", "url": VIDEO}]


def test_rolled_back_save_creates_nothing(ready, fake_api, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        Lesson.objects.create(title="Draft", video_url=VIDEO)
        raise RuntimeError("editor cancelled")
    assert callbacks == []
    assert not Media.objects.exists() and fake_api.requests == []


def test_invalid_urls_are_refused_before_any_call(
    ready, fake_api, django_capture_on_commit_callbacks
):
    failures = []
    signals.media_failed.connect(
        lambda sender, media, reason, **kw: failures.append(reason), weak=False, dispatch_uid="t"
    )
    try:
        for url in ("ftp://example.com/a.mp4", "javascript:alert(1)", "http://", "not a url"):
            save_lesson(django_capture_on_commit_callbacks, video_url=url)
    finally:
        signals.media_failed.disconnect(dispatch_uid="t")
    assert fake_api.requests == []
    rows = list(Media.objects.order_by("pk"))
    assert len(rows) == 4 and all(m.status == MediaStatus.FAILED for m in rows)
    assert all("Invalid video URL" in m.error for m in rows) and len(failures) == 4


def test_unchanged_url_does_nothing_changed_url_makes_new_media(
    ready, fake_api, django_capture_on_commit_callbacks
):
    lesson = save_lesson(django_capture_on_commit_callbacks, video_url=VIDEO)
    with django_capture_on_commit_callbacks(execute=True):
        lesson.title = "Renamed"
        lesson.save()
    assert Media.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        lesson.video_url = "https://cdn.example.com/lesson-1-v2.mp4"
        lesson.save()
    first, second = Media.objects.order_by("pk")
    assert first.status == MediaStatus.CREATED  # kept: on_url_change defaults to "keep"
    assert second.source_url.endswith("v2.mp4") and second.fastpix_id
    assert len(fake_api.media()) == 2


def test_url_change_can_delete_the_old_media(
    ready, fake_api, settings, django_capture_on_commit_callbacks
):
    sources = settings.FASTPIX["MEDIA_SOURCES"]
    settings.FASTPIX = {
        **settings.FASTPIX,
        "MEDIA_SOURCES": {
            "testapp.Lesson": {**sources["testapp.Lesson"], "on_url_change": "delete"}
        },
    }
    lesson = save_lesson(django_capture_on_commit_callbacks, video_url=VIDEO)
    old = Media.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        lesson.video_url = "https://cdn.example.com/other.mp4"
        lesson.save()
    old.refresh_from_db()
    assert old.status == MediaStatus.DELETED
    assert [m["id"] for m in fake_api.media()] != [old.fastpix_id]
    assert len(fake_api.media()) == 1


def test_deleting_the_source_deletes_the_remote_media(
    ready, fake_api, django_capture_on_commit_callbacks
):
    lesson = save_lesson(django_capture_on_commit_callbacks, video_url=VIDEO)
    with django_capture_on_commit_callbacks(execute=True):
        lesson.delete()
    assert fake_api.media() == []
    assert Media.objects.get().status == MediaStatus.DELETED


def test_retry_after_timeout_reconciles_instead_of_duplicating(
    ready, fake_api, settings, django_capture_on_commit_callbacks
):
    settings.FASTPIX = {**settings.FASTPIX, "MAX_RETRIES": 0, "READ_TIMEOUT": 0.3}
    # FastPix creates the media, but the answer comes too late.
    fake_api.inject("POST /on-demand", latency=0.6, times=1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        Lesson.objects.create(title="Slow", video_url=VIDEO)
    media = Media.objects.get()
    with pytest.raises(RequestTimeoutError):
        media_services.create_remote_media(media.pk)
    media.refresh_from_db()
    assert media.status == MediaStatus.PENDING and "Timeout" in media.error
    deadline = time.monotonic() + 5
    while not fake_api.media() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake_api.media()) == 1
    media_services.create_remote_media(media.pk)  # the task's retry
    media.refresh_from_db()
    assert media.fastpix_id == fake_api.media()[0]["id"] and media.creation_attempts == 2
    assert len(fake_api.media()) == 1 and len(creations(callbacks)) == 1


def test_a_second_run_after_success_is_a_no_op(ready, fake_api, django_capture_on_commit_callbacks):
    save_lesson(django_capture_on_commit_callbacks, video_url=VIDEO)
    media = Media.objects.get()
    media_services.create_remote_media(media.pk)
    assert len(fake_api.requests_for("POST /on-demand")) == 1


def test_fastpix_refusal_marks_failed_with_reason(
    ready, fake_api, django_capture_on_commit_callbacks
):
    fake_api.inject("POST /on-demand", status=400, times=1)
    save_lesson(django_capture_on_commit_callbacks, video_url=VIDEO)
    media = Media.objects.get()
    assert media.status == MediaStatus.FAILED and "400" in media.error
    # An operator retries: a fresh reference, so FastPix does not replay the refusal.
    old_reference = media.reference
    with django_capture_on_commit_callbacks(execute=True):
        media_services.retry_media_creation(media)
    media.refresh_from_db()
    assert media.reference != old_reference and media.fastpix_id
    assert media.status == MediaStatus.CREATED


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_call_yields_one_media(fake_token, workspace, fake_api, tmp_path):
    fake_token()
    fake_api.inject("POST /on-demand", latency=1.5, times=1)
    with transaction.atomic():
        Media.objects.create(workspace=workspace, source_url=VIDEO, title="Crash")
    media = Media.objects.get()
    env = subprocess_env(FASTPIX_API_BASE_URL=fake_api.base_url)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import django; django.setup();"
            "from django_fastpix.services.media import create_remote_media;"
            f"create_remote_media({media.pk})",
        ],
        env=env,
        cwd=Path(__file__).parents[2],
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        media.refresh_from_db()
        if media.creation_attempts == 1:
            break
        time.sleep(0.05)
    time.sleep(0.3)  # the request is on the wire, FastPix still working on it
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    media.refresh_from_db()
    assert media.fastpix_id is None and media.status == MediaStatus.PENDING
    while not fake_api.media() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(fake_api.media()) == 1  # the dead worker's call did reach FastPix
    assert media.creation_lease_until is not None  # the dead worker's lease is still held
    posts = len(fake_api.requests_for("POST /on-demand"))
    media_services.create_remote_media(media.pk)  # a duplicate job stands down meanwhile
    assert len(fake_api.requests_for("POST /on-demand")) == posts
    Media.objects.filter(pk=media.pk).update(creation_lease_until=timezone.now())  # expired
    media_services.create_remote_media(media.pk)  # the task, run again
    media.refresh_from_db()
    assert media.fastpix_id == fake_api.media()[0]["id"]
    assert len(fake_api.media()) == 1


def test_webhook_before_create_answer_without_reference_leaves_one_row(
    ready, fake_api, workspace, django_capture_on_commit_callbacks
):
    """FastPix's event arrived first and did not carry our reference: the rows merge."""
    from django_fastpix.client import Media as RemoteMedia

    with django_capture_on_commit_callbacks(execute=False):
        Lesson.objects.create(title="Race", video_url=VIDEO)
    ours = Media.objects.get()
    stand_in = Media.objects.create(
        workspace=workspace, fastpix_id="fp-race", status=MediaStatus.READY
    )
    stand_in.playback_ids.create(fastpix_id="pb-race")
    remote = RemoteMedia.from_api({"id": "fp-race", "status": "Created", "metadata": {}})
    media_services.link_remote(ours, remote)
    ours.refresh_from_db()
    assert Media.objects.count() == 1
    assert ours.fastpix_id == "fp-race" and ours.status == MediaStatus.READY
    assert list(ours.playback_ids.values_list("fastpix_id", flat=True)) == ["pb-race"]
    assert ours.source_object is not None


def test_no_token_leaves_media_pending_until_a_token_arrives(
    workspace, fake_api, make_token, django_capture_on_commit_callbacks
):
    save_lesson(django_capture_on_commit_callbacks, video_url=VIDEO)
    media = Media.objects.get()
    assert media.status == MediaStatus.PENDING and "No usable FastPix access token" in media.error
    assert media.creation_lease_until is None and fake_api.requests == []
    fake_api.add_token("tok_arrives_later_01", "secret-arrives-later", "read_write")
    with django_capture_on_commit_callbacks(execute=True):  # adding it requeues the media
        make_token(token_id="tok_arrives_later_01", secret_key="secret-arrives-later")
    media.refresh_from_db()
    assert media.fastpix_id and media.status == MediaStatus.CREATED
