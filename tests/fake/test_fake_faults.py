"""Fault injection, idempotency replay, the request log and keep-alive behaviour."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from django_fastpix.testing import FakeFastPix, RoutePattern

from .conftest import Api

MEDIA = {"inputs": [{"type": "video", "url": "https://e/v.mp4"}], "accessPolicy": "public"}


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_with_envelope_then_recovery(
    api: Api, fastpix_fake: FakeFastPix, status: int
) -> None:
    fastpix_fake.inject("POST /on-demand", status=status, times=2)
    for _ in range(2):
        response = api.post("/on-demand", json=MEDIA)
        assert response.status_code == status
        assert response.json()["success"] is False
        assert response.json()["error"]["code"] == status
    assert api.post("/on-demand", json=MEDIA).status_code == 201
    assert len(fastpix_fake.media()) == 1
    assert [r.fault for r in fastpix_fake.requests_for("POST /on-demand")] == [
        "status",
        "status",
        None,
    ]


def test_429_carries_retry_after(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.inject("GET /on-demand", status=429, retry_after=3, times=1)
    response = api.get("/on-demand")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json()["error"]["code"] == 429
    assert api.get("/on-demand").status_code == 200
    fastpix_fake.inject("GET /on-demand", status=429, times=1)
    assert api.get("/on-demand").headers["Retry-After"] == "1"


def test_only_the_nth_request_faults(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.inject("GET /on-demand/{mediaId}", status=503, nth=3)
    codes = [api.get("/on-demand/unknown").status_code for _ in range(5)]
    assert codes == [404, 404, 503, 404, 404]
    assert api.get("/on-demand").status_code == 200  # a different route


def test_latency(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.inject("/on-demand", latency=0.15, times=1)
    started = time.monotonic()
    response = api.get("/on-demand")
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.15
    assert fastpix_fake.requests[-1].fault == "latency"


def test_connection_reset(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.inject("POST /on-demand", reset=True, nth=2)
    assert api.post("/on-demand", json=MEDIA).status_code == 201
    with pytest.raises(requests.ConnectionError):
        api.post("/on-demand", json=MEDIA)
    assert api.post("/on-demand", json=MEDIA).status_code == 201
    assert len(fastpix_fake.media()) == 2
    assert fastpix_fake.requests_for("POST /on-demand")[1].fault == "reset"


def test_hang_until_timeout_then_cleared(api: Api, fastpix_fake: FakeFastPix) -> None:
    fault = fastpix_fake.inject("GET /on-demand", hang=True)
    with pytest.raises(requests.Timeout):
        api.get("/on-demand", timeout=0.3)
    fastpix_fake.clear_faults(fault)
    assert api.get("/on-demand").status_code == 200


def test_hang_does_not_block_stop() -> None:
    fake = FakeFastPix().start()
    fake.add_token("t", "s")
    fake.inject("*", hang=True)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(fake.base_url + "/on-demand", auth=("t", "s"), timeout=10)
        except requests.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    fake.stop()
    thread.join(5)
    assert time.monotonic() - started < 3
    assert not thread.is_alive() and len(errors) == 1


def test_route_patterns() -> None:
    assert RoutePattern.parse("POST /on-demand").matches("POST", "/v1/on-demand")
    assert not RoutePattern.parse("POST /on-demand").matches("POST", "/v1/on-demand/upload")
    assert not RoutePattern.parse("POST /on-demand").matches("GET", "/v1/on-demand")
    media = RoutePattern.parse("GET /on-demand/{mediaId}")
    assert media.matches("GET", "/v1/on-demand/abc?x=1")
    assert not media.matches("GET", "/v1/on-demand/abc/playback-ids")
    assert RoutePattern.parse("/live/*").matches("PUT", "/v1/live/streams/x/live-enable")
    assert RoutePattern.parse("*").matches("DELETE", "/v1/iam/signing-keys/k")
    assert RoutePattern.parse("DELETE").matches("DELETE", "/v1/on-demand/x")
    assert RoutePattern.parse("* /v1/on-demand").matches("GET", "/v1/on-demand")


def test_idempotency_key_replays_first_response(api: Api, fastpix_fake: FakeFastPix) -> None:
    headers = {"Idempotency-Key": "ref-123"}
    first = api.post("/on-demand", json=MEDIA, headers=headers)
    second = api.post("/on-demand", json={**MEDIA, "title": "different"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(fastpix_fake.media()) == 1
    assert fastpix_fake.requests_for("POST /on-demand")[1].replayed
    other = api.post("/on-demand", json=MEDIA, headers={"Idempotency-Key": "ref-456"})
    assert other.json()["data"]["id"] != first.json()["data"]["id"]
    # Same key on another route is independent.
    stream_body: dict[str, dict[str, str]] = {"playbackSettings": {}, "inputMediaSettings": {}}
    assert api.post("/live/streams", json=stream_body, headers=headers).status_code == 201
    # Same key in another workspace is independent.
    fastpix_fake.add_token("b", "b-secret", workspace="ws-b")
    other_ws = requests.post(
        api.url("/on-demand"), json=MEDIA, headers=headers, auth=("b", "b-secret"), timeout=5
    )
    assert other_ws.json()["data"]["id"] != first.json()["data"]["id"]
    assert len(fastpix_fake.media()) == 3


def test_idempotency_replays_validation_errors_too(api: Api, fastpix_fake: FakeFastPix) -> None:
    headers = {"Idempotency-Key": "k"}
    assert api.post("/on-demand", json={}, headers=headers).status_code == 422
    assert api.post("/on-demand", json=MEDIA, headers=headers).status_code == 422
    assert fastpix_fake.media() == []


def test_request_log(api: Api, fastpix_fake: FakeFastPix) -> None:
    api.post("/on-demand", json={**MEDIA, "metadata": {"a": "b"}}, headers={"X-Request-Id": "r1"})
    api.get("/on-demand", params={"limit": "5", "orderBy": "asc"})
    post, get = fastpix_fake.requests
    assert (post.method, post.path, post.status) == ("POST", "/v1/on-demand", 201)
    assert post.json == {**MEDIA, "metadata": {"a": "b"}}
    assert post.header("x-request-id") == "r1"
    assert get.query == {"limit": "5", "orderBy": "asc"}
    assert get.status == 200 and get.time >= post.time
    assert fastpix_fake.requests_for("GET /on-demand") == [get]
    fastpix_fake.clear_requests()
    assert fastpix_fake.requests == []


def test_many_calls_on_one_keep_alive_session(api: Api, fastpix_fake: FakeFastPix) -> None:
    media_id = api.create_media()["id"]
    for _ in range(200):
        assert api.get(f"/on-demand/{media_id}").status_code == 200
    ports = {r.header("Host") for r in fastpix_fake.requests}
    assert len(ports) == 1
    # One pooled connection served them all.
    adapter = api.session.get_adapter(api.fake.base_url)
    assert isinstance(adapter, requests.adapters.HTTPAdapter)
    pool = adapter.poolmanager
    assert sum(p.num_connections for p in pool.pools._container.values()) == 1


def test_reset_clears_everything(api: Api, fastpix_fake: FakeFastPix) -> None:
    api.create_media()
    fastpix_fake.inject("*", status=500)
    fastpix_fake.reset()
    assert fastpix_fake.media() == [] and fastpix_fake.requests == []
    fastpix_fake.add_token("fake-token-id", "fake-secret-key")
    assert api.get("/on-demand").status_code == 200  # faults gone too


def test_internal_errors_answer_500(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.auto_advance = False
    media_id = api.create_media()["id"]
    original = fastpix_fake.store.media_json

    def broken(media: object) -> dict[str, object]:
        raise RuntimeError("bug")

    fastpix_fake.store.media_json = broken  # type: ignore[method-assign]
    try:
        response = api.get(f"/on-demand/{media_id}")
    finally:
        fastpix_fake.store.media_json = original  # type: ignore[method-assign]
    assert response.status_code == 500 and response.json()["error"]["code"] == 500
    assert "RuntimeError" in fastpix_fake.errors[-1]
