"""Browser uploads against the fake FastPix (issue 10): start, context, cancel, sweep, tokens."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.core import signing
from django.db import connection
from django.utils import timezone

from django_fastpix.client import FastPixClient
from django_fastpix.exceptions import (
    FastPixError,
    NoUsableTokenError,
    UploadContextError,
    UploadError,
)
from django_fastpix.models import Media, Upload, UploadStatus
from django_fastpix.services import api
from django_fastpix.services import uploads as upload_services
from django_fastpix.services.tokens import revoke_token
from django_fastpix.services.uploads import (
    cancel_upload,
    link_upload_media,
    read_upload_context,
    start_upload,
    sweep_uploads,
    upload_context,
)
from tests.testapp.events import capture
from tests.testapp.models import Lesson

pytestmark = pytest.mark.django_db


def context_for(workspace, **kwargs: Any):
    return read_upload_context(upload_context(workspace, **kwargs))


def fake_upload(fake, upload_id: str) -> dict[str, Any]:
    (found,) = [u for u in fake.uploads() if u["uploadId"] == upload_id]
    return found


def all_rows() -> str:
    """Every table of the database as stored (raw SQL, nothing decrypted)."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            dump.append(f"{table}: {cursor.fetchall()!r}")
    return "\n".join(dump)


@pytest.fixture
def lesson(db) -> Lesson:
    return Lesson.objects.create(title="Upload target")


# --- start_upload ---


def test_start_upload_gives_a_url_the_file_can_be_put_to(
    fake_token, workspace, fake_api, django_capture_on_commit_callbacks
):
    fake_token()
    fake_api.auto_advance = False
    with capture("upload_created") as sent, django_capture_on_commit_callbacks(execute=True):
        started = start_upload(
            context_for(workspace), filename="videos/holiday.mp4", size=2048, cors_origin="*"
        )
    upload = started.upload
    assert upload.status == UploadStatus.WAITING and upload.media_id is None
    assert upload.filename == "holiday.mp4" and upload.size == 2048
    assert upload.workspace == workspace and upload.access_policy == "public"
    remaining = (upload.expires_at - timezone.now()).total_seconds()
    assert 14000 < remaining <= 14400
    assert [(n, kw["upload"].pk) for n, kw in sent] == [("upload_created", upload.pk)]

    remote = fake_upload(fake_api, upload.fastpix_id)
    assert remote["status"] == "waiting" and remote["browser"] is True
    (create,) = fake_api.requests_for("POST /on-demand/upload")
    headers = {k.lower(): v for k, v in create.headers.items()}
    assert headers.get("x-client-type") == "web-browser"
    assert create.json["pushMediaSettings"]["accessPolicy"] == "public"

    # The URL works: one PUT with the whole file.
    response = requests.put(started.url, data=b"v" * 2048, timeout=10)
    assert response.status_code == 200, response.text
    remote = fake_upload(fake_api, upload.fastpix_id)
    assert remote["status"] == "created" and remote["receivedBytes"] == 2048
    assert remote["mediaId"]

    # The signed URL (a capability) is not stored anywhere.
    signature = started.url.split("signature=", 1)[1]
    assert signature and signature not in all_rows()
    assert signature not in repr(upload) and signature not in str(upload)
    assert signature not in repr(started.upload.__dict__)


def test_start_upload_logs_no_signed_url(fake_token, workspace, fake_api, caplog, settings):
    fake_token()
    settings.DEBUG = True  # SQL with its parameters is logged too
    caplog.set_level(logging.DEBUG)
    started = start_upload(context_for(workspace), filename="a.mp4")
    signature = started.url.split("signature=", 1)[1]
    assert any(r.name == "django.db.backends" for r in caplog.records)
    assert signature not in caplog.text
    assert started.upload.fastpix_id in caplog.text  # it does log, just not the URL


