"""Live streams: finish, viewer count, simulcast targets and the encoder simulation."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from django_fastpix.testing import FakeFastPix

from .conftest import Api, Receiver

LIVE = "video.live_stream."


def _stream(api: Api, **inputs: Any) -> str:
    body = {
        "playbackSettings": {"accessPolicy": "public"},
        "inputMediaSettings": {"maxResolution": "1080p", "metadata": {"k": "v"}, **inputs},
    }
    response = api.post("/live/streams", json=body)
    assert response.status_code == 201, response.text
    stream_id: str = response.json()["data"]["streamId"]
    return stream_id


def _types(fake: FakeFastPix, since: int = 0) -> list[str]:
    return [e["type"] for e in fake.webhook_events[since:]]


def _status(api: Api, stream_id: str) -> str:
    status: str = api.get(f"/live/streams/{stream_id}").json()["data"]["status"]
    return status


def test_connect_disconnect_end_with_recording(fastpix_fake: FakeFastPix, api: Api) -> None:
    stream_id = _stream(api)
    mark = len(fastpix_fake.webhook_events)
    data = fastpix_fake.connect_encoder(stream_id)
    assert data["status"] == "active" == _status(api, stream_id)
    assert _types(fastpix_fake, mark) == [
        LIVE + "connected",
        LIVE + "preparing",
        LIVE + "active",
        LIVE + "recording",
    ]
    statuses = [e["data"]["status"] for e in fastpix_fake.webhook_events[mark:]]
    assert statuses == ["preparing", "preparing", "active", "active"]
    with pytest.raises(ValueError, match="already connected"):
        fastpix_fake.connect_encoder(stream_id)

    mark = len(fastpix_fake.webhook_events)
    assert fastpix_fake.disconnect_encoder(stream_id)["status"] == "disconnected"
    assert fastpix_fake.connect_encoder(stream_id)["status"] == "active"  # within the window
    assert _types(fastpix_fake, mark) == [
        LIVE + "disconnected",
        LIVE + "connected",
        LIVE + "active",
    ]

    mark = len(fastpix_fake.webhook_events)
    assert fastpix_fake.end_stream(stream_id)["status"] == "idle"
    types = _types(fastpix_fake, mark)
    assert types[:3] == [LIVE + "disconnected", LIVE + "idle", "video.media.created"]
    created = fastpix_fake.webhook_events[mark + 2]
    assert created["data"]["streamId"] == stream_id
    media_id = created["data"]["id"]
    fastpix_fake.finish_processing(media_id)
    media = api.get(f"/on-demand/{media_id}").json()["data"]
    assert media["streamId"] == stream_id and media["status"] == "Ready"
    ready = [e for e in fastpix_fake.webhook_events if e["type"] == "video.media.ready"]
    assert ready[-1]["data"]["streamId"] == stream_id
    assert api.get(f"/live/streams/{stream_id}").json()["data"]["mediaIds"] == [media_id]
    with pytest.raises(ValueError):
        fastpix_fake.end_stream(stream_id)


def test_no_recording_when_disabled(fastpix_fake: FakeFastPix, api: Api) -> None:
    stream_id = _stream(api, enableRecording=False)
    mark = len(fastpix_fake.webhook_events)
    fastpix_fake.connect_encoder(stream_id)
    fastpix_fake.end_stream(stream_id)
    types = _types(fastpix_fake, mark)
    assert LIVE + "recording" not in types
    assert not any(t.startswith("video.media.") for t in types)
    assert fastpix_fake.media() == []


def test_reconnect_window_lapse_ends_the_session(fastpix_fake: FakeFastPix, api: Api) -> None:
    fastpix_fake.live_time_scale = 0.001  # 60 s -> 60 ms
    stream_id = _stream(api)
    fastpix_fake.connect_encoder(stream_id)
    fastpix_fake.disconnect_encoder(stream_id)
    deadline = time.monotonic() + 5
    while _status(api, stream_id) != "idle" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _status(api, stream_id) == "idle"
    assert [m["streamId"] for m in fastpix_fake.media()] == [stream_id]
    assert fastpix_fake.errors == []


def test_disabled_stream_refuses_the_encoder(fastpix_fake: FakeFastPix, api: Api) -> None:
    stream_id = _stream(api)
    assert api.put(f"/live/streams/{stream_id}/live-disable").status_code == 200
    with pytest.raises(ValueError, match="disabled"):
        fastpix_fake.connect_encoder(stream_id)
    with pytest.raises(KeyError):
        fastpix_fake.connect_encoder("nope")


def test_disable_while_live_ends_the_session(fastpix_fake: FakeFastPix, api: Api) -> None:
    stream_id = _stream(api)
    fastpix_fake.connect_encoder(stream_id)
    mark = len(fastpix_fake.webhook_events)
    assert api.put(f"/live/streams/{stream_id}/live-disable").status_code == 200
    types = _types(fastpix_fake, mark)
    assert types[0] == LIVE + "disconnected" and LIVE + "disabled" in types
    assert "video.media.created" in types
    assert _status(api, stream_id) == "disabled"


def test_finish_route(fastpix_fake: FakeFastPix, api: Api) -> None:
    stream_id = _stream(api)
    refused = api.put(f"/live/streams/{stream_id}/finish")
    assert refused.status_code == 400
    assert "idle" in refused.json()["error"]["description"]
    fastpix_fake.connect_encoder(stream_id)
    mark = len(fastpix_fake.webhook_events)
    finished = api.put(f"/live/streams/{stream_id}/finish")
    assert finished.status_code == 200 and finished.json() == {"success": True}
    assert _status(api, stream_id) == "idle"
    created = [e for e in fastpix_fake.webhook_events[mark:] if e["type"] == "video.media.created"]
    assert created[0]["data"]["streamId"] == stream_id
    assert api.put("/live/streams/nope/finish").status_code == 404


def test_viewer_count(fastpix_fake: FakeFastPix, api: Api) -> None:
    stream_id = _stream(api)
    assert api.get(f"/live/streams/{stream_id}/viewer-count").json() == {
        "success": True,
        "data": {"views": 0},
    }
    fastpix_fake.set_viewer_count(stream_id, 17)
    assert api.get(f"/live/streams/{stream_id}/viewer-count").json()["data"]["views"] == 17
    with pytest.raises(ValueError):
        fastpix_fake.set_viewer_count(stream_id, -1)
    assert api.get("/live/streams/nope/viewer-count").status_code == 404


def test_simulcast_crud_and_webhooks(
    fastpix_fake: FakeFastPix, api: Api, receiver: Receiver
) -> None:
    fastpix_fake.set_webhook("ws-default", receiver.url)
    stream_id = _stream(api)
    base = f"/live/streams/{stream_id}/simulcast"
    body = {"url": "rtmps://live.example.com/app", "streamKey": "sk-1", "metadata": {"a": "b"}}
    created = api.post(base, json=body)
    assert created.status_code == 201, created.text
    target = created.json()["data"]
    assert set(target) == {"simulcastId", "url", "streamKey", "isEnabled", "metadata"}
    assert target["isEnabled"] is True and target["url"] == body["url"]
    sid = target["simulcastId"]
    assert api.get(f"{base}/{sid}").json()["data"] == target
    listed = api.get(f"/live/streams/{stream_id}").json()["data"]["simulcastResponses"]
    assert listed == [target]

    updated = api.put(f"{base}/{sid}", json={"isEnabled": False, "metadata": {"c": "d"}})
    assert updated.status_code == 200
    assert updated.json()["data"]["isEnabled"] is False
    assert updated.json()["data"]["metadata"] == {"c": "d"}
    assert api.delete(f"{base}/{sid}").json() == {"success": True}
    assert api.get(f"{base}/{sid}").status_code == 404
    assert api.delete(f"{base}/{sid}").status_code == 404

    assert fastpix_fake.wait_for_webhooks()
    events = [e for e in receiver.events() if "simulcast_target" in e["type"]]
    assert [e["type"] for e in events] == [
        LIVE + "simulcast_target.created",
        LIVE + "simulcast_target.updated",
        LIVE + "simulcast_target.deleted",
    ]
    assert all(e["object"] == {"type": "live-stream", "id": stream_id} for e in events)
    assert events[0]["data"]["simulcastTarget"]["simulcastId"] == sid
    assert events[1]["data"]["simulcastTarget"]["isEnabled"] is False
    assert events[2]["data"]["simulcastResponses"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"streamKey": "k"}, "url"),
        ({"url": "https://x.example.com", "streamKey": "k"}, "url"),
        ({"url": "rtmp://x.example.com/a"}, "streamKey"),
        ({"url": "rtmp://x.example.com/a", "streamKey": 5}, "streamKey"),
        ({"url": "rtmp://x.example.com/a", "streamKey": "k", "metadata": []}, "metadata"),
    ],
)
def test_simulcast_validation(api: Api, body: dict[str, Any], field: str) -> None:
    stream_id = _stream(api)
    response = api.post(f"/live/streams/{stream_id}/simulcast", json=body)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]


def test_simulcast_update_validation_and_unavailable(fastpix_fake: FakeFastPix, api: Api) -> None:
    stream_id = _stream(api)
    base = f"/live/streams/{stream_id}/simulcast"
    body = {"url": "rtmp://x.example.com/a", "streamKey": "k"}
    sid = api.post(base, json=body).json()["data"]["simulcastId"]
    for bad in ({"isEnabled": "yes"}, {"url": "rtmp://y.example.com/b"}, {}):
        response = api.put(f"{base}/{sid}", json=bad)
        assert response.status_code == 422, (bad, response.text)
    fastpix_fake.connect_encoder(stream_id)
    unavailable = api.post(base, json=body)
    assert unavailable.status_code == 400
    assert unavailable.json()["error"]["message"] == "SimulcastUnavailable"


def test_http_control_routes(fastpix_fake: FakeFastPix, api: Api) -> None:
    stream_id = _stream(api)
    base = fastpix_fake.control_base_url
    assert base == fastpix_fake.origin + "/_fake"
    index = requests.get(base, timeout=5).json()["data"]
    assert "POST /_fake/live/{streamId}/connect" in index["routes"]

    connected = requests.post(f"{base}/live/{stream_id}/connect", timeout=5)
    assert connected.status_code == 200, connected.text
    assert connected.json()["data"]["status"] == "active"
    again = requests.post(f"{base}/live/{stream_id}/connect", timeout=5)
    assert again.status_code == 400
    views = requests.post(f"{base}/live/{stream_id}/viewer-count", json={"views": 5}, timeout=5)
    assert views.status_code == 200
    assert api.get(f"/live/streams/{stream_id}/viewer-count").json()["data"]["views"] == 5
    bad = requests.post(f"{base}/live/{stream_id}/viewer-count", json={"views": "x"}, timeout=5)
    assert bad.status_code == 422
    dropped = requests.post(f"{base}/live/{stream_id}/disconnect", timeout=5)
    assert dropped.json()["data"]["status"] == "disconnected"
    ended = requests.post(f"{base}/live/{stream_id}/end", timeout=5)
    assert ended.json()["data"]["status"] == "idle"
    assert len(ended.json()["data"]["mediaIds"]) == 1
    assert requests.post(f"{base}/live/nope/connect", timeout=5).status_code == 404
    assert requests.get(f"{base}/live/{stream_id}/connect", timeout=5).status_code == 405
    labels = fastpix_fake.request_counts().as_dict()
    assert "POST /_fake/live/{streamId}/connect" in str(labels)


def test_control_routes_are_loopback_only() -> None:
    from django_fastpix.testing.control import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("10.0.0.2") and not is_loopback("garbage")


def test_live_playback_keeps_working_while_active(fastpix_fake: FakeFastPix, api: Api) -> None:
    stream_id = _stream(api)
    playback_id = api.get(f"/live/streams/{stream_id}").json()["data"]["playbackIds"][0]["id"]
    fastpix_fake.connect_encoder(stream_id)
    response = requests.get(f"{fastpix_fake.stream_base_url}/{playback_id}.m3u8", timeout=5)
    assert response.status_code == 200
    assert response.text.startswith("#EXTM3U")


def _non_loopback_address() -> str | None:
    import socket

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("203.0.113.1", 9))  # no packet is sent: this only picks a route
        address: str = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_control_routes_refuse_other_addresses() -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback interface")
    # The test needs a socket that also listens on a non-loopback address.
    with FakeFastPix("0.0.0.0") as fake:
        url = f"http://{address}:{fake.port}/_fake"
        refused = requests.get(url, timeout=5)
        assert refused.status_code == 403
        assert requests.get(f"http://127.0.0.1:{fake.port}/_fake", timeout=5).status_code == 200
