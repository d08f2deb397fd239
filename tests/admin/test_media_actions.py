"""Media and webhook actions against the real services and the fake FastPix."""

from __future__ import annotations

import json

import pytest

from django_fastpix.models import Media, MediaStatus, WebhookEvent, WebhookOutcome
from django_fastpix.services.media import create_remote_media
from tests.admin.conftest import action_post, admin_url, confirm_post, messages_of

pytestmark = pytest.mark.django_db

VIDEO = "https://cdn.example.com/lesson.mp4"


@pytest.fixture
def remote(fake_token, workspace, fake_api) -> Media:
    """A media created in the fake FastPix, processed there, not yet refreshed here."""
    fake_token()
    media = Media.objects.create(workspace=workspace, source_url=VIDEO, title="Lesson")
    media = create_remote_media(media.pk)
    assert media.fastpix_id and media.status == MediaStatus.CREATED
    fake_api.finish_processing(media.fastpix_id)
    return media


def post(client, model: str, body: dict):
    return client.post(admin_url(model, "changelist"), body)


def test_refresh_brings_the_row_up_to_fastpix(admin_client, remote):
    response = post(admin_client, "media", action_post("refresh_from_fastpix", [remote.pk]))
    assert messages_of(response) == [("success", "Lesson: refreshed (status: Ready).")]
    remote.refresh_from_db()
    assert remote.status == MediaStatus.READY and remote.playback_ids.exists()
    html = admin_client.get(admin_url("media", "changelist")).content.decode()
    assert remote.playback_ids.get().thumbnail_url in html


def test_refresh_reports_fastpix_errors_per_row(admin_client, remote, workspace):
    never_created = Media.objects.create(workspace=workspace, title="Pending")
    response = post(
        admin_client, "media", action_post("refresh_from_fastpix", [remote.pk, never_created.pk])
    )
    levels = {text.split(":")[0]: level for level, text in messages_of(response)}
    assert levels == {"Lesson": "success", "Pending": "error"}


def test_retry_creation_of_a_pending_media(
    admin_client, fake_token, workspace, fake_api, django_capture_on_commit_callbacks
):
    fake_token()
    pending = Media.objects.create(workspace=workspace, source_url=VIDEO, title="Stuck")
    ready = Media.objects.create(workspace=workspace, fastpix_id="med_x", status="ready")
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            admin_client, "media", action_post("retry_creation", [pending.pk, ready.pk])
        )
    assert sorted(level for level, _ in messages_of(response)) == ["success", "warning"]
    pending.refresh_from_db()
    assert pending.fastpix_id and fake_api.get_media(pending.fastpix_id) is not None


def test_delete_remotely_after_confirmation(admin_client, remote, fake_api):
    page = post(admin_client, "media", action_post("delete_remotely", [remote.pk]))
    assert page.status_code == 200 and b"Delete media in FastPix" in page.content
    assert fake_api.get_media(remote.fastpix_id) is not None  # nothing happened yet

    done = post(admin_client, "media", confirm_post("delete_remotely", [remote.pk]))
    assert done.status_code == 302
    assert messages_of(done) == [("success", "Lesson: deleted in FastPix (status: Deleted).")]
    assert fake_api.get_media(remote.fastpix_id) is None
    remote.refresh_from_db()
    assert remote.status == MediaStatus.DELETED
    # Nothing left in FastPix: the local row may now go too.
    assert admin_client.get(admin_url("media", "delete", remote.pk)).status_code == 200


def test_media_actions_need_the_change_permission(make_staff, remote, fake_api):
    from django.test import Client

    viewer = make_staff("viewer", "view_media")
    client = Client()
    client.force_login(viewer)
    response = client.get(admin_url("media", "changelist"))
    assert response.status_code == 200 and response.context["action_form"] is None
    fake_api.clear_requests()
    post(client, "media", action_post("refresh_from_fastpix", [remote.pk]))
    assert fake_api.requests == []


def test_replay_processes_the_stored_event_again(admin_client, remote):
    payload = {
        "type": "video.media.ready",
        "id": "evt_replay_1",
        "object": {"type": "media", "id": remote.fastpix_id},
        "data": {"id": remote.fastpix_id, "status": "Ready"},
    }
    event = WebhookEvent.objects.create(
        workspace=remote.workspace,
        event_id="evt_replay_1",
        type="video.media.ready",
        object_id=remote.fastpix_id,
        payload=json.loads(json.dumps(payload)),
        outcome=WebhookOutcome.FAILED,
        error="earlier failure",
    )
    response = post(admin_client, "webhookevent", action_post("replay_events", [event.pk]))
    assert messages_of(response) == [("success", f"{event}: replayed (Processed).")]
    event.refresh_from_db()
    assert event.outcome == WebhookOutcome.PROCESSED
    remote.refresh_from_db()
    assert remote.status == MediaStatus.READY


def test_replay_failure_is_reported_with_its_error(admin_client, workspace):
    event = WebhookEvent.objects.create(
        workspace=workspace,
        event_id="evt_bad",
        type="video.media.ready",
        payload={"type": "video.media.ready", "data": {}},
    )
    response = post(admin_client, "webhookevent", action_post("replay_events", [event.pk]))
    [(level, text)] = messages_of(response)
    assert level == "error" and "replay failed" in text
    event.refresh_from_db()
    assert event.outcome == WebhookOutcome.FAILED
