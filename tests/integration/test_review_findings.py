"""Defects a review of the reliability work found, each reproduced here first (issue 8)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from django_fastpix import signals
from django_fastpix.adapter import FastPixAdapter
from django_fastpix.client import FastPixClient, Transport
from django_fastpix.models import Media, MediaStatus, WebhookEvent, WebhookOutcome
from django_fastpix.services import api, webhooks
from django_fastpix.services import verify as verify_module
from django_fastpix.services.media import attempt_creation, attempt_deletion
from django_fastpix.services.sync import sync_media
from django_fastpix.services.tokens import revoke_token
from tests.reliability_support import WEBHOOK_SECRET, event_body, signed

VIDEO = "https://x.example/v.mp4"


class BrokenOptions(FastPixAdapter):
    """A site adapter with a bug."""

    def create_options(self, media):
        raise RuntimeError("site bug")


@pytest.fixture
def hooked(workspace):
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    return workspace


def ready_event_for(media: Media) -> bytes:
    return event_body(
        "video.media.ready",
        "fp-1",
        status="Ready",
        metadata={"django_fastpix_ref": str(media.reference)},
    )


@pytest.mark.django_db(transaction=True)
def test_a_media_deleted_while_its_create_is_in_flight_is_deleted_in_fastpix(
    fake_token, workspace, fake_api
):
    fake_token()
    media = Media.objects.create(workspace=workspace, source_url=VIDEO)

    def delete_meanwhile(sender, media, **kwargs):
        attempt_deletion(media.pk)  # the delete job runs while the create call is in flight

    signals.media_creating.connect(delete_meanwhile, weak=False, dispatch_uid="review-delete")
    try:
        attempt_creation(media.pk)
    finally:
        signals.media_creating.disconnect(dispatch_uid="review-delete")
    media.refresh_from_db()
    assert media.status == MediaStatus.DELETED and media.fastpix_id
    assert fake_api.media() == []  # deleted there too: nothing live and untracked


@pytest.mark.django_db
def test_an_adapter_that_raises_leaves_a_reason_and_a_next_attempt(
    fake_token, workspace, fake_api, settings
):
    fake_token()
    settings.FASTPIX = {**settings.FASTPIX, "ADAPTER": f"{__name__}.BrokenOptions"}
    media = Media.objects.create(workspace=workspace, source_url=VIDEO)
    assert attempt_creation(media.pk) is None  # nothing escapes the task body
    media.refresh_from_db()
    assert media.status == MediaStatus.PENDING
    assert "RuntimeError: site bug" in media.error and media.next_attempt_at is not None


@pytest.mark.django_db
def test_a_token_that_cannot_be_decrypted_leaves_a_reason(fake_token, workspace, settings):
    fake_token()
    media = Media.objects.create(workspace=workspace, source_url=VIDEO)
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()  # the wrong key
    assert attempt_creation(media.pk) is None
    media.refresh_from_db()
    assert media.status == MediaStatus.PENDING and media.error and media.next_attempt_at


@pytest.mark.django_db(transaction=True)
def test_our_give_up_yields_when_fastpix_reports_the_media_ready(hooked):
    media = Media.objects.create(
        workspace=hooked,
        source_url=VIDEO,
        status=MediaStatus.FAILED,
        error="Gave up after 12 attempts: RequestTimeoutError: …",
    )
    body = ready_event_for(media)
    assert webhooks.receive(hooked, body, signed(body)).status == 200
    media.refresh_from_db()
    assert media.status == MediaStatus.READY and media.fastpix_id == "fp-1"
    assert media.error == ""


@pytest.mark.django_db(transaction=True)
def test_a_raising_receiver_neither_fails_the_event_nor_loses_later_signals(hooked):
    media = Media.objects.create(workspace=hooked, source_url=VIDEO)
    ready: list[int] = []

    def broken(sender, media, **kwargs):
        raise RuntimeError("site receiver bug")

    def on_ready(sender, media, **kwargs):
        ready.append(media.pk)

    signals.media_created.connect(broken, weak=False, dispatch_uid="review-broken")
    signals.media_ready.connect(on_ready, weak=False, dispatch_uid="review-ready")
    try:
        body = ready_event_for(media)
        assert webhooks.receive(hooked, body, signed(body)).status == 200
    finally:
        signals.media_created.disconnect(dispatch_uid="review-broken")
        signals.media_ready.disconnect(dispatch_uid="review-ready")
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.PROCESSED
    assert ready == [media.pk]


@pytest.mark.django_db
def test_a_delete_during_the_listing_never_marks_a_live_media_deleted(
    fake_token, workspace, fake_api
):
    fake_token()
    ids = fake_api.seed_media(60)
    sync_media(workspace)

    def delete_first_after_page_one(report):
        if report.pages == 1:
            with fake_api.store.lock:
                fake_api.store.media.pop(ids[0])

    sync_media(workspace, progress=delete_first_after_page_one)
    deleted = set(
        Media.objects.filter(status=MediaStatus.DELETED).values_list("fastpix_id", flat=True)
    )
    # The first one really is gone; the one the shifted pages hid is alive.
    assert deleted <= {ids[0]}


@pytest.mark.django_db
def test_sync_links_an_unlinked_row_when_a_stand_in_holds_its_id(fake_token, workspace, fake_api):
    fake_token()
    local = Media.objects.create(workspace=workspace, source_url=VIDEO)
    remote = api.call(
        workspace,
        FastPixClient.create_media,
        VIDEO,
        metadata={"django_fastpix_ref": str(local.reference)},
    )
    # A webhook without our reference made a stand-in row for the same FastPix id.
    Media.objects.create(workspace=workspace, fastpix_id=remote.id, status=MediaStatus.CREATED)
    sync_media(workspace)
    (only,) = Media.objects.filter(fastpix_id=remote.id)
    assert only.pk == local.pk


@pytest.mark.django_db(transaction=True)
def test_a_revoke_during_a_verify_stops_its_retries(fake_token, workspace, fake_api, monkeypatch):
    token = fake_token()
    fake_api.inject("GET /on-demand", status=503, times=2)
    base = Transport.from_settings()
    transport = Transport(
        base.base_url,
        max_retries=3,
        sleep=lambda _: revoke_token(token, reason="leaked", by="ops"),
    )
    monkeypatch.setattr(
        verify_module.Transport, "from_settings", classmethod(lambda cls: transport)
    )
    result = verify_module.verify_token(token, by="ops")
    assert not result.ok and "revoked" in result.detail
    assert len(fake_api.requests_for("GET /on-demand")) == 1
