"""Live stream and signing-key endpoints of the fake."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from django_fastpix.testing import FakeFastPix

from .conftest import Api

LIVE_BODY: dict[str, Any] = {
    "playbackSettings": {"accessPolicy": "private"},
    "inputMediaSettings": {
        "maxResolution": "720p",
        "reconnectWindow": 120,
        "mediaPolicy": "public",
        "metadata": {"event": "launch"},
        "enableDvrMode": True,
    },
}


def test_live_stream_lifecycle(api: Api) -> None:
    created = api.post("/live/streams", json=LIVE_BODY)
    assert created.status_code == 201
    stream = created.json()["data"]
    stream_id = stream["streamId"]
    assert re.fullmatch(r"[0-9a-f]{32}", stream_id)
    assert stream["status"] == "idle" and stream["reconnectWindow"] == 120
    assert stream["maxResolution"] == "720p" and stream["enableRecording"] is True
    assert stream["metadata"] == {"event": "launch"} and stream["enableDvrMode"] is True
    assert stream["streamKey"] and stream["srtSecret"]
    assert stream["srtPlaybackResponse"]["srtPlaybackStreamId"] == "play" + stream_id
    assert stream["playbackIds"][0]["accessPolicy"] == "private"

    got = api.get(f"/live/streams/{stream_id}").json()["data"]
    assert got["streamId"] == stream_id and got["mediaIds"] == []
    listed = api.get("/live/streams").json()
    assert [s["streamId"] for s in listed["data"]] == [stream_id]
    assert listed["pagination"] == {"totalRecords": 1, "currentOffset": 1, "offsetCount": 1}

    updated = api.patch(
        f"/live/streams/{stream_id}", json={"metadata": {"event": "v2"}, "reconnectWindow": 300}
    )
    assert updated.status_code == 200
    assert updated.json()["data"]["reconnectWindow"] == 300
    assert updated.json()["data"]["metadata"] == {"event": "v2"}

    enable_first = api.put(f"/live/streams/{stream_id}/live-enable")
    assert enable_first.status_code == 400
    disabled = api.put(f"/live/streams/{stream_id}/live-disable")
    assert (disabled.status_code, disabled.json()) == (200, {"success": True})
    again = api.put(f"/live/streams/{stream_id}/live-disable")
    assert again.status_code == 400 and again.json()["error"]["code"] == 400
    assert api.get(f"/live/streams/{stream_id}").json()["data"]["status"] == "disabled"
    assert api.patch(f"/live/streams/{stream_id}", json={"metadata": {}}).status_code == 400
    enabled = api.put(f"/live/streams/{stream_id}/live-enable")
    assert (enabled.status_code, enabled.json()) == (200, {"success": True})
    assert api.get(f"/live/streams/{stream_id}").json()["data"]["status"] == "idle"

    deleted = api.delete(f"/live/streams/{stream_id}")
    assert (deleted.status_code, deleted.json()) == (200, {"success": True})
    missing = api.get(f"/live/streams/{stream_id}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == 404


def test_live_playback_ids(api: Api) -> None:
    stream_id = api.post("/live/streams", json=LIVE_BODY).json()["data"]["streamId"]
    base = f"/live/streams/{stream_id}/playback-ids"
    created = api.post(base, json={"accessPolicy": "public"})
    assert created.status_code == 201
    pid = created.json()["data"]["id"]
    got = api.get(f"{base}/{pid}")
    assert got.status_code == 200 and got.json()["data"]["accessPolicy"] == "public"
    assert api.post(base, json={"accessPolicy": "drm"}).status_code == 422
    deleted = api.delete(base, params={"playbackId": pid})
    assert (deleted.status_code, deleted.json()) == (200, {"success": True})
    assert api.get(f"{base}/{pid}").status_code == 404
    assert api.delete(base).status_code == 422


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inputMediaSettings": {}}, "playbackSettings"),
        ({"playbackSettings": {}}, "inputMediaSettings"),
        ({**LIVE_BODY, "inputMediaSettings": {"reconnectWindow": 59}}, "reconnectWindow"),
        ({**LIVE_BODY, "inputMediaSettings": {"reconnectWindow": 1801}}, "reconnectWindow"),
        ({**LIVE_BODY, "inputMediaSettings": {"maxResolution": "2160p"}}, "maxResolution"),
        ({**LIVE_BODY, "inputMediaSettings": {"metadata": {"k": "v" * 256}}}, "metadata.k"),
        ({**LIVE_BODY, "playbackSettings": {"accessPolicy": "open"}}, "accessPolicy"),
    ],
)
def test_live_validation(api: Api, body: dict[str, Any], field: str) -> None:
    response = api.post("/live/streams", json=body)
    assert response.status_code == 422
    assert any(f["field"].endswith(field) for f in response.json()["error"]["fields"])


def test_live_update_validation(api: Api) -> None:
    stream_id = api.post("/live/streams", json=LIVE_BODY).json()["data"]["streamId"]
    for window in (59, 1801, "60"):
        response = api.patch(f"/live/streams/{stream_id}", json={"reconnectWindow": window})
        assert response.status_code == 422
    assert api.patch(f"/live/streams/{stream_id}", json={"reconnectWindow": 1800}).ok


def test_signing_keys(keys_api: Api, fastpix_fake: FakeFastPix) -> None:
    created = keys_api.post("/iam/signing-keys")
    assert created.status_code == 201
    data = created.json()["data"]
    pem = base64.b64decode(data["privateKey"])
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    private = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048

    got = keys_api.get(f"/iam/signing-keys/{data['id']}").json()["data"]
    assert got["signingKeyId"] == data["id"]
    assert got["workspaceId"] == fastpix_fake.workspace().id
    public = serialization.load_pem_public_key(got["publicKey"].encode())
    assert isinstance(public, rsa.RSAPublicKey)
    signature = private.sign(b"msg", padding.PKCS1v15(), hashes.SHA256())
    public.verify(signature, b"msg", padding.PKCS1v15(), hashes.SHA256())  # the pair matches
    assert data["privateKey"] not in repr(fastpix_fake.store.signing_keys)
    assert data["privateKey"] not in repr(fastpix_fake.requests)

    second = keys_api.post("/iam/signing-keys").json()["data"]
    assert second["privateKey"] != data["privateKey"]
    listed = keys_api.get("/iam/signing-keys", params={"limit": 1}).json()
    assert listed["pagination"] == {"totalRecords": 2, "currentOffset": 1, "offsetCount": 2}
    assert listed["data"][0]["id"] == second["id"]
    assert listed["data"][0]["workspace"][0]["id"] == fastpix_fake.workspace().id

    deleted = keys_api.delete(f"/iam/signing-keys/{data['id']}")
    assert (deleted.status_code, deleted.json()) == (200, {"success": True})
    assert keys_api.get(f"/iam/signing-keys/{data['id']}").status_code == 404
    assert keys_api.delete(f"/iam/signing-keys/{data['id']}").status_code == 404
