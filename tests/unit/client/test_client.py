"""FastPixClient endpoint methods: method, path, query, body, parsed result, declared scope."""

from __future__ import annotations

import base64
import inspect
import json
from typing import Any

import pytest
import responses
from responses import matchers

from django_fastpix.client import (
    DirectUpload,
    FastPixClient,
    LiveStream,
    Media,
    Page,
    PlaybackId,
    SigningKey,
    Transport,
    required_scope,
    requires,
)
from django_fastpix.scopes import Scope

from .conftest import BASE, BASIC

MEDIA = {"id": "m1", "status": "Created", "playbackIds": [{"id": "p1", "accessPolicy": "public"}]}
STREAM = {"streamId": "s" * 32, "status": "idle", "streamKey": "k"}


def ok(data: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, **extra}
    if data is not None:
        body["data"] = data
    return body


def sent(mocked: responses.RequestsMock, index: int = -1) -> Any:
    body = mocked.calls[index].request.body
    return json.loads(body) if body else None


# --- scopes ---

READS = {
    "get_media",
    "list_media",
    "iter_media",
    "iter_media_pages",
    "list_uploads",
    "iter_uploads",
    "list_playback_ids",
    "get_playback_id",
    "list_live_streams",
    "iter_live_streams",
    "iter_live_stream_pages",
    "get_live_stream",
    "get_live_playback_id",
    "get_live_viewer_count",
    "get_simulcast",
    "list_signing_keys",
    "iter_signing_keys",
    "get_signing_key",
}


def public_methods() -> list[str]:
    return [
        name
        for name, member in inspect.getmembers(FastPixClient, inspect.isfunction)
        if not name.startswith("_")
    ]


def test_every_endpoint_method_declares_its_scope() -> None:
    names = public_methods()
    assert len(names) >= 30
    assert set(names) >= READS
    for name in names:
        expected = Scope.READ if name in READS else Scope.READ_WRITE
        assert required_scope(getattr(FastPixClient, name)) == expected, name


def test_required_scope_on_bound_methods(client: FastPixClient) -> None:
    assert required_scope(FastPixClient.create_media) == Scope.READ_WRITE
    assert required_scope(client.get_media) == Scope.READ
    assert client.delete_media.required_scope == Scope.READ_WRITE  # type: ignore[attr-defined]


def test_undeclared_method_has_no_scope() -> None:
    def helper() -> None: ...

    with pytest.raises(ValueError, match="does not declare"):
        required_scope(helper)
    assert required_scope(requires(Scope.READ)(helper)) == Scope.READ


def test_client_repr_and_type_checks(client: FastPixClient) -> None:
    assert repr(client) == f"<FastPixClient token …WXYZ {BASE}>"
    with pytest.raises(TypeError):
        FastPixClient(("id", "secret"), client.transport)  # type: ignore[arg-type]


# --- media ---


def test_create_media_from_url(mocked: responses.RequestsMock, client: FastPixClient) -> None:
    mocked.post(f"{BASE}/on-demand", json=ok(MEDIA), status=201)
    media = client.create_media(
        "https://cdn.test/v.mp4",
        access_policy="private",
        metadata={"ref": "r1"},
        title="T",
        creator_id="c",
        max_resolution="720p",
        idempotency_key="r1",
        media_quality="pro",
        mp4Support="capped_4k",
    )
    assert isinstance(media, Media) and media.id == "m1"
    assert media.playback_ids == [PlaybackId("p1", "public")]
    assert sent(mocked) == {
        "inputs": [{"type": "video", "url": "https://cdn.test/v.mp4"}],
        "accessPolicy": "private",
        "metadata": {"ref": "r1"},
        "title": "T",
        "creatorId": "c",
        "maxResolution": "720p",
        "mediaQuality": "pro",
        "mp4Support": "capped_4k",
    }
    request = mocked.calls[0].request
    assert request.headers["Idempotency-Key"] == "r1"
    assert request.headers["Authorization"] == BASIC


