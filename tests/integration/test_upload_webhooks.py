"""Uploads linked to their media by webhooks in every order (issue 10): once, whatever comes.

FastPix reports an upload's media (`video.upload.media_created`) before or after the view
stores the upload, twice, or shuffled among other events. Every path must link the upload to
its media once, fill the target's VideoField, and send `upload_linked` once.
"""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

import pytest
import requests
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from django_fastpix.client import FastPixClient
from django_fastpix.models import (
    Media,
    MediaStatus,
    Upload,
    UploadStatus,
    WebhookEvent,
    WebhookOutcome,
)
from django_fastpix.services import api, webhooks
from django_fastpix.services.uploads import (
    link_upload_media,
    read_upload_context,
    start_upload,
    sweep_uploads,
    upload_context,
)
from tests.processes import wait_for
from tests.testapp.events import capture, deliver_signed
from tests.testapp.models import Lesson

pytestmark = pytest.mark.django_db

SECRET = "dXBsb2FkLXdlYmhvb2stc2VjcmV0LW9mLTMyLWJ5dGVzIQ=="


@pytest.fixture
def hooked(workspace):
    workspace.webhook_secret = SECRET
    workspace.save()
    return workspace


def deliver(ws, body: bytes) -> webhooks.Delivery:
    return deliver_signed(ws, body, SECRET)


def bodies_for(fake, upload_id: str) -> dict[str, bytes]:
    """The fake's events about one upload and its media, by type."""
    media_id = next(
        (u["mediaId"] for u in fake.uploads() if u["uploadId"] == upload_id and u["mediaId"]),
        None,
    )
    found = {}
    for e in fake.webhook_events:
        if e["object"]["id"] in (upload_id, media_id):
            found[e["type"]] = json.dumps(e).encode()
    return found


def lesson_upload_context(ws, lesson: Lesson):
    return read_upload_context(upload_context(ws, target=lesson, field_name="video"))


def assert_linked_once(upload: Upload, lesson: Lesson | None, sent: list) -> Media:
    upload.refresh_from_db()
    media = upload.media
    assert media is not None, upload
    assert upload.status == UploadStatus.ASSET_CREATED and upload.finished_at is not None
    assert media.upload_id == upload.fastpix_id
    assert Media.objects.filter(upload_id=upload.fastpix_id).count() == 1
    linked = [kw for name, kw in sent if name == "upload_linked" and kw["upload"].pk == upload.pk]
    assert [(kw["upload"].pk, kw["media"].pk) for kw in linked] == [(upload.pk, media.pk)]
    if lesson is not None:
        lesson.refresh_from_db()
        assert lesson.video_id == media.pk
        assert media.content_type == ContentType.objects.get_for_model(Lesson)
        assert media.object_id == str(lesson.pk)
    return media


# --- media_created after the upload is stored ---


def test_media_created_after_start_links_and_fills_the_field(
    fake_token, hooked, fake_api, django_capture_on_commit_callbacks
):
    fake_token()
    fake_api.auto_advance = False
    lesson = Lesson.objects.create(title="After")
    with capture("upload_linked") as sent, django_capture_on_commit_callbacks(execute=True):
        started = start_upload(lesson_upload_context(hooked, lesson), filename="after.mp4")
        assert requests.put(started.url, data=b"x" * 100, timeout=10).status_code == 200
        fake_api.finish_processing()
        bodies = bodies_for(fake_api, started.upload.fastpix_id)
        for kind in ("video.media.upload", "video.upload.media_created", "video.media.ready"):
            deliver(hooked, bodies[kind])
    media = assert_linked_once(started.upload, lesson, sent)
    assert media.status == MediaStatus.READY and media.title == "after.mp4"
    assert not WebhookEvent.objects.exclude(outcome=WebhookOutcome.PROCESSED).exists()


