"""The upload admin against the fake FastPix: a read-only list, cancel (confirmed, per-row
failures reported) and sweep; the signed upload URL is on no page."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_fastpix.models import Upload, UploadStatus
from django_fastpix.services.uploads import StartedUpload, UploadContext, start_upload
from tests.admin.conftest import PASSWORD, action_post, admin_url, confirm_post, grant, messages_of
from tests.commands.conftest import run, run_capturing
from tests.testapp.models import Lesson

pytestmark = pytest.mark.django_db


@pytest.fixture
def begin(workspace, fake_token, django_user_model):
    fake_token()

    def start(filename: str = "talk.mp4", target=None) -> StartedUpload:
        context = UploadContext(workspace, target, "video" if target else "", "public")
        return start_upload(context, filename=filename, size=1234)

    return start


def remote_status(fake, upload: Upload) -> str:
    [found] = [u for u in fake.uploads() if u["uploadId"] == upload.fastpix_id]
    return found["status"]


def post(client: Client, body: dict):
    client.get("/admin/")  # consumes messages queued by earlier requests
    return client.post(admin_url("upload", "changelist"), body)


def test_the_list_is_read_only_and_shows_no_upload_url(admin_client, begin):
    lesson = Lesson.objects.create(title="Intro")
    started = begin(target=lesson)
    upload = started.upload
    html = admin_client.get(admin_url("upload", "changelist")).content.decode()
    assert upload.fastpix_id in html and "talk.mp4" in html and "Waiting for the file" in html
    assert reverse("admin:testapp_lesson_change", args=[lesson.pk]) in html
    change = admin_client.get(admin_url("upload", "change", upload.pk)).content.decode()
    assert upload.fastpix_id in change and 'name="status"' not in change
    for text in (html, change):
        assert started.url not in text
    assert admin_client.get(admin_url("upload", "delete", upload.pk)).status_code == 403
    assert admin_client.post(admin_url("upload", "change", upload.pk), {}).status_code == 403
    response = admin_client.get(admin_url("upload", "changelist"))
    choices = [value for value, _ in response.context["action_form"].fields["action"].choices]
    assert choices == ["", "cancel_uploads", "sweep_stale_uploads"]
    assert (
        "talk.mp4"
        in admin_client.get(
            admin_url("upload", "changelist") + "?q=talk&status__exact=waiting"
        ).content.decode()
    )


def test_cancel_is_confirmed_and_cancels_in_fastpix(admin_client, begin, fake_api):
    first, second = begin("a.mp4").upload, begin("b.mp4").upload
    page = post(admin_client, action_post("cancel_uploads", [first.pk, second.pk]))
    assert page.status_code == 200 and "Cancel uploads" in page.content.decode()
    assert remote_status(fake_api, first) == "waiting"

    fake_api.inject("PUT /on-demand/upload/*/cancel", status=400, times=1)
    response = post(admin_client, confirm_post("cancel_uploads", [first.pk, second.pk]))
    assert response.status_code == 302
    levels = sorted(level for level, _ in messages_of(response))
    assert levels == ["error", "success"]
    statuses = sorted(Upload.objects.values_list("status", flat=True))
    assert statuses == [UploadStatus.CANCELLED, UploadStatus.WAITING]
    cancelled = Upload.objects.get(status=UploadStatus.CANCELLED)
    assert remote_status(fake_api, cancelled) == "cancelled"
    assert LogEntry.objects.get().get_change_message() == "Cancelled in FastPix"

    # The one left waiting is cancelled on a second try; the cancelled one is skipped.
    fake_api.clear_faults()
    response = post(admin_client, confirm_post("cancel_uploads", [first.pk, second.pk]))
    assert sorted(level for level, _ in messages_of(response)) == ["success", "warning"]
    assert set(Upload.objects.values_list("status", flat=True)) == {UploadStatus.CANCELLED}


def test_sweep_times_out_expired_uploads(admin_client, begin, fake_api):
    stale, fresh = begin("old.mp4").upload, begin("new.mp4").upload
    Upload.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = post(admin_client, action_post("sweep_stale_uploads", [fresh.pk]))
    [(level, text)] = messages_of(response)
    assert level == "success" and "1 timed out" in text
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == UploadStatus.TIMED_OUT and fresh.status == UploadStatus.WAITING
    assert remote_status(fake_api, fresh) == "waiting"


def test_staff_without_change_permission_cannot_cancel(django_user_model, begin, fake_api):
    upload = begin().upload
    user = django_user_model.objects.create_user("looker", password=PASSWORD, is_staff=True)
    grant(user, "view_upload")
    client = Client()
    client.force_login(user)
    assert client.get(admin_url("upload", "changelist")).status_code == 200
    post(client, confirm_post("cancel_uploads", [upload.pk]))
    upload.refresh_from_db()
    assert upload.status == UploadStatus.WAITING
    assert remote_status(fake_api, upload) == "waiting"


# --- fastpix_uploads ---


def test_the_uploads_command_lists_cancels_and_sweeps(begin, fake_api):
    started = begin("lecture.mp4")
    upload = started.upload
    listing = run("fastpix_uploads", "list")
    assert upload.fastpix_id in listing and "lecture.mp4" in listing and "waiting" in listing
    rows = json.loads(run("fastpix_uploads", "list", "--status", "waiting", "--json"))
    assert [r["id"] for r in rows] == [upload.pk] and rows[0]["size"] == 1234
    assert started.url not in listing + json.dumps(rows)
    assert json.loads(run("fastpix_uploads", "list", "--status", "cancelled", "--json")) == []

    out = run("fastpix_uploads", "cancel", str(upload.pk))
    assert f"Cancelled upload {upload.pk}" in out
    assert remote_status(fake_api, upload) == "cancelled"
    _, error = run_capturing("fastpix_uploads", "cancel", str(upload.pk))
    assert isinstance(error, CommandError) and "cancelled" in str(error)
    _, error = run_capturing("fastpix_uploads", "cancel", "999999")
    assert isinstance(error, CommandError) and "No upload 999999" in str(error)

    stale = begin("old.mp4").upload
    Upload.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert json.loads(run("fastpix_uploads", "sweep", "--json")) == {"linked": 0, "timed_out": 1}
    assert Upload.objects.get(pk=stale.pk).status == UploadStatus.TIMED_OUT
    assert "0 timed out" in run("fastpix_uploads", "sweep")