def test_create_media_with_inputs_and_defaults(
    mocked: responses.RequestsMock, client: FastPixClient
) -> None:
    mocked.post(f"{BASE}/on-demand", json=ok(MEDIA), status=201)
    inputs = [
        {"type": "video", "url": "https://cdn.test/v.mp4"},
        {"type": "watermark", "url": "https://cdn.test/w.png"},
    ]
    client.create_media(inputs)
    assert sent(mocked) == {"inputs": inputs, "accessPolicy": "public"}
    assert "Idempotency-Key" not in mocked.calls[0].request.headers


@pytest.mark.parametrize("bad", ["", "  ", []])
def test_create_media_needs_a_source(client: FastPixClient, bad: Any) -> None:
    with pytest.raises(ValueError):
        client.create_media(bad)


def test_get_update_delete_media(mocked: responses.RequestsMock, client: FastPixClient) -> None:
    mocked.get(f"{BASE}/on-demand/m1", json=ok(MEDIA))
    mocked.patch(f"{BASE}/on-demand/m1", json=ok({**MEDIA, "title": "New"}))
    mocked.delete(f"{BASE}/on-demand/m1", json=ok())
    assert client.get_media("m1").status == "Created"
    assert client.update_media("m1", metadata={"a": "b"}, title="New").title == "New"
    assert sent(mocked) == {"metadata": {"a": "b"}, "title": "New"}
    assert client.delete_media("m1") is None
    assert [c.request.method for c in mocked.calls] == ["GET", "PATCH", "DELETE"]


def test_ids_are_quoted_into_one_path_segment(
    mocked: responses.RequestsMock, client: FastPixClient
) -> None:
    mocked.get(f"{BASE}/on-demand/..%2Fiam%2Fsigning-keys", json=ok(MEDIA))
    client.get_media("../iam/signing-keys")
    assert mocked.calls[0].request.path_url == "/v1/on-demand/..%2Fiam%2Fsigning-keys"


@pytest.mark.parametrize("bad", ["", " ", None])
def test_empty_ids_never_reach_the_network(
    mocked: responses.RequestsMock, client: FastPixClient, bad: Any
) -> None:
    with pytest.raises(ValueError):
        client.get_media(bad)
    with pytest.raises(ValueError):
        client.delete_playback_id("m1", bad)
    assert len(mocked.calls) == 0


def test_list_media(mocked: responses.RequestsMock, client: FastPixClient) -> None:
    mocked.get(
        f"{BASE}/on-demand",
        json=ok([MEDIA], pagination={"totalRecords": 1, "currentOffset": 1, "offsetCount": 1}),
        match=[matchers.query_param_matcher({"limit": "10", "offset": "1", "orderBy": "desc"})],
    )
    page = client.list_media()
    assert isinstance(page, Page)
    assert [m.id for m in page.items] == ["m1"]
    assert page.total == 1 and not page.has_next


def _paged(mocked: responses.RequestsMock, pages: list[list[str]], limit: int = 2) -> None:
    total = sum(len(p) for p in pages)
    for number, ids in enumerate(pages, start=1):
        mocked.get(
            f"{BASE}/on-demand",
            json=ok(
                [{"id": i} for i in ids],
                pagination={
                    "totalRecords": total,
                    "currentOffset": number,
                    "offsetCount": len(pages),
                },
            ),
            match=[
                matchers.query_param_matcher(
                    {"limit": str(limit), "offset": str(number), "orderBy": "desc"}
                )
            ],
        )


def test_iter_media_walks_every_page(mocked: responses.RequestsMock, client: FastPixClient) -> None:
    _paged(mocked, [["a", "b"], ["c", "d"], ["e"]])
    assert [m.id for m in client.iter_media(page_size=2)] == list("abcde")
    assert len(mocked.calls) == 3


def test_iter_media_pages_yields_pages(
    mocked: responses.RequestsMock, client: FastPixClient
) -> None:
    _paged(mocked, [["a", "b"], ["c"]])
    pages = list(client.iter_media_pages(page_size=2))
    assert [[m.id for m in p.items] for p in pages] == [["a", "b"], ["c"]]


