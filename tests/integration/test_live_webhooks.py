"""Live stream webhooks (issue 10): any order converges to the newest state; deleted is final.

The events are the fake FastPix's own (its encoder simulation emits them), re-timed one second
apart in the order FastPix emitted them so that "newest" is unambiguous, then delivered
shuffled and duplicated through the webhook service.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from django_fastpix.client import FastPixClient
from django_fastpix.models import (
    LiveStream,
    LiveStreamStatus,
    Media,
    MediaStatus,
    SimulcastTarget,
    WebhookEvent,
    WebhookOutcome,
)
from django_fastpix.services import api, live, webhooks
from tests.processes import wait_for
from tests.testapp.events import capture, deliver_signed

pytestmark = pytest.mark.django_db

SECRET = "bGl2ZS13ZWJob29rLXNpZ25pbmctc2VjcmV0LTMyIGJ5dGVz"
LIVE = "video.live_stream."


@pytest.fixture
def hooked(workspace):
    workspace.webhook_secret = SECRET
    workspace.save()
    return workspace


def deliver(ws, body: bytes) -> webhooks.Delivery:
    return deliver_signed(ws, body, SECRET)


def live_events(fake, stream_id: str) -> list[dict[str, Any]]:
    """The fake's events about one stream (live and simulcast), in emission order, re-timed."""
    base = timezone.now() - timedelta(hours=1)
    found = [
        json.loads(json.dumps(e))
        for e in fake.webhook_events
        if e["type"].startswith(LIVE) and e["object"]["id"] == stream_id
    ]
    for n, e in enumerate(found):
        e["createdAt"] = (base + timedelta(seconds=n)).isoformat()
    return found