def test_upload_without_a_target_links_only_the_media(
    fake_token, hooked, fake_api, django_capture_on_commit_callbacks
):
    fake_token()
    fake_api.auto_advance = False
    with capture("upload_linked") as sent, django_capture_on_commit_callbacks(execute=True):
        started = start_upload(read_upload_context(upload_context(hooked)), filename="n.mp4")
        assert requests.put(started.url, data=b"x", timeout=10).status_code == 200
        deliver(
            hooked, bodies_for(fake_api, started.upload.fastpix_id)["video.upload.media_created"]
        )
    media = assert_linked_once(started.upload, None, sent)
    assert media.content_type_id is None and media.object_id in ("", None)


# --- media_created before the upload is stored ---


def test_media_created_before_the_upload_row_exists(
    fake_token, hooked, fake_api, monkeypatch, django_capture_on_commit_callbacks
):
    """FastPix is quick: the file is in and its webhook applied before the view stores the row."""
    fake_token()
    fake_api.auto_advance = False
    lesson = Lesson.objects.create(title="Before")
    real_call = api.call

    def quick_fastpix(ws, method, *args, **kwargs):
        result = real_call(ws, method, *args, **kwargs)
        if method is FastPixClient.create_direct_upload:
            assert requests.put(result.url, data=b"quick", timeout=10).status_code == 200
            assert not Upload.objects.exists()
            bodies = bodies_for(fake_api, result.id)
            deliver(hooked, bodies["video.upload.media_created"])
        return result

    monkeypatch.setattr(api, "call", quick_fastpix)
    with capture("upload_linked") as sent, django_capture_on_commit_callbacks(execute=True):
        started = start_upload(lesson_upload_context(hooked, lesson), filename="quick.mp4")
    assert started.upload.status == UploadStatus.ASSET_CREATED  # start_upload saw the media
    media = assert_linked_once(started.upload, lesson, sent)
    monkeypatch.setattr(api, "call", real_call)
    # The later events change nothing about the link.
    fake_api.finish_processing()
    with capture("upload_linked") as again, django_capture_on_commit_callbacks(execute=True):
        for body in bodies_for(fake_api, started.upload.fastpix_id).values():
            deliver(hooked, body)
    assert again == []
    media.refresh_from_db()
    assert media.status == MediaStatus.READY
    assert Media.objects.count() == 1


STEPS = ["video.media.upload", "video.upload.media_created", "video.media.ready", "store"]


def test_every_order_of_events_and_storing_links_once(
    fake_token, hooked, fake_api, django_capture_on_commit_callbacks
):
    """Each order of the three events and the row being stored (then linked), each twice."""
    fake_token()
    fake_api.auto_advance = False
    failures = {}
    for n, order in enumerate(itertools.permutations(STEPS)):
        lesson = Lesson.objects.create(title=f"Order {n}")
        remote = api.call(hooked, FastPixClient.create_direct_upload, "*", browser=True)
        assert requests.put(remote.url, data=b"o" * 10, timeout=10).status_code == 200
        fake_api.finish_processing()
        bodies = bodies_for(fake_api, remote.id)
        upload = None
        with capture("upload_linked") as sent, django_capture_on_commit_callbacks(execute=True):
            for step in [*order, *order]:  # every delivery twice; storing only once
                if step != "store":
                    deliver(hooked, bodies[step])
                elif upload is None:
                    # What start_upload does once FastPix answered.
                    with transaction.atomic():
                        upload = Upload.objects.create(
                            workspace=hooked,
                            fastpix_id=remote.id,
                            expires_at=timezone.now() + timedelta(hours=4),
                            content_type=ContentType.objects.get_for_model(Lesson),
                            object_id=str(lesson.pk),
                            field_name="video",
                            filename=f"order-{n}.mp4",
                        )
                    link_upload_media(upload)
        try:
            media = assert_linked_once(upload, lesson, sent)
            assert media.status == MediaStatus.READY
            assert media.title == f"order-{n}.mp4"
        except AssertionError as exc:
            failures[order] = str(exc).splitlines()[0][:200]
    assert not failures, "\n".join(f"{o}: {m}" for o, m in failures.items())