def test_iter_media_skips_items_repeated_by_a_shifted_page(
    mocked: responses.RequestsMock, client: FastPixClient
) -> None:
    # A media created mid-iteration pushes "b" onto page 2 as well.
    _paged(mocked, [["a", "b"], ["b", "c"], ["d"]])
    assert [m.id for m in client.iter_media(page_size=2)] == list("abcd")


def test_iteration_stops_when_the_server_ignores_offset(
    mocked: responses.RequestsMock, client: FastPixClient
) -> None:
    mocked.get(f"{BASE}/on-demand", json=ok([{"id": "a"}, {"id": "b"}]))
    assert [m.id for m in client.iter_media(page_size=2)] == ["a", "b"]
    assert len(mocked.calls) == 2


def test_page_size_is_clamped_to_fastpix_maximum(
    mocked: responses.RequestsMock, client: FastPixClient
) -> None:
    mocked.get(f"{BASE}/on-demand", json=ok([]))
    assert list(client.iter_media(page_size=500)) == []
    assert "limit=50" in str(mocked.calls[0].request.url)


# --- uploads ---


def test_create_direct_upload(mocked: responses.RequestsMock, client: FastPixClient) -> None:
    data = {"uploadId": "u1", "status": "waiting", "url": "https://gcs/signed", "timeout": 14400}
    mocked.post(f"{BASE}/on-demand/upload", json=ok(data), status=201)
    upload = client.create_direct_upload(
        "https://site.test", access_policy="private", metadata={"ref": "r"}, idempotency_key="r"
    )
    assert isinstance(upload, DirectUpload) and upload.upload_id == "u1"
    assert upload.url == "https://gcs/signed"
    assert sent(mocked) == {
        "corsOrigin": "https://site.test",
        "pushMediaSettings": {"accessPolicy": "private", "metadata": {"ref": "r"}},
    }


def test_cancel_and_list_uploads(mocked: responses.RequestsMock, client: FastPixClient) -> None:
    mocked.put(
        f"{BASE}/on-demand/upload/u1/cancel", json=ok({"uploadId": "u1", "status": "cancelled"})
    )
    mocked.get(f"{BASE}/on-demand/uploads", json=ok([{"uploadId": "u2", "status": "waiting"}]))
    assert client.cancel_upload("u1").status == "cancelled"
    assert [u.upload_id for u in client.list_uploads(limit=5).items] == ["u2"]
    assert "limit=5&offset=1&orderBy=desc" in str(mocked.calls[-1].request.url)


# --- playback ids ---


def test_playback_id_endpoints(mocked: responses.RequestsMock, client: FastPixClient) -> None:
    base = f"{BASE}/on-demand/m1/playback-ids"
    mocked.post(base, json=ok({"id": "p2", "accessPolicy": "private"}), status=201)
    mocked.get(base, json=ok([{"id": "p1", "accessPolicy": "public"}]))
    mocked.get(f"{base}/p1", json=ok({"id": "p1", "accessPolicy": "public"}))
    mocked.delete(base, json=ok(), match=[matchers.query_param_matcher({"playbackId": "p1"})])

    created = client.create_playback_id("m1", "private", resolution="720p")
    assert created == PlaybackId("p2", "private")
    assert sent(mocked) == {"accessPolicy": "private", "resolution": "720p"}
    assert client.list_playback_ids("m1") == [PlaybackId("p1", "public")]
    assert client.get_playback_id("m1", "p1").id == "p1"
    client.delete_playback_id("m1", "p1")
    assert mocked.calls[-1].request.url == f"{base}?playbackId=p1"


# --- live ---


def test_create_live_stream(mocked: responses.RequestsMock, client: FastPixClient) -> None:
    mocked.post(f"{BASE}/live/streams", json=ok(STREAM), status=201)
    stream = client.create_live_stream(
        access_policy="private",
        max_resolution="720p",
        reconnect_window=120,
        metadata={"name": "x"},
        enable_recording=False,
        low_latency=True,
    )
    assert isinstance(stream, LiveStream) and stream.stream_id == "s" * 32
    assert sent(mocked) == {
        "playbackSettings": {"accessPolicy": "private"},
        "inputMediaSettings": {
            "maxResolution": "720p",
            "reconnectWindow": 120,
            "metadata": {"name": "x"},
            "enableRecording": False,
            "lowLatency": True,
        },
    }