def body(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def expected_status(event: dict[str, Any]) -> str:
    kind = event["type"].removeprefix(LIVE)
    return {
        "created": "idle",
        "connected": "preparing",
        "recording": "active",
        "updated": event["data"]["status"],
    }.get(kind, kind)


@pytest.fixture
def stream(fake_token, hooked, fake_api) -> LiveStream:
    fake_token()
    fake_api.auto_advance = False
    return live.create_live_stream(hooked, title="Shuffled", reconnect_window=60)


SCENARIOS = {
    "broadcast-ended": ["connect", "disconnect", "connect", "end"],
    "still-live": ["connect"],
    "dropped": ["connect", "disconnect"],
    "disabled-while-live": ["connect", "disable"],
    "re-enabled": ["disable", "enable", "connect", "end"],
}


def run_scenario(fake, ws, stream: LiveStream, steps: list[str]) -> None:
    for step in steps:
        if step == "connect":
            fake.connect_encoder(stream.fastpix_id)
        elif step == "disconnect":
            fake.disconnect_encoder(stream.fastpix_id)
        elif step == "end":
            fake.end_stream(stream.fastpix_id)
        elif step == "disable":
            api.call(ws, FastPixClient.disable_live_stream, stream.fastpix_id)
        elif step == "enable":
            api.call(ws, FastPixClient.enable_live_stream, stream.fastpix_id)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_shuffled_live_events_converge_to_the_newest_state(
    stream, hooked, fake_api, scenario, seed
):
    run_scenario(fake_api, hooked, stream, SCENARIOS[scenario])
    events = live_events(fake_api, stream.fastpix_id)
    newest = events[-1]
    remote_status = next(
        s["status"] for s in fake_api.live_streams() if s["streamId"] == stream.fastpix_id
    )
    assert expected_status(newest) == remote_status  # the fake agrees with what we expect
    rng = random.Random(seed)
    deliveries = events + rng.sample(events, k=len(events) // 2)  # some twice
    rng.shuffle(deliveries)
    for event in deliveries:
        deliver(hooked, body(event))
    stream.refresh_from_db()
    assert stream.status == remote_status, [e["type"] for e in deliveries]
    assert stream.last_event_at.isoformat() == newest["createdAt"]
    assert not WebhookEvent.objects.exclude(outcome=WebhookOutcome.PROCESSED).exists()
    assert LiveStream.objects.count() == 1


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_deleted_is_final_in_every_order(stream, hooked, fake_api, seed):
    run_scenario(fake_api, hooked, stream, ["connect", "end"])
    api.call(hooked, FastPixClient.delete_live_stream, stream.fastpix_id)
    events = live_events(fake_api, stream.fastpix_id)
    assert events[-1]["type"] == LIVE + "deleted"
    # An event stamped after the deletion (a clock skew, a late report) changes nothing either.
    late = json.loads(json.dumps(events[3]))
    late["id"] = "evt-after-delete"
    late["createdAt"] = (timezone.now() + timedelta(minutes=5)).isoformat()
    deliveries = [*events, late]
    random.Random(seed).shuffle(deliveries)
    with capture("live_stream_state_changed") as sent:
        for event in deliveries:
            deliver(hooked, body(event))
    stream.refresh_from_db()
    assert stream.status == LiveStreamStatus.DELETED
    assert sent == [] or sent[-1][1]["status"] == "deleted"
    assert [kw["previous"] for _, kw in sent].count("deleted") == 0  # never left deleted


def test_deleted_wins_even_when_not_the_newest_event(stream, hooked, fake_api):
    """FastPix deletes for good: a `deleted` stamped before the last applied event (clocks
    differ between FastPix's services) must still end the stream here."""
    fake_api.connect_encoder(stream.fastpix_id)
    api.call(hooked, FastPixClient.delete_live_stream, stream.fastpix_id)
    events = live_events(fake_api, stream.fastpix_id)
    active = next(e for e in events if e["type"] == LIVE + "active")
    deleted = next(e for e in events if e["type"] == LIVE + "deleted")
    active["createdAt"] = (timezone.now() + timedelta(seconds=10)).isoformat()
    deleted["createdAt"] = (timezone.now() + timedelta(seconds=5)).isoformat()
    deliver(hooked, body(active))
    deliver(hooked, body(deleted))
    stream.refresh_from_db()
    assert stream.status == LiveStreamStatus.DELETED, "a deleted stream is shown as live"


def test_state_change_signal_once_per_change(
    stream, hooked, fake_api, django_capture_on_commit_callbacks
):
    fake_api.connect_encoder(stream.fastpix_id)
    events = live_events(fake_api, stream.fastpix_id)
    with (
        capture("live_stream_state_changed") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        for event in events + events:
            deliver(hooked, body(event))
    transitions = [(kw["previous"], kw["status"]) for _, kw in sent]
    # created (idle, no change), connected/preparing (-> preparing), active, recording (active)
    assert transitions == [("idle", "preparing"), ("preparing", "active")]


# --- streams not stored (yet) ---


def test_event_before_the_row_makes_a_stand_in_that_create_completes(
    fake_token, hooked, fake_api, monkeypatch, django_capture_on_commit_callbacks
):
    fake_token()
    real_call = api.call

    def quick_webhook(ws, method, *args, **kwargs):
        result = real_call(ws, method, *args, **kwargs)
        if method is FastPixClient.create_live_stream:
            # FastPix's `created` webhook is applied before create_live_stream stores its row.
            (created,) = live_events(fake_api, result.id)
            deliver(hooked, body(created))
            stand_in = LiveStream.objects.get(fastpix_id=result.id)
            assert stand_in.created_by == "webhook"
        return result

    monkeypatch.setattr(api, "call", quick_webhook)
    with capture("live_stream_created") as sent, django_capture_on_commit_callbacks(execute=True):
        stream = live.create_live_stream(hooked, title="Raced", by="erin", reconnect_window=90)
    monkeypatch.setattr(api, "call", real_call)
    (row,) = LiveStream.objects.all()
    remote = next(s for s in fake_api.live_streams() if s["streamId"] == stream.fastpix_id)
    assert row.pk == stream.pk and row.title == "Raced" and row.created_by == "erin"
    assert row.reconnect_window == 90 and row.stream_key_value() == remote["streamKey"]
    assert row.stream_key_hint == remote["streamKey"][-4:]
    assert row.last_event_at is not None  # the event's time was kept
    assert [kw["live_stream"].pk for _, kw in sent] == [row.pk]
    # Later events land on the same row.
    fake_api.connect_encoder(stream.fastpix_id)
    for event in live_events(fake_api, stream.fastpix_id)[1:]:
        event["createdAt"] = (timezone.now() + timedelta(seconds=1)).isoformat()
        deliver(hooked, body(event))
    assert LiveStream.objects.get().status == LiveStreamStatus.ACTIVE


def test_stream_made_elsewhere_is_mirrored_from_its_events(fake_token, hooked, fake_api):
    fake_token()
    remote = api.call(hooked, FastPixClient.create_live_stream, metadata={"by": "dashboard"})
    fake_api.connect_encoder(remote.id)
    events = live_events(fake_api, remote.id)
    for event in reversed(events):
        deliver(hooked, body(event))
    (row,) = LiveStream.objects.all()
    assert row.fastpix_id == remote.id and row.created_by == "webhook"
    assert row.status == LiveStreamStatus.ACTIVE
    # Stored events carry no key (they are redacted), so a stand-in has none to keep: the key
    # of a stream made in the dashboard stays there.
    assert row.stream_key_value() == "" and row.stream_key_hint == ""
    assert row.playback_id == remote.playback_ids[0].id


def test_event_without_a_stream_id_is_ignored(hooked):
    event = {
        "type": LIVE + "active",
        "id": "evt-no-stream",
        "object": {"type": "live-stream"},
        "data": {"status": "active"},
        "createdAt": timezone.now().isoformat(),
    }
    deliver(hooked, body(event))
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.IGNORED
    assert not LiveStream.objects.exists()


# --- recordings ---


def recording_events(fake, stream_id: str) -> list[dict[str, Any]]:
    media_ids = next(s["mediaIds"] for s in fake.live_streams() if s["streamId"] == stream_id)
    return [
        json.loads(json.dumps(e)) for e in fake.webhook_events if e["object"]["id"] in media_ids
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recording_is_linked_to_its_stream(stream, hooked, fake_api, seed):
    run_scenario(fake_api, hooked, stream, ["connect", "end"])
    fake_api.finish_processing()
    media_events = recording_events(fake_api, stream.fastpix_id)
    assert {e["type"] for e in media_events} >= {"video.media.created", "video.media.ready"}
    assert all(e["data"]["streamId"] == stream.fastpix_id for e in media_events)
    deliveries = live_events(fake_api, stream.fastpix_id) + media_events
    random.Random(seed).shuffle(deliveries)
    for event in deliveries:
        deliver(hooked, body(event))
    (recording,) = Media.objects.all()
    assert recording.live_stream == stream and recording.status == MediaStatus.READY
    assert list(stream.recordings.all()) == [recording]


def test_recording_of_a_stream_not_stored_yet_is_linked_when_it_is(fake_token, hooked, fake_api):
    """The recording's events arrive before any event of its stream (made in the dashboard)."""
    fake_token()
    fake_api.auto_advance = False
    remote = api.call(hooked, FastPixClient.create_live_stream)
    fake_api.connect_encoder(remote.id)
    fake_api.end_stream(remote.id)
    fake_api.finish_processing()
    for event in recording_events(fake_api, remote.id):
        deliver(hooked, body(event))
    for event in live_events(fake_api, remote.id):
        deliver(hooked, body(event))
    stream = LiveStream.objects.get(fastpix_id=remote.id)
    (recording,) = Media.objects.all()
    assert recording.live_stream == stream, "the recording was never linked to its stream"


# --- simulcast target events ---


def test_simulcast_target_events_update_the_target(stream, hooked, fake_api):
    target = live.add_simulcast_target(stream, url="rtmp://x.example/app", stream_key="abc-key")
    live.set_simulcast_enabled(target, False)
    events = [
        e
        for e in live_events(fake_api, stream.fastpix_id)
        if e["type"].startswith(LIVE + "simulcast_target.")
    ]
    assert [e["type"].rsplit(".", 1)[-1] for e in events] == ["created", "updated"]
    for event in events:
        deliver(hooked, body(event))
    outcomes = dict(WebhookEvent.objects.values_list("type", "outcome"))
    assert outcomes == {e["type"]: WebhookOutcome.PROCESSED for e in events}, outcomes
    assert SimulcastTarget.objects.get(pk=target.pk).status == "updated"


# --- for real: a live server, shuffled by the fake itself ---


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", [3, 11])
def test_live_events_delivered_shuffled_by_fastpix(live_server, fake_token, hooked, fake_api, seed):
    fake_token()
    url = live_server.url + reverse("django_fastpix:webhook", kwargs={"workspace": hooked.slug})
    fake_api.set_webhook("ws-default", url, SECRET)
    fake_api.auto_advance = False
    fake_api.hold_webhooks()
    stream = live.create_live_stream(hooked, title="Real")
    fake_api.connect_encoder(stream.fastpix_id)
    fake_api.disconnect_encoder(stream.fastpix_id)
    fake_api.connect_encoder(stream.fastpix_id)
    events = list(fake_api.webhook_events)
    stamps = [e["createdAt"] for e in events]
    fake_api.release_webhooks(order="shuffled", seed=seed)
    assert fake_api.wait_for_webhooks(20)
    for e in events[::3]:
        fake_api.redeliver(e["id"])
    assert fake_api.wait_for_webhooks(20)
    assert all(d.status_code == 200 for d in fake_api.webhook_deliveries)
    if len(set(stamps)) == len(stamps):  # distinct times: the newest (active) must win
        assert wait_for(
            lambda: LiveStream.objects.get(pk=stream.pk).status == LiveStreamStatus.ACTIVE,
            timeout=10,
        ), LiveStream.objects.get(pk=stream.pk).status
    assert LiveStream.objects.count() == 1