def test_ready_then_media_created_then_the_row_is_stored(
    fake_token, hooked, fake_api, django_capture_on_commit_callbacks
):
    """`ready` (no uploadId in its data) is applied first; the older `media_created` that names
    the upload must still record the media's upload id, or the row stored afterwards (and the
    sweep) can never find its media."""
    fake_token()
    fake_api.auto_advance = False
    remote = api.call(hooked, FastPixClient.create_direct_upload, "*", browser=True)
    assert requests.put(remote.url, data=b"r" * 10, timeout=10).status_code == 200
    fake_api.finish_processing()
    bodies = bodies_for(fake_api, remote.id)
    deliver(hooked, bodies["video.media.ready"])
    deliver(hooked, bodies["video.upload.media_created"])
    media = Media.objects.get(workspace=hooked)
    assert media.upload_id == remote.id, "media_created's uploadId was dropped"
    upload = Upload.objects.create(workspace=hooked, fastpix_id=remote.id)
    with capture("upload_linked") as sent, django_capture_on_commit_callbacks(execute=True):
        linked = link_upload_media(upload) or sweep_uploads().linked == 1
    assert linked
    assert_linked_once(upload, None, sent)


def test_a_media_for_an_unknown_upload_waits_for_it(hooked):
    body = json.dumps(
        {
            "type": "video.upload.media_created",
            "id": "evt-unknown-upload",
            "object": {"type": "media", "id": "m-unknown"},
            "data": {"id": "m-unknown", "uploadId": "up-unknown", "status": "Created"},
            "createdAt": timezone.now().isoformat(),
        }
    ).encode()
    deliver(hooked, body)
    media = Media.objects.get(fastpix_id="m-unknown")
    assert media.upload_id == "up-unknown" and not Upload.objects.exists()
    upload = Upload.objects.create(workspace=hooked, fastpix_id="up-unknown")
    assert link_upload_media(upload) is True
    upload.refresh_from_db()
    assert upload.media == media and upload.status == UploadStatus.ASSET_CREATED
    assert link_upload_media(upload) is False


def test_media_arriving_after_a_local_time_out_is_still_linked(
    fake_token, hooked, fake_api, django_capture_on_commit_callbacks
):
    fake_token()
    fake_api.auto_advance = False
    lesson = Lesson.objects.create(title="Late")
    started = start_upload(lesson_upload_context(hooked, lesson))
    assert requests.put(started.url, data=b"late", timeout=10).status_code == 200
    # Locally it timed out (the clock said so) although the file got in just in time.
    sweep_uploads(now=started.upload.expires_at + timedelta(seconds=1))
    started.upload.refresh_from_db()
    assert started.upload.status == UploadStatus.TIMED_OUT
    with capture("upload_linked") as sent, django_capture_on_commit_callbacks(execute=True):
        deliver(
            hooked, bodies_for(fake_api, started.upload.fastpix_id)["video.upload.media_created"]
        )
    assert_linked_once(started.upload, lesson, sent)


# --- cancelled in FastPix ---


