"""The media state machine and signed webhook deliveries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import requests

from django_fastpix.testing import FakeFastPix

from .conftest import Api, Receiver

SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def _status(api: Api, media_id: str) -> str:
    status: str = api.get(f"/on-demand/{media_id}").json()["data"]["status"]
    return status


def _wait(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_manual_advance_steps_through_states(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.auto_advance = False
    media_id = api.create_media()["id"]
    assert _status(api, media_id) == "Created"
    assert fastpix_fake.advance(media_id) == [media_id]
    assert _status(api, media_id) == "Processing"
    fastpix_fake.advance()
    assert _status(api, media_id) == "Ready"
    assert fastpix_fake.advance() == []


def test_failing_inputs_end_failed(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.auto_advance = False
    fastpix_fake.fail_inputs_matching("broken-cdn")
    by_word = api.create_media(url="https://example.com/please-fail.mp4")["id"]
    by_marker = api.create_media(url="https://broken-cdn.example/v.mp4")["id"]
    fine = api.create_media()["id"]
    fastpix_fake.finish_processing()
    assert [_status(api, m) for m in (by_word, by_marker, fine)] == ["Failed", "Failed", "Ready"]
    failed = api.get(f"/on-demand/{by_word}").json()["data"]
    assert "duration" not in failed


def test_auto_advance_with_delay(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.processing_delay = 0.2
    media_id = api.create_media()["id"]
    _wait(lambda: _status(api, media_id) == "Processing", 1)
    _wait(lambda: _status(api, media_id) == "Ready", 3)


def test_auto_advance_immediate(api: Api, fastpix_fake: FakeFastPix) -> None:
    media_id = api.create_media()["id"]
    _wait(lambda: _status(api, media_id) == "Ready", 2)


def test_finders(api: Api, fastpix_fake: FakeFastPix) -> None:
    media_id = api.create_media(metadata={"ref": "r-1"})["id"]
    api.create_media(metadata={"ref": "r-2"})
    assert [m["id"] for m in fastpix_fake.find_media_by_metadata("ref", "r-1")] == [media_id]
    assert fastpix_fake.get_media(media_id)["id"] == media_id  # type: ignore[index]
    assert fastpix_fake.get_media("nope") is None
    assert len(fastpix_fake.media()) == 2


def _verify(headers: dict[str, str], body: bytes) -> bool:
    expected = base64.b64encode(
        hmac.new(base64.b64decode(SECRET), body, hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(headers["FastPix-Signature"], expected)


def test_media_webhooks_are_signed_and_complete(
    api: Api, fastpix_fake: FakeFastPix, receiver: Receiver
) -> None:
    fastpix_fake.auto_advance = False
    fastpix_fake.set_webhook("ws-default", receiver.url, SECRET)
    media_id = api.create_media(metadata={"ref": "x"})["id"]
    failing_id = api.create_media(url="https://e/fail.mp4")["id"]
    fastpix_fake.finish_processing()
    api.patch(f"/on-demand/{media_id}", json={"title": "t"})
    api.delete(f"/on-demand/{media_id}")
    assert fastpix_fake.wait_for_webhooks()
    for headers, body in receiver.received:
        assert _verify(headers, body)
        assert headers["Content-Type"] == "application/json"
    events = receiver.events()
    assert [(e["type"], e["object"]["id"]) for e in events] == [
        ("video.media.created", media_id),
        ("video.media.created", failing_id),
        ("video.media.ready", media_id),
        ("video.media.failed", failing_id),
        ("video.media.updated", media_id),
        ("video.media.deleted", media_id),
    ]
    ws = fastpix_fake.workspace()
    for event in events:
        assert set(event) == {
            "type", "id", "object", "workspace", "status", "data", "createdAt", "attempts"
        }  # fmt: skip
        assert event["object"]["type"] == "media"
        assert event["workspace"] == {"id": ws.id, "name": ws.name}
        assert event["data"]["id"] == event["object"]["id"]
        assert event["attempts"] == []
    assert len({e["id"] for e in events}) == len(events)
    ready = events[2]
    assert ready["data"]["status"] == "Ready" and ready["data"]["duration"] == "00:00:10"
    assert ready["data"]["playbackIds"]
    deliveries = fastpix_fake.webhook_deliveries
    assert all(d.delivered and d.status_code == 200 for d in deliveries)
    assert [d.event_type for d in deliveries] == [e["type"] for e in events]


def test_upload_webhooks(api: Api, fastpix_fake: FakeFastPix, receiver: Receiver) -> None:
    fastpix_fake.auto_advance = False
    fastpix_fake.set_webhook("ws-default", receiver.url, SECRET)
    first = api.post("/on-demand/upload", json={"corsOrigin": "*"}).json()["data"]
    second = api.post("/on-demand/upload", json={"corsOrigin": "*"}).json()["data"]
    requests.put(first["url"], data=b"video", timeout=5)
    api.put(f"/on-demand/upload/{second['uploadId']}/cancel")
    fastpix_fake.finish_processing()
    assert fastpix_fake.wait_for_webhooks()
    events = receiver.events()
    assert [e["type"] for e in events] == [
        "video.media.upload",
        "video.media.upload",
        "video.upload.media_created",
        "video.media.upload.cancelled",
        "video.media.ready",
    ]
    media_created = events[2]
    assert media_created["data"]["uploadId"] == first["uploadId"]
    assert media_created["data"]["playbackIds"]
    assert events[4]["object"]["id"] == media_created["object"]["id"]


def test_retries_until_2xx_and_records_attempts(
    api: Api, fastpix_fake: FakeFastPix, receiver: Receiver
) -> None:
    fastpix_fake.auto_advance = False
    fastpix_fake.webhook_retry_backoff = 0.01
    fastpix_fake.set_webhook("ws-default", receiver.url, SECRET)
    receiver.statuses = [500, 503]
    api.create_media()
    assert fastpix_fake.wait_for_webhooks()
    [delivery] = fastpix_fake.webhook_deliveries
    assert [a.status_code for a in delivery.attempts] == [500, 503, 200]
    assert delivery.delivered and len(receiver.received) == 3
    assert len({body for _, body in receiver.received}) == 1  # same bytes each attempt


def test_gives_up_after_max_attempts_and_survives_refused_connections(
    api: Api, fastpix_fake: FakeFastPix, receiver: Receiver
) -> None:
    fastpix_fake.auto_advance = False
    fastpix_fake.webhook_retry_backoff = 0.0
    fastpix_fake.webhook_max_attempts = 2
    fastpix_fake.set_webhook("ws-default", receiver.url, SECRET)
    receiver.statuses = [500, 500, 500]
    api.create_media()
    assert fastpix_fake.wait_for_webhooks()
    [delivery] = fastpix_fake.webhook_deliveries
    assert [a.status_code for a in delivery.attempts] == [500, 500]
    assert not delivery.delivered
    receiver.close()
    api.create_media()
    assert fastpix_fake.wait_for_webhooks()
    refused = fastpix_fake.webhook_deliveries[1]
    assert [a.status_code for a in refused.attempts] == [None, None]
    assert all(a.error for a in refused.attempts)


def test_probe_duplicate_and_reordering(
    api: Api, fastpix_fake: FakeFastPix, receiver: Receiver
) -> None:
    fastpix_fake.auto_advance = False
    fastpix_fake.set_webhook("ws-default", receiver.url, SECRET)
    probe = fastpix_fake.send_probe("ws-default")
    assert probe.status_code == 200 and probe.kind == "probe"
    headers, body = receiver.received[0]
    assert body == b"{}" and "FastPix-Signature" not in headers

    fastpix_fake.hold_webhooks()
    ids = [api.create_media()["id"] for _ in range(5)]
    time.sleep(0.05)
    assert len(receiver.received) == 1  # held back
    fastpix_fake.release_webhooks(order="reversed")
    assert fastpix_fake.wait_for_webhooks()
    assert [e["object"]["id"] for e in receiver.events()] == ids[::-1]

    fastpix_fake.hold_webhooks()
    more = [api.create_media()["id"] for _ in range(6)]
    fastpix_fake.release_webhooks(order="shuffled", seed=3)
    assert fastpix_fake.wait_for_webhooks()
    delivered = [e["object"]["id"] for e in receiver.events()[5:]]
    assert sorted(delivered) == sorted(more) and delivered != more

    event_id = fastpix_fake.webhook_events[0]["id"]
    fastpix_fake.redeliver(event_id)
    assert fastpix_fake.wait_for_webhooks()
    headers, body = receiver.received[-1]
    assert _verify(headers, body)
    assert receiver.events()[-1]["id"] == event_id
    assert [e["id"] for e in receiver.events()].count(event_id) == 2


def test_workspace_without_webhook_only_records_events(api: Api, fastpix_fake: FakeFastPix) -> None:
    api.create_media()
    assert fastpix_fake.wait_for_webhooks()
    assert fastpix_fake.webhook_events[0]["type"] == "video.media.created"
    assert fastpix_fake.webhook_deliveries == []


def test_live_stream_webhooks(api: Api, fastpix_fake: FakeFastPix, receiver: Receiver) -> None:
    fastpix_fake.set_webhook("ws-default", receiver.url, SECRET)
    body: dict[str, Any] = {"playbackSettings": {}, "inputMediaSettings": {}}
    stream_id = api.post("/live/streams", json=body).json()["data"]["streamId"]
    api.put(f"/live/streams/{stream_id}/live-disable")
    api.delete(f"/live/streams/{stream_id}")
    assert fastpix_fake.wait_for_webhooks()
    events = receiver.events()
    assert [e["type"] for e in events] == [
        "video.live_stream.created",
        "video.live_stream.disabled",
        "video.live_stream.deleted",
    ]
    assert {e["object"]["type"] for e in events} == {"live-stream"}
    assert all(e["data"]["streamId"] == stream_id for e in events)