def test_start_upload_for_a_target_and_private_policy(fake_token, workspace, fake_api, lesson):
    fake_token()
    ctx = context_for(workspace, target=lesson, field_name="video", access_policy="private")
    assert ctx.target == lesson and ctx.field_name == "video" and ctx.access_policy == "private"
    upload = start_upload(ctx, filename="l.mp4").upload
    assert upload.target == lesson and upload.field_name == "video"
    assert upload.object_id == str(lesson.pk) and upload.access_policy == "private"
    (create,) = fake_api.requests_for("POST /on-demand/upload")
    assert create.json["pushMediaSettings"]["accessPolicy"] == "private"


def test_fastpix_refusing_the_upload_stores_nothing(fake_token, workspace, fake_api):
    fake_token()
    fake_api.inject("POST /on-demand/upload", status=400, times=1)
    with pytest.raises(UploadError) as caught:
        start_upload(context_for(workspace))
    assert isinstance(caught.value.__cause__, FastPixError)
    assert not Upload.objects.exists()


def test_upload_not_stored_is_withdrawn_in_fastpix(fake_token, workspace, fake_api, monkeypatch):
    fake_token()

    def broken(*args: Any, **kwargs: Any) -> Upload:
        raise RuntimeError("database went away")

    monkeypatch.setattr(Upload.objects, "create", broken)
    with pytest.raises(RuntimeError):
        start_upload(context_for(workspace))
    (remote,) = fake_api.uploads()
    assert remote["status"] == "cancelled"  # nobody would ever sweep it
    assert not Upload.objects.exists()


# --- the signed context ---


def test_tampered_context_is_refused(workspace, lesson):
    value = upload_context(workspace, target=lesson, field_name="video")
    payload, rest = value.split(":", 1)
    forged = ("x" if payload[0] != "x" else "y") + payload[1:] + ":" + rest
    for bad in (forged, value[:-2] + "AA", "", "not-a-context", value + "x"):
        with pytest.raises(UploadContextError):
            read_upload_context(bad)
    # Another salt's signature of the same payload is not an upload context either.
    other = signing.dumps({"w": workspace.pk, "a": "public"}, salt="something.else")
    with pytest.raises(UploadContextError):
        read_upload_context(other)


def test_expired_context_follows_the_setting(workspace, settings, monkeypatch):
    real_time = signing.time.time
    monkeypatch.setattr(signing.time, "time", lambda: real_time() - 7200)
    old = upload_context(workspace)  # signed two hours ago
    monkeypatch.setattr(signing.time, "time", real_time)
    settings.FASTPIX = {**settings.FASTPIX, "UPLOAD_CONTEXT_MAX_AGE": 3600}
    with pytest.raises(UploadContextError, match="expired"):
        read_upload_context(old)
    settings.FASTPIX = {**settings.FASTPIX, "UPLOAD_CONTEXT_MAX_AGE": 3 * 3600}
    assert read_upload_context(old).workspace == workspace


def test_bad_targets_and_fields_are_value_errors(workspace, lesson):
    with pytest.raises(ValueError, match="title"):
        upload_context(workspace, target=lesson, field_name="title")  # not a VideoField
    with pytest.raises(ValueError, match="nope"):
        upload_context(workspace, target=lesson, field_name="nope")
    with pytest.raises(ValueError):
        upload_context(workspace, field_name="video")  # no target
    with pytest.raises(ValueError):
        upload_context(workspace, access_policy="drm")


def test_context_whose_target_or_workspace_is_gone(workspace, lesson):
    value = upload_context(workspace, target=lesson, field_name="video")
    Lesson.objects.filter(pk=lesson.pk).delete()
    with pytest.raises(UploadContextError):
        read_upload_context(value)
    value = upload_context(workspace)
    type(workspace).objects.filter(pk=workspace.pk).delete()
    with pytest.raises(UploadContextError):
        read_upload_context(value)


# --- cancel ---


