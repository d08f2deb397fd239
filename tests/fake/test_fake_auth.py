"""Authentication, scopes and workspace isolation."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from django_fastpix.testing import FakeFastPix

from .conftest import Api


def _error(response: requests.Response) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False
    error: dict[str, Any] = body["error"]
    assert error["code"] == response.status_code
    return error


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer abc",
        "Basic !!!not-base64",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b"fake-token-id:wrong").decode(),
        "Basic " + base64.b64encode(b"unknown:fake-secret-key").decode(),
    ],
)
def test_bad_credentials_get_401(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = requests.get(api.url("/on-demand"), headers=headers, timeout=5)
    assert response.status_code == 401
    error = _error(response)
    assert error["message"] == "unauthorized" and error["description"]


def test_every_endpoint_requires_auth(api: Api, make_api: Any) -> None:
    anonymous = make_api(None)
    for method, path in [
        ("POST", "/on-demand"),
        ("GET", "/on-demand/x"),
        ("POST", "/live/streams"),
        ("GET", "/iam/signing-keys"),
        ("DELETE", "/iam/signing-keys/x"),
        ("GET", "/no-such-route"),
    ]:
        assert anonymous.request(method, path, json={}).status_code == 401


def test_revoked_token_gets_401(api: Api, fastpix_fake: FakeFastPix) -> None:
    assert api.get("/on-demand").status_code == 200
    fastpix_fake.revoke_token("fake-token-id")
    assert api.get("/on-demand").status_code == 401


def test_read_only_token_cannot_write(api: Api, fastpix_fake: FakeFastPix, make_api: Any) -> None:
    media_id = api.create_media()["id"]
    fastpix_fake.add_token("ro", "ro-secret", scope="read")
    reader = make_api(("ro", "ro-secret"))
    assert reader.get("/on-demand").status_code == 200
    assert reader.get(f"/on-demand/{media_id}").status_code == 200
    for method, path in [
        ("POST", "/on-demand"),
        ("PATCH", f"/on-demand/{media_id}"),
        ("DELETE", f"/on-demand/{media_id}"),
        ("PUT", "/live/streams/abc/live-enable"),
        ("POST", "/iam/signing-keys"),
    ]:
        response = reader.request(method, path, json={})
        assert response.status_code == 403, (method, path)
        assert _error(response)["message"] == "forbidden"
    assert len(fastpix_fake.media()) == 1


def test_workspaces_are_isolated(
    api: Api, keys_api: Api, fastpix_fake: FakeFastPix, make_api: Any
) -> None:
    media_id = api.create_media(metadata={"owner": "a"})["id"]
    stream_id = api.post(
        "/live/streams", json={"playbackSettings": {}, "inputMediaSettings": {}}
    ).json()["data"]["streamId"]
    key_id = keys_api.post("/iam/signing-keys").json()["data"]["id"]
    fastpix_fake.add_token("b-token", "b-secret", workspace="ws-b", system="read_write")
    other = make_api(("b-token", "b-secret"))
    missing = other.get(f"/on-demand/{media_id}")
    assert missing.status_code == 404
    assert _error(missing)["message"] == "media workspace relation not found"
    assert other.patch(f"/on-demand/{media_id}", json={"title": "x"}).status_code == 404
    assert other.delete(f"/on-demand/{media_id}").status_code == 404
    assert other.get(f"/on-demand/{media_id}/playback-ids").status_code == 404
    assert other.get(f"/live/streams/{stream_id}").status_code == 404
    assert other.get(f"/iam/signing-keys/{key_id}").status_code == 404
    for path in ("/on-demand", "/live/streams", "/iam/signing-keys"):
        listed = other.get(path).json()
        assert listed["data"] == [] and listed["pagination"]["totalRecords"] == 0
    other_media = other.create_media()
    assert fastpix_fake.get_media(other_media["id"])["workspaceId"] == (  # type: ignore[index]
        fastpix_fake.workspace("ws-b").id
    )
    assert [m["id"] for m in fastpix_fake.media("ws-default")] == [media_id]
    assert api.get(f"/on-demand/{media_id}").status_code == 200


def test_authorization_header_is_recorded_as_sent(api: Api, fastpix_fake: FakeFastPix) -> None:
    api.get("/on-demand")
    [record] = fastpix_fake.requests_for("GET /on-demand")
    expected = "Basic " + base64.b64encode(b"fake-token-id:fake-secret-key").decode()
    assert record.header("authorization") == expected
    assert record.authenticated_token_id == "fake-token-id"
    assert record.workspace_id == fastpix_fake.workspace().id
    # Only a digest of the secret is kept in the token table.
    assert "fake-secret-key" not in repr(fastpix_fake.store.tokens)
