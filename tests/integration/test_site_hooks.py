"""Hooks for site code: per-event webhook handlers, the adapter, and the media_creating veto."""

from __future__ import annotations

import pytest
from django.db import transaction

from django_fastpix import signals
from django_fastpix.adapter import FastPixAdapter
from django_fastpix.exceptions import CreationVetoed
from django_fastpix.models import Media, MediaStatus, WebhookEvent, WebhookOutcome
from django_fastpix.services import webhooks
from django_fastpix.webhook_handlers import fastpix_webhook, unregister
from tests.reliability_support import WEBHOOK_SECRET, event_body, signed
from tests.testapp.models import Lesson

pytestmark = pytest.mark.django_db(transaction=True)

VIDEO = "https://cdn.example.com/lesson.mp4"


@pytest.fixture
def hooked(workspace):
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    return workspace


@pytest.fixture
def handler():
    """Register handlers for one test and always remove them."""
    registered = []

    def register(*types):
        def decorate(fn):
            registered.append(fastpix_webhook(*types)(fn))
            return fn

        return decorate

    yield register
    for fn in registered:
        unregister(fn)


def deliver(ws, body: bytes) -> webhooks.Delivery:
    ws.refresh_from_db()
    return webhooks.receive(ws, body, signed(body))


# --- per-event webhook handlers ---


def test_a_handler_runs_after_the_event_is_applied_and_once_per_delivery(hooked, handler):
    seen = []

    @handler("video.media.ready")
    def on_ready(event, media):
        seen.append((event.type, media.status, media.duration))

    body = event_body("video.media.ready", "m-ready", status="Ready", duration="00:00:10")
    assert deliver(hooked, body).status == 200
    assert deliver(hooked, body).status == 200  # a redelivery is a no-op
    deliver(hooked, event_body("video.media.created", "m-other", status="Created"))
    assert seen == [("video.media.ready", MediaStatus.READY, 10.0)]


def test_a_failed_handler_sees_the_reason_it_failed(hooked, handler):
    """The media a handler gets is the one the event applied, failure reason included."""
    seen = []

    @handler("video.media.failed")
    def on_failed(event, media):
        seen.append((media.status, media.error))

    Media.objects.create(workspace=hooked, fastpix_id="m-fail", status=MediaStatus.PROCESSING)
    body = event_body("video.media.failed", "m-fail", status="Failed", errors=["bad codec"])
    assert deliver(hooked, body).status == 200
    ((status, error),) = seen
    assert status == MediaStatus.FAILED and "bad codec" in error
    assert Media.objects.get(fastpix_id="m-fail").error == error


def test_a_failing_handler_rolls_the_event_back_and_is_recorded_then_retried(hooked, handler):
    calls = []

    @handler("video.media.ready")
    def flaky(event, media):
        calls.append(event.event_id)
        if len(calls) == 1:
            raise RuntimeError("site code broke")

    body = event_body("video.media.ready", "m-flaky", status="Ready")
    first = deliver(hooked, body)
    assert first.status == 500
    event = WebhookEvent.objects.get()
    assert event.outcome == WebhookOutcome.FAILED
    assert "site code broke" in event.error and "RuntimeError" in event.traceback
    # Rolled back with the handler: the media the event would have made is not there.
    assert not Media.objects.filter(fastpix_id="m-flaky").exists()
    assert deliver(hooked, body).status == 200  # FastPix delivers again
    assert Media.objects.get(fastpix_id="m-flaky").status == MediaStatus.READY
    assert len(calls) == 2


def test_a_catch_all_handler_sees_events_the_app_ignores(hooked, handler):
    seen = []

    @handler("*")
    def everything(event, media):
        seen.append((event.type, media))

    deliver(hooked, event_body("video.live_stream.active", "ls-1"))
    assert seen == [("video.live_stream.active", None)]
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.PROCESSED


def test_registering_without_types_is_an_error():
    with pytest.raises(TypeError):
        fastpix_webhook()


# --- the adapter ---


class DeclineDrafts(FastPixAdapter):
    def should_create(self, source, instance):
        return not instance.title.startswith("draft")

    def metadata_for(self, source, instance):
        return {"course": "intro"}

    def title_for(self, source, instance):
        return instance.title.upper()

    def create_options(self, media):
        return {"max_resolution": "720p"}

    def creation_failed(self, media, reason):
        failures_heard.append((media.pk, reason))


failures_heard: list[tuple[int, str]] = []


@pytest.fixture
def adapter(settings):
    failures_heard.clear()
    settings.FASTPIX = {**settings.FASTPIX, "ADAPTER": f"{__name__}.DeclineDrafts"}


def test_the_adapter_decides_whether_and_how_media_are_created(
    adapter, fake_token, workspace, fake_api
):
    fake_token()
    with transaction.atomic():
        Lesson.objects.create(title="draft one", video_url=VIDEO)
        lesson = Lesson.objects.create(title="final", video_url=VIDEO)
    media = Media.objects.get()
    assert media.object_id == str(lesson.pk)
    assert media.title == "FINAL" and media.metadata == {"course": "intro"}
    assert media.fastpix_id
    sent = fake_api.requests_for("POST /on-demand")[0].json
    assert sent["maxResolution"] == "720p"
    assert sent["metadata"]["course"] == "intro"


def test_the_adapter_hears_of_a_failure_once(adapter, fake_token, workspace, fake_api):
    fake_token()
    fake_api.inject("POST /on-demand", status=422)
    with transaction.atomic():
        Lesson.objects.create(title="final", video_url=VIDEO)
    media = Media.objects.get()
    assert media.status == MediaStatus.FAILED
    assert failures_heard == [(media.pk, media.error)]


def test_an_adapter_path_that_is_no_adapter_is_refused(settings, workspace):
    from django_fastpix.adapter import get_adapter

    settings.FASTPIX = {**settings.FASTPIX, "ADAPTER": "collections.OrderedDict"}
    with pytest.raises(TypeError, match="not a FastPixAdapter"):
        get_adapter()


# --- the veto signal ---


def test_a_media_creating_receiver_can_veto_before_any_request(fake_token, workspace, fake_api):
    fake_token()

    def veto(sender, media, **kwargs):
        raise CreationVetoed("quota reached")

    signals.media_creating.connect(veto, dispatch_uid="test-veto")
    try:
        with transaction.atomic():
            Lesson.objects.create(title="L", video_url=VIDEO)
    finally:
        signals.media_creating.disconnect(dispatch_uid="test-veto")
    media = Media.objects.get()
    assert media.status == MediaStatus.FAILED
    assert media.error == "Creation vetoed: quota reached"
    assert fake_api.requests_for("POST /on-demand") == []