def test_cancel_cancels_in_fastpix_then_here(
    fake_token, workspace, fake_api, django_capture_on_commit_callbacks
):
    fake_token()
    started = start_upload(context_for(workspace))
    with (
        capture("upload_cancelled", "upload_failed") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        upload = cancel_upload(started.upload, by="alice")
    assert upload.status == UploadStatus.CANCELLED and "alice" in upload.error
    assert upload.finished_at is not None and upload.is_finished
    assert Upload.objects.get(pk=upload.pk).status == UploadStatus.CANCELLED
    assert fake_upload(fake_api, upload.fastpix_id)["status"] == "cancelled"
    assert [(n, kw["upload"].pk) for n, kw in sent] == [("upload_cancelled", upload.pk)]
    # The URL no longer takes a file.
    assert requests.put(started.url, data=b"late", timeout=10).status_code >= 400
    # Cancelling again is refused here, without asking FastPix.
    fake_api.clear_requests()
    with pytest.raises(UploadError):
        cancel_upload(upload)
    assert fake_api.requests == []


def test_cancel_after_the_file_arrived_is_refused(fake_token, workspace, fake_api):
    fake_token()
    fake_api.auto_advance = False
    started = start_upload(context_for(workspace))
    assert requests.put(started.url, data=b"file", timeout=10).status_code == 200
    with (
        capture("upload_cancelled") as sent,
        pytest.raises(UploadError, match="would not cancel"),
    ):
        cancel_upload(started.upload)
    started.upload.refresh_from_db()
    assert started.upload.status == UploadStatus.WAITING  # its media event will link it
    assert sent == []


def test_cancel_of_an_upload_fastpix_forgot(fake_token, workspace, fake_api, monkeypatch):
    fake_token()
    started = start_upload(context_for(workspace))
    real_call = api.call

    def not_found(ws, method, *args, **kwargs):
        if method is FastPixClient.cancel_upload:
            return real_call(ws, method, "0123456789abcdef0123456789abcdef", **kwargs)
        return real_call(ws, method, *args, **kwargs)

    monkeypatch.setattr(api, "call", not_found)
    upload = cancel_upload(started.upload)
    assert upload.status == UploadStatus.CANCELLED


# --- sweep ---


def test_sweep_times_out_expired_uploads_and_withdraws_them(
    fake_token, workspace, fake_api, django_capture_on_commit_callbacks
):
    fake_token()
    expired = start_upload(context_for(workspace), filename="old.mp4").upload
    fresh = start_upload(context_for(workspace), filename="new.mp4").upload
    Upload.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=5))
    with (
        capture("upload_failed", "upload_cancelled") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = sweep_uploads()
    assert (result.linked, result.timed_out) == (0, 1)
    expired.refresh_from_db()
    fresh.refresh_from_db()
    assert expired.status == UploadStatus.TIMED_OUT and expired.finished_at is not None
    assert "expired" in expired.error.lower()
    assert fresh.status == UploadStatus.WAITING
    assert fake_upload(fake_api, expired.fastpix_id)["status"] == "cancelled"
    assert fake_upload(fake_api, fresh.fastpix_id)["status"] == "waiting"
    assert [(n, kw["upload"].pk) for n, kw in sent] == [("upload_failed", expired.pk)]
    assert sent[0][1]["reason"] == expired.error
    # Once is enough: a second sweep finds nothing to do.
    with capture("upload_failed") as again, django_capture_on_commit_callbacks(execute=True):
        assert sweep_uploads() == upload_services.SweepResult(0, 0)
    assert again == []


def test_sweep_with_a_later_now(fake_token, workspace, fake_api):
    fake_token()
    upload = start_upload(context_for(workspace)).upload
    assert sweep_uploads().timed_out == 0
    result = sweep_uploads(now=upload.expires_at + timedelta(seconds=1))
    assert result.timed_out == 1
    upload.refresh_from_db()
    assert upload.status == UploadStatus.TIMED_OUT


def test_sweep_times_out_an_upload_fastpix_already_expired(fake_token, workspace, fake_api):
    fake_token()
    upload = start_upload(context_for(workspace)).upload
    fake_api.expire_upload(upload.fastpix_id)
    result = sweep_uploads(now=upload.expires_at + timedelta(seconds=1))
    assert result.timed_out == 1  # withdrawing it there failed; it is still timed out here
    upload.refresh_from_db()
    assert upload.status == UploadStatus.TIMED_OUT


def test_sweep_links_a_media_that_arrived_unnoticed(
    fake_token, workspace, fake_api, lesson, django_capture_on_commit_callbacks
):
    fake_token()
    fake_api.auto_advance = False
    ctx = context_for(workspace, target=lesson, field_name="video")
    started = start_upload(ctx, filename="unnoticed.mp4")
    assert requests.put(started.url, data=b"bytes", timeout=10).status_code == 200
    media_id = fake_upload(fake_api, started.upload.fastpix_id)["mediaId"]
    # The media row exists (a sync found it, say) but nothing linked the upload to it.
    media = Media.objects.create(
        workspace=workspace, fastpix_id=media_id, upload_id=started.upload.fastpix_id
    )
    # Even past its expiry: the file did arrive, so it is linked, not timed out.
    Upload.objects.filter(pk=started.upload.pk).update(expires_at=timezone.now())
    with (
        capture("upload_linked", "upload_failed") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = sweep_uploads()
    assert (result.linked, result.timed_out) == (1, 0)
    upload = Upload.objects.get(pk=started.upload.pk)
    assert upload.media_id == media.pk and upload.status == UploadStatus.ASSET_CREATED
    lesson.refresh_from_db()
    assert lesson.video_id == media.pk
    media.refresh_from_db()
    assert media.source_object == lesson and media.title == "unnoticed.mp4"
    assert [(n, kw["upload"].pk, kw["media"].pk) for n, kw in sent] == [
        ("upload_linked", upload.pk, media.pk)
    ]
    assert fake_upload(fake_api, upload.fastpix_id)["status"] == "created"  # not withdrawn
    with capture("upload_linked") as again, django_capture_on_commit_callbacks(execute=True):
        assert sweep_uploads().linked == 0
        assert link_upload_media(upload) is False
    assert again == []


def test_sweep_leaves_cancelled_uploads_alone(fake_token, workspace, fake_api):
    fake_token()
    upload = cancel_upload(start_upload(context_for(workspace)).upload)
    fake_api.clear_requests()
    result = sweep_uploads(now=upload.expires_at + timedelta(days=1))
    assert (result.linked, result.timed_out) == (0, 0)
    assert fake_api.requests == []
    upload.refresh_from_db()
    assert upload.status == UploadStatus.CANCELLED


# --- a revoked token is never used ---


def _raised_no_usable_token(exc: BaseException) -> bool:
    return isinstance(exc, NoUsableTokenError) or isinstance(exc.__cause__, NoUsableTokenError)


def test_revoked_token_is_never_used_for_uploads(fake_token, workspace, fake_api):
    token = fake_token()
    token_id = token.credentials().token_id
    waiting = start_upload(context_for(workspace)).upload
    Upload.objects.filter(pk=waiting.pk).update(expires_at=timezone.now() - timedelta(1))
    waiting.refresh_from_db()
    revoke_token(token, reason="leaked", by="test")
    fake_api.clear_requests()

    with pytest.raises(FastPixError) as caught:
        start_upload(context_for(workspace))
    assert _raised_no_usable_token(caught.value), caught.value
    with pytest.raises(FastPixError) as caught:
        cancel_upload(waiting)
    assert _raised_no_usable_token(caught.value), caught.value
    sweep_uploads()  # withdrawing in FastPix is best effort: it fails without the token

    assert all(r.token_id != token_id for r in fake_api.requests)
    assert fake_api.request_counts(hints=False).by_token.get(token_id, 0) == 0
    assert Upload.objects.count() == 1
