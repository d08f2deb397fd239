"""The upload host's resumable protocol (@fastpix/resumable-uploads 1.0.3, GCS style)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from django_fastpix.testing import FakeFastPix

from .conftest import Api, Receiver

ORIGIN = "https://app.example.com"
PUT_CHUNK = "PUT /uploads/{uploadId}/session/{sessionToken}"


def _create(api: Api, **headers: str) -> dict[str, Any]:
    response = api.post(
        "/on-demand/upload",
        json={"corsOrigin": "*", "pushMediaSettings": {"accessPolicy": "public"}},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def _start(url: str) -> requests.Response:
    return requests.post(
        url,
        headers={"x-goog-resumable": "start", "Content-Type": "video/mp4", "Origin": ORIGIN},
        timeout=5,
    )


def _chunk(session: str, body: bytes, first: int, total: int | str) -> requests.Response:
    last = first + len(body) - 1
    return requests.put(
        session,
        data=body,
        headers={"Content-Range": f"bytes {first}-{last}/{total}", "Content-Type": "video/mp4"},
        allow_redirects=False,
        timeout=5,
    )


def _upload(fake: FakeFastPix, upload_id: str) -> dict[str, Any]:
    return next(u for u in fake.uploads() if u["uploadId"] == upload_id)


def test_resumable_upload_in_chunks_creates_the_media(
    fastpix_fake: FakeFastPix, api: Api, receiver: Receiver
) -> None:
    fastpix_fake.set_webhook("ws-default", receiver.url)
    created = _create(api)
    started = _start(created["url"])
    assert started.status_code == 201
    session = started.headers["Location"]
    assert session.startswith(f"{fastpix_fake.origin}/uploads/{created['uploadId']}/session/")
    assert len(session.rsplit("/", 1)[1]) >= 24
    assert started.headers["Access-Control-Allow-Origin"] == ORIGIN

    first = _chunk(session, b"a" * 100, 0, 250)
    assert first.status_code == 308
    assert first.headers["Range"] == "bytes=0-99"
    assert "Location" not in first.headers
    second = _chunk(session, b"b" * 100, 100, 250)
    assert (second.status_code, second.headers["Range"]) == (308, "bytes=0-199")
    assert fastpix_fake.get_media(created["uploadId"]) is None
    last = _chunk(session, b"c" * 50, 200, 250)
    assert last.status_code == 200

    upload = _upload(fastpix_fake, created["uploadId"])
    assert upload["status"] == "created"
    assert upload["received_bytes"] == upload["receivedBytes"] == 250
    assert (upload["chunks"], upload["resumable"], upload["browser"]) == (3, True, False)
    media = fastpix_fake.get_media(created["uploadId"])
    assert media is not None and media["id"] == upload["mediaId"]
    fastpix_fake.finish_processing(media["id"])
    assert fastpix_fake.wait_for_webhooks()
    types = [e["type"] for e in receiver.events()]
    assert types[:3] == ["video.media.upload", "video.upload.media_created", "video.media.ready"]
    assert receiver.events()[1]["data"]["uploadId"] == created["uploadId"]
    assert api.get("/on-demand/uploads").json()["data"] == []


def test_one_shot_put_still_works(fastpix_fake: FakeFastPix, api: Api) -> None:
    created = _create(api)
    response = requests.put(created["url"], data=b"x" * 1024, timeout=5)
    assert response.status_code == 200
    upload = _upload(fastpix_fake, created["uploadId"])
    assert (upload["receivedBytes"], upload["chunks"], upload["resumable"]) == (1024, 1, False)
    assert fastpix_fake.get_media(created["uploadId"]) is not None
    again = requests.put(created["url"], data=b"x", timeout=5)
    assert again.status_code == 400


def test_duplicate_and_out_of_order_chunks_get_the_current_range(
    fastpix_fake: FakeFastPix, api: Api
) -> None:
    created = _create(api)
    session = _start(created["url"]).headers["Location"]
    gap = _chunk(session, b"z" * 10, 10, 30)
    assert gap.status_code == 308 and "Range" not in gap.headers  # nothing received yet
    assert _chunk(session, b"a" * 10, 0, 30).headers["Range"] == "bytes=0-9"
    duplicate = _chunk(session, b"a" * 10, 0, 30)
    assert (duplicate.status_code, duplicate.headers["Range"]) == (308, "bytes=0-9")
    ahead = _chunk(session, b"c" * 10, 20, 30)
    assert (ahead.status_code, ahead.headers["Range"]) == (308, "bytes=0-9")
    upload = _upload(fastpix_fake, created["uploadId"])
    assert (upload["receivedBytes"], upload["chunks"]) == (10, 1)

    status = requests.put(
        session, headers={"Content-Range": "bytes */30"}, allow_redirects=False, timeout=5
    )
    assert (status.status_code, status.headers["Range"]) == (308, "bytes=0-9")
    assert _chunk(session, b"b" * 10, 10, 30).status_code == 308
    assert _chunk(session, b"c" * 10, 20, 30).status_code == 200
    done = requests.put(session, headers={"Content-Range": "bytes */30"}, timeout=5)
    assert (done.status_code, done.headers["Range"]) == (200, "bytes=0-29")
    finished = _chunk(session, b"c" * 10, 20, 30)
    assert finished.status_code == 400
    assert "already complete" in finished.json()["error"]["description"]


def test_bad_content_range_and_length_mismatch(api: Api) -> None:
    session = _start(_create(api)["url"]).headers["Location"]
    bad = requests.put(session, data=b"abc", headers={"Content-Range": "bytes=0-2"}, timeout=5)
    assert bad.status_code == 400
    short = requests.put(session, data=b"abc", headers={"Content-Range": "bytes 0-9/20"}, timeout=5)
    assert short.status_code == 400


def test_start_needs_the_signature_and_the_header(api: Api) -> None:
    url = _create(api)["url"]
    assert requests.post(url, timeout=5).status_code == 400
    forged = url.split("?")[0] + "?signature=nope"
    assert _start(forged).status_code == 403
    session = _start(url).headers["Location"]
    wrong = session[:-4] + "AAAA"
    assert _chunk(wrong, b"a", 0, 1).status_code == 404


def test_preflight_and_cors_headers(api: Api) -> None:
    created = _create(api)
    for url in (created["url"], _start(created["url"]).headers["Location"]):
        response = requests.options(
            url,
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "content-type, content-range",
            },
            timeout=5,
        )
        assert response.status_code == 204
        h = response.headers
        assert h["Access-Control-Allow-Origin"] == ORIGIN
        assert set(h["Access-Control-Allow-Methods"].replace(" ", "").split(",")) >= {
            "POST",
            "PUT",
            "OPTIONS",
        }
        allowed = {x.strip().lower() for x in h["Access-Control-Allow-Headers"].split(",")}
        assert allowed >= {"content-type", "content-range", "x-goog-resumable"}
        exposed = {x.strip().lower() for x in h["Access-Control-Expose-Headers"].split(",")}
        assert exposed >= {"location", "range"}
    no_origin = requests.options(created["url"], timeout=5)
    assert no_origin.headers["Access-Control-Allow-Origin"] == "*"


def test_cancelled_upload_refuses_bytes(fastpix_fake: FakeFastPix, api: Api) -> None:
    created = _create(api)
    session = _start(created["url"]).headers["Location"]
    assert _chunk(session, b"a" * 10, 0, 20).status_code == 308
    assert api.put(f"/on-demand/upload/{created['uploadId']}/cancel").status_code == 200
    refused = _chunk(session, b"b" * 10, 10, 20)
    assert refused.status_code == 410
    assert "cancelled" in refused.json()["error"]["description"]
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert _start(created["url"]).status_code == 410
    assert requests.put(created["url"], data=b"x", timeout=5).status_code == 400
    assert fastpix_fake.get_media(created["uploadId"]) is None


def test_expired_upload(fastpix_fake: FakeFastPix, api: Api) -> None:
    created = _create(api)
    assert created["timeout"] == 14400
    session = _start(created["url"]).headers["Location"]
    fastpix_fake.expire_upload(created["uploadId"])
    assert _upload(fastpix_fake, created["uploadId"])["status"] == "timed_out"
    assert api.get("/on-demand/uploads").json()["data"] == []
    refused = _chunk(session, b"a", 0, 1)
    assert refused.status_code == 410
    assert "timed out" in refused.json()["error"]["description"]
    assert requests.put(created["url"], data=b"x", timeout=5).status_code == 400
    assert api.get(f"/on-demand/{created['uploadId']}").status_code == 404
    with pytest.raises(ValueError):
        fastpix_fake.expire_upload(created["uploadId"])
    with pytest.raises(KeyError):
        fastpix_fake.expire_upload("nope")


def test_upload_timeout_lapses(fastpix_fake: FakeFastPix, api: Api) -> None:
    fastpix_fake.upload_timeout = 0
    created = _create(api)
    assert created["timeout"] == 0
    assert api.get("/on-demand/uploads").json()["data"] == []
    assert _start(created["url"]).status_code == 410


def test_expire_over_the_control_route(fastpix_fake: FakeFastPix, api: Api) -> None:
    created = _create(api)
    url = f"{fastpix_fake.control_base_url}/uploads/{created['uploadId']}/expire"
    response = requests.post(url, timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "timed_out"
    assert requests.post(url, timeout=5).status_code == 400


def test_browser_client_type_is_recorded(fastpix_fake: FakeFastPix, api: Api) -> None:
    browser = _create(api, **{"X-Client-Type": "web-browser"})
    server = _create(api)
    assert _upload(fastpix_fake, browser["uploadId"])["browser"] is True
    assert _upload(fastpix_fake, server["uploadId"])["browser"] is False


def test_injected_503_on_a_chunk_then_the_retry_succeeds(
    fastpix_fake: FakeFastPix, api: Api
) -> None:
    created = _create(api)
    session = _start(created["url"]).headers["Location"]
    assert _chunk(session, b"a" * 10, 0, 20).status_code == 308
    fault = fastpix_fake.inject(PUT_CHUNK, status=503, times=1)
    failed = _chunk(session, b"b" * 10, 10, 20)
    assert failed.status_code == 503
    assert failed.headers["Access-Control-Allow-Origin"] == "*"
    assert fault.applied == 1
    assert _upload(fastpix_fake, created["uploadId"])["receivedBytes"] == 10
    retried = _chunk(session, b"b" * 10, 10, 20)
    assert retried.status_code == 200
    assert _upload(fastpix_fake, created["uploadId"])["chunks"] == 2
    records = fastpix_fake.requests_for(PUT_CHUNK)
    assert [r.status for r in records] == [308, 503, 200]
    counts = fastpix_fake.request_counts().as_dict()
    assert "PUT /uploads/{uploadId}/session/{sessionToken}" in str(counts)


def test_chunked_transfer_encoding_is_counted(fastpix_fake: FakeFastPix, api: Api) -> None:
    created = _create(api)

    def body() -> Any:
        yield b"a" * 300
        yield b"b" * 200

    response = requests.put(created["url"], data=body(), timeout=5)
    assert response.status_code == 200
    assert _upload(fastpix_fake, created["uploadId"])["receivedBytes"] == 500