def test_cancelled_webhook_cancels_the_upload_once(
    fake_token, hooked, fake_api, django_capture_on_commit_callbacks
):
    fake_token()
    started = start_upload(read_upload_context(upload_context(hooked)))
    # Cancelled elsewhere (the dashboard, another process): only the webhook tells us.
    api.call(hooked, FastPixClient.cancel_upload, started.upload.fastpix_id)
    body = bodies_for(fake_api, started.upload.fastpix_id)["video.media.upload.cancelled"]
    with (
        capture("upload_cancelled", "upload_failed") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        deliver(hooked, body)
        deliver(hooked, body)
        # The same news under another event id (FastPix re-sent it as a new event).
        again = json.loads(body)
        again["id"] = "evt-cancel-copy"
        deliver(hooked, json.dumps(again).encode())
    upload = Upload.objects.get(pk=started.upload.pk)
    assert upload.status == UploadStatus.CANCELLED and upload.finished_at is not None
    assert [(n, kw["upload"].pk) for n, kw in sent] == [("upload_cancelled", upload.pk)]
    # A sweep leaves it be.
    assert sweep_uploads(now=timezone.now() + timedelta(days=2)).timed_out == 0


def test_cancelled_webhook_does_not_undo_a_link(
    fake_token, hooked, fake_api, django_capture_on_commit_callbacks
):
    fake_token()
    fake_api.auto_advance = False
    started = start_upload(read_upload_context(upload_context(hooked)))
    assert requests.put(started.url, data=b"in", timeout=10).status_code == 200
    bodies = bodies_for(fake_api, started.upload.fastpix_id)
    deliver(hooked, bodies["video.upload.media_created"])
    forged_cancel = json.dumps(
        {
            "type": "video.media.upload.cancelled",
            "id": "evt-stale-cancel",
            "object": {"type": "media", "id": started.upload.fastpix_id},
            "data": {"id": started.upload.fastpix_id, "status": "cancelled"},
            "createdAt": timezone.now().isoformat(),
        }
    ).encode()
    with capture("upload_cancelled") as sent, django_capture_on_commit_callbacks(execute=True):
        deliver(hooked, forged_cancel)
    upload = Upload.objects.get(pk=started.upload.pk)
    assert upload.status == UploadStatus.ASSET_CREATED and upload.media_id is not None
    assert sent == []


# --- for real: the fake delivers to a live server, shuffled and duplicated ---


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [1, 7, 42])
def test_shuffled_and_duplicated_deliveries_link_each_upload_once(
    live_server, fake_token, hooked, fake_api, seed
):
    fake_token()
    url = live_server.url + reverse("django_fastpix:webhook", kwargs={"workspace": hooked.slug})
    fake_api.set_webhook("ws-default", url, SECRET)
    fake_api.auto_advance = False
    fake_api.hold_webhooks()
    lessons = [Lesson.objects.create(title=f"Shuffled {n}") for n in range(3)]
    with capture("upload_linked", "upload_created") as sent:
        started = [
            start_upload(lesson_upload_context(hooked, lesson), filename=f"s{n}.mp4")
            for n, lesson in enumerate(lessons)
        ]
        for s in started:
            assert requests.put(s.url, data=b"s" * 64, timeout=10).status_code == 200
        fake_api.finish_processing()
        events = list(fake_api.webhook_events)
        fake_api.release_webhooks(order="shuffled", seed=seed)
        assert fake_api.wait_for_webhooks(20)
        for e in events[::2]:
            fake_api.redeliver(e["id"])
        assert fake_api.wait_for_webhooks(20)
        assert wait_for(
            lambda: Upload.objects.filter(status=UploadStatus.ASSET_CREATED).count() == 3,
            timeout=10,
        )
    assert all(d.status_code == 200 for d in fake_api.webhook_deliveries)
    for s, lesson in zip(started, lessons, strict=True):
        media = assert_linked_once(s.upload, lesson, sent)
        assert media.status == MediaStatus.READY
    assert len([n for n, _ in sent if n == "upload_created"]) == 3
    assert Media.objects.count() == 3
    assert WebhookEvent.objects.count() == len({e["id"] for e in events})


# --- the signed URL stays out of the database ---


def test_upload_url_is_not_stored_by_the_upload_webhook(fake_token, hooked, fake_api):
    """The signed URL is a capability (spec: "NOT stored"): no table may hold it, including
    the stored `video.media.upload` event whose data FastPix fills with the upload object."""
    fake_token()
    fake_api.auto_advance = False
    started = start_upload(read_upload_context(upload_context(hooked)))
    for body in bodies_for(fake_api, started.upload.fastpix_id).values():
        deliver(hooked, body)
    signature = started.url.split("signature=", 1)[1]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT payload FROM {WebhookEvent._meta.db_table}")
        stored = repr(cursor.fetchall())
    assert signature not in stored, "the signed upload URL is stored in a webhook payload"