def test_live_stream_endpoints(mocked: responses.RequestsMock, client: FastPixClient) -> None:
    sid = "s" * 32
    path = f"{BASE}/live/streams/{sid}"
    mocked.get(f"{BASE}/live/streams", json=ok([STREAM], pagination={"totalRecords": 1}))
    mocked.get(path, json=ok(STREAM))
    mocked.patch(path, json=ok({**STREAM, "reconnectWindow": 300}))
    mocked.delete(path, json=ok())
    mocked.put(f"{path}/live-enable", json=ok())
    mocked.put(f"{path}/live-disable", json=ok())
    mocked.put(f"{path}/finish", json=ok())

    assert [s.stream_id for s in client.iter_live_streams()] == [sid]
    assert client.get_live_stream(sid).status == "idle"
    assert client.update_live_stream(sid, reconnect_window=300).reconnect_window == 300
    assert sent(mocked) == {"reconnectWindow": 300}
    client.enable_live_stream(sid)
    client.disable_live_stream(sid)
    client.finish_live_stream(sid)
    client.delete_live_stream(sid)
    assert [c.request.method for c in mocked.calls][-4:] == ["PUT", "PUT", "PUT", "DELETE"]


def test_live_playback_ids(mocked: responses.RequestsMock, client: FastPixClient) -> None:
    sid = "s" * 32
    base = f"{BASE}/live/streams/{sid}/playback-ids"
    mocked.post(base, json=ok({"id": "lp", "accessPolicy": "public"}), status=201)
    mocked.get(f"{base}/lp", json=ok({"id": "lp", "accessPolicy": "public"}))
    mocked.delete(base, json=ok(), match=[matchers.query_param_matcher({"playbackId": "lp"})])
    assert client.create_live_playback_id(sid).id == "lp"
    assert sent(mocked) == {"accessPolicy": "public"}
    assert client.get_live_playback_id(sid, "lp").access_policy == "public"
    client.delete_live_playback_id(sid, "lp")


# --- signing keys ---


def test_signing_keys(mocked: responses.RequestsMock, client: FastPixClient) -> None:
    pem = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"
    public = "-----BEGIN PUBLIC KEY-----\nxyz\n-----END PUBLIC KEY-----\n"
    encoded = base64.b64encode(pem.encode()).decode()
    mocked.post(
        f"{BASE}/iam/signing-keys", json=ok({"id": "k1", "privateKey": encoded}), status=201
    )
    mocked.get(f"{BASE}/iam/signing-keys", json=ok([{"id": "k1"}], pagination={"totalRecords": 1}))
    mocked.get(
        f"{BASE}/iam/signing-keys/k1",
        json=ok({"workspaceId": "w", "signingKeyId": "k1", "publicKey": public}),
    )
    mocked.delete(f"{BASE}/iam/signing-keys/k1", json=ok())

    key = client.create_signing_key()
    assert isinstance(key, SigningKey)
    assert key.private_key_pem == pem
    assert "PRIVATE" not in repr(key)
    assert sent(mocked, 0) == {}
    assert [k.id for k in client.list_signing_keys().items] == ["k1"]
    assert [k.id for k in client.iter_signing_keys()] == ["k1"]
    assert client.get_signing_key("k1").public_key_pem == public
    client.delete_signing_key("k1")


def test_client_defaults_to_the_settings_transport(settings: Any) -> None:
    from django_fastpix.client import Credentials

    settings.FASTPIX = {"API_BASE_URL": "http://fake.test/v1"}
    client = FastPixClient(Credentials("tok_1234567890", "secret"))
    assert isinstance(client.transport, Transport)
    assert client.transport.base_url == "http://fake.test/v1"
