"""The upload views against the fake FastPix: create, send the file, webhooks, poll, cancel."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

import pytest
import requests
from django.contrib.auth.models import Permission
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client
from django.urls import reverse

from django_fastpix.models import Media, Upload, UploadStatus
from django_fastpix.services import webhooks
from django_fastpix.services.uploads import upload_context
from tests.conftest import SECRET
from tests.reliability_support import WEBHOOK_SECRET, signed
from tests.testapp.models import Lesson

pytestmark = pytest.mark.django_db

CREATE = "/fastpix/uploads/"
FILE = b"\x00\x00\x00\x18ftypmp42" + b"x" * 500
HOOK_CALLS: list[tuple[object, object]] = []


def record_and_allow(request, target) -> bool:
    HOOK_CALLS.append((request.user, target))
    return True


def deny(request, target) -> bool:
    return False


@pytest.fixture
def ready(fake_token, workspace):
    """A workspace whose token the fake knows, and that verifies webhooks."""
    fake_token()
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    return workspace


def make_user(django_user_model, username: str, *perms: str, staff: bool = False):
    user = django_user_model.objects.create_user(username, password="pw", is_staff=staff)
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(
                content_type__app_label=codename.split(".")[0], codename=codename.split(".")[1]
            )
        )
    return django_user_model.objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def uploader(django_user_model):
    return make_user(django_user_model, "uploader", "django_fastpix.add_upload")


def logged_in(user, *, enforce_csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(user)
    return client


def create(client: Client, context: str, **fields):
    data = {"context": context, "filename": "clip.mp4", "size": str(len(FILE)), **fields}
    return client.post(CREATE, data)


def deliver_fake_webhooks(fake_api, workspace) -> None:
    """Every event the fake emitted, signed and received as the webhook view hands it over."""
    for event in fake_api.webhook_events:
        body = json.dumps(event).encode()
        workspace.refresh_from_db()
        webhooks.receive(workspace, body, signed(body))


def test_create_put_webhooks_then_status_shows_the_media(ready, uploader, fake_api, caplog):
    caplog.set_level(logging.DEBUG)
    client = logged_in(uploader)
    response = create(client, upload_context(ready))
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "upload",
        "upload_id",
        "url",
        "expires_at",
        "status_url",
        "cancel_url",
        "chunk_size_kb",
    }
    upload = Upload.objects.get(pk=body["upload"])
    assert upload.fastpix_id == body["upload_id"] and upload.created_by == uploader
    assert upload.filename == "clip.mp4" and upload.size == len(FILE)
    assert body["status_url"] == reverse("django_fastpix:upload-status", args=[upload.pk])
    assert body["cancel_url"] == reverse("django_fastpix:upload-cancel", args=[upload.pk])
    assert body["chunk_size_kb"] == 16384 and body["expires_at"]
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    (post,) = fake_api.requests_for("POST /on-demand/upload")
    assert post.json["corsOrigin"] == "http://testserver"

    status = client.get(body["status_url"]).json()
    assert status == {
        "upload": upload.pk,
        "status": "waiting",
        "media": None,
        "media_status": None,
        "error": "",
    }

    put = requests.put(body["url"], data=FILE, timeout=5)  # the one-shot protocol
    assert put.status_code == 200, put.text
    deliver_fake_webhooks(fake_api, ready)

    status = client.get(body["status_url"]).json()
    media = Media.objects.get(upload_id=upload.fastpix_id)
    assert status["media"] == media.pk and status["status"] == UploadStatus.ASSET_CREATED
    assert status["media_status"] == media.status and status["error"] == ""
    # The signed URL is a capability: not stored, not logged.
    signature = urlsplit(body["url"]).query
    assert signature
    # (urllib3 logs the test's own PUT above: that is the browser's side.)
    app_log = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("urllib3"))
    assert app_log and signature not in app_log and body["url"] not in app_log
    stored = Upload.objects.filter(pk=upload.pk).values().get()
    assert all(body["url"] not in str(value) for value in stored.values())


def test_an_upload_for_a_saved_object_fills_its_video_field(ready, fake_api, django_user_model):
    editor = make_user(django_user_model, "editor", "testapp.change_lesson")
    lesson = Lesson.objects.create(title="Intro")
    client = logged_in(editor)
    body = create(client, upload_context(ready, target=lesson, field_name="video")).json()
    assert requests.put(body["url"], data=FILE, timeout=5).status_code == 200
    deliver_fake_webhooks(fake_api, ready)
    lesson.refresh_from_db()
    assert lesson.video_id == client.get(body["status_url"]).json()["media"] is not None


def test_the_permission_hook_gets_the_request_and_target(ready, uploader, settings):
    settings.FASTPIX = {
        **settings.FASTPIX,
        "UPLOAD_PERMISSION": "tests.integration.test_upload_views.record_and_allow",
        "UPLOAD_CORS_ORIGIN": "https://cms.example.com",
    }
    lesson = Lesson.objects.create(title="Intro")
    HOOK_CALLS.clear()
    response = create(logged_in(uploader), upload_context(ready, target=lesson))
    assert response.status_code == 201
    assert [(uploader, lesson)] == HOOK_CALLS
    upload = Upload.objects.get()
    assert upload.target == lesson


def test_cors_origin_setting_is_sent_to_fastpix(ready, uploader, settings, fake_api):
    settings.FASTPIX = {**settings.FASTPIX, "UPLOAD_CORS_ORIGIN": "https://cms.example.com"}
    assert create(logged_in(uploader), upload_context(ready)).status_code == 201
    (post,) = fake_api.requests_for("POST /on-demand/upload")
    assert post.json["corsOrigin"] == "https://cms.example.com"


def test_refused_by_the_permission_hook(ready, uploader, settings, fake_api, django_user_model):
    nobody = make_user(django_user_model, "nobody")
    response = create(logged_in(nobody), upload_context(ready))
    assert response.status_code == 403 and "permission" in response.json()["error"]
    lesson = Lesson.objects.create(title="Intro")
    # add_upload is not enough for an object the user may not change.
    response = create(logged_in(uploader), upload_context(ready, target=lesson))
    assert response.status_code == 403
    settings.FASTPIX = {
        **settings.FASTPIX,
        "UPLOAD_PERMISSION": "tests.integration.test_upload_views.deny",
    }
    assert create(logged_in(uploader), upload_context(ready)).status_code == 403
    assert fake_api.requests_for("POST /on-demand/upload") == []
    assert not Upload.objects.exists()


@pytest.mark.parametrize("context", ["", "garbage", "forged:abc:def"])
def test_a_bad_context_is_400(ready, uploader, context, fake_api):
    response = create(logged_in(uploader), context)
    assert response.status_code == 400
    assert response.json()["error"]
    assert fake_api.requests_for("POST /on-demand/upload") == []


def test_a_tampered_or_expired_context_is_400(ready, uploader, settings):
    good = upload_context(ready)
    client = logged_in(uploader)
    assert (
        create(client, good[:-2] + ("AA" if not good.endswith("AA") else "BB")).status_code == 400
    )
    settings.FASTPIX = {**settings.FASTPIX, "UPLOAD_CONTEXT_MAX_AGE": -1}
    response = create(client, good)
    assert response.status_code == 400 and "expired" in response.json()["error"]


def test_a_bad_size_is_400(ready, uploader):
    response = create(logged_in(uploader), upload_context(ready), size="12abc")
    assert response.status_code == 400 and "size" in response.json()["error"]


def test_anonymous_requests_get_403_json_not_a_login_redirect(ready, uploader):
    upload = started(ready, uploader)
    client = Client()
    for response in (
        create(client, upload_context(ready)),
        client.get(reverse("django_fastpix:upload-status", args=[upload.pk])),
        client.post(reverse("django_fastpix:upload-cancel", args=[upload.pk])),
    ):
        assert response.status_code == 403
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]


def test_methods(ready, uploader):
    client = logged_in(uploader)
    assert client.get(CREATE).status_code == 405
    upload = started(ready, uploader)
    assert client.post(reverse("django_fastpix:upload-status", args=[upload.pk])).status_code == 405
    assert client.get(reverse("django_fastpix:upload-cancel", args=[upload.pk])).status_code == 405


def test_csrf_is_enforced(ready, uploader):
    client = logged_in(uploader, enforce_csrf=True)
    context = upload_context(ready)
    response = create(client, context)
    assert response.status_code == 403 and b"CSRF" in response.content
    assert not Upload.objects.exists()
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    response = client.post(
        CREATE, {"context": context, "filename": "a.mp4"}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201
    cancel_url = response.json()["cancel_url"]
    assert client.post(cancel_url).status_code == 403  # no token: refused
    assert Upload.objects.get().status == UploadStatus.WAITING
    assert client.post(cancel_url, HTTP_X_CSRFTOKEN=token).json() == {"status": "cancelled"}


def test_fastpix_errors_are_502_without_secrets(ready, uploader, fake_api):
    fake_api.inject("POST /on-demand/upload", status=500)
    response = create(logged_in(uploader), upload_context(ready))
    assert response.status_code == 502
    error = response.json()["error"]
    assert "FastPix" in error and "500" in error
    assert SECRET not in response.content.decode() and "tok_" not in error
    assert "http" not in error
    fake_api.clear_faults()
    fake_api.inject("POST /on-demand/upload", status=422)
    response = create(logged_in(uploader), upload_context(ready))
    assert response.status_code == 502 and "422" in response.json()["error"]
    assert not Upload.objects.exists()


def test_no_usable_token_is_503(workspace, uploader, fake_api):
    response = create(logged_in(uploader), upload_context(workspace))
    assert response.status_code == 503
    error = response.json()["error"]
    assert "token" in error and "manage.py" not in error


def test_unreachable_fastpix_is_502(ready, uploader, fake_api):
    fake_api.inject("POST /on-demand/upload", reset=True)
    response = create(logged_in(uploader), upload_context(ready))
    assert response.status_code == 502 and "reached" in response.json()["error"]


def started(workspace, user) -> Upload:
    response = create(logged_in(user), upload_context(workspace))
    assert response.status_code == 201, response.content
    return Upload.objects.get(pk=response.json()["upload"])


def test_status_is_for_the_creator_and_staff_with_view_upload(ready, uploader, django_user_model):
    upload = started(ready, uploader)
    url = reverse("django_fastpix:upload-status", args=[upload.pk])
    other = make_user(django_user_model, "other", "django_fastpix.add_upload")
    staff = make_user(django_user_model, "staff", staff=True)
    viewer = make_user(django_user_model, "viewer", "django_fastpix.view_upload", staff=True)
    not_staff = make_user(django_user_model, "notstaff", "django_fastpix.view_upload")
    assert logged_in(uploader).get(url).status_code == 200
    assert logged_in(viewer).get(url).json()["upload"] == upload.pk
    for user in (other, staff, not_staff):
        response = logged_in(user).get(url)
        assert response.status_code == 404 and response["Content-Type"] == "application/json"
    missing = reverse("django_fastpix:upload-status", args=[upload.pk + 100])
    assert logged_in(uploader).get(missing).status_code == 404


def test_cancel(ready, uploader, fake_api, django_user_model):
    upload = started(ready, uploader)
    url = reverse("django_fastpix:upload-cancel", args=[upload.pk])
    assert logged_in(make_user(django_user_model, "other")).post(url).status_code == 404
    viewer = make_user(django_user_model, "viewer", "django_fastpix.view_upload", staff=True)
    assert logged_in(viewer).post(url).status_code == 403
    response = logged_in(uploader).post(url)
    assert response.status_code == 200 and response.json() == {"status": "cancelled"}
    upload.refresh_from_db()
    assert upload.status == UploadStatus.CANCELLED
    (remote,) = fake_api.uploads()
    assert remote["status"] == "cancelled"
    # Again: nothing to do, same answer, no second call.
    assert logged_in(uploader).post(url).json() == {"status": "cancelled"}
    assert len(fake_api.requests_for("PUT /on-demand/upload/{uploadId}/cancel")) == 1
    status = logged_in(uploader).get(reverse("django_fastpix:upload-status", args=[upload.pk]))
    assert status.json()["status"] == "cancelled"


def test_staff_with_change_upload_may_cancel(ready, uploader, django_user_model):
    upload = started(ready, uploader)
    admin = make_user(
        django_user_model,
        "admin",
        "django_fastpix.view_upload",
        "django_fastpix.change_upload",
        staff=True,
    )
    url = reverse("django_fastpix:upload-cancel", args=[upload.pk])
    assert logged_in(admin).post(url).json() == {"status": "cancelled"}


def test_cancel_after_the_file_arrived_is_409(ready, uploader, fake_api):
    client = logged_in(uploader)
    body = create(client, upload_context(ready)).json()
    assert requests.put(body["url"], data=FILE, timeout=5).status_code == 200
    # FastPix has the file, the webhook has not come yet: FastPix refuses to cancel.
    response = client.post(body["cancel_url"])
    assert response.status_code == 409 and "arrived" in response.json()["error"]
    deliver_fake_webhooks(fake_api, ready)
    response = client.post(body["cancel_url"])
    assert response.status_code == 409
    assert response.json()["status"] == UploadStatus.ASSET_CREATED


def test_cancel_fastpix_failure_is_502(ready, uploader, fake_api):
    client = logged_in(uploader)
    body = create(client, upload_context(ready)).json()
    fake_api.inject("PUT /on-demand/upload/{uploadId}/cancel", status=500)
    response = client.post(body["cancel_url"])
    assert response.status_code == 502 and SECRET not in response.content.decode()
    assert Upload.objects.get().status == UploadStatus.WAITING
