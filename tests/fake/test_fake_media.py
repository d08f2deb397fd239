"""On-demand endpoints of the fake over real sockets: happy paths, envelopes, errors."""

from __future__ import annotations

import re

import pytest
import requests

from django_fastpix.testing import FakeFastPix

from .conftest import Api

DROP = object()
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_create_media_answers_201_with_the_create_shape(api: Api) -> None:
    body = {
        "inputs": [{"type": "video", "url": "https://example.com/a.mp4"}],
        "accessPolicy": "private",
        "metadata": {"ref": "abc"},
        "title": "Intro",
        "creatorId": "u-1",
        "maxResolution": "720p",
        "mediaQuality": "pro",
    }
    response = api.post("/on-demand", json=body)
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
    payload = response.json()
    assert payload["success"] is True
    data = payload["data"]
    assert data["status"] == "Created"
    assert data["trial"] is False
    assert data["metadata"] == {"ref": "abc"}
    assert data["maxResolution"] == "720p"
    assert data["mediaQuality"] == "pro"
    assert data["inputs"] == body["inputs"]
    assert ISO_Z.match(data["createdAt"]) and ISO_Z.match(data["updatedAt"])
    [playback] = data["playbackIds"]
    assert playback["accessPolicy"] == "private"
    assert playback["accessRestrictions"]["domains"] == {
        "defaultPolicy": "allow",
        "allow": [],
        "deny": [],
    }


def test_get_media_has_the_media_fields(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.auto_advance = False
    created = api.create_media(title="T", creatorId="c", metadata={"k": "v"})
    data = api.get(f"/on-demand/{created['id']}").json()["data"]
    assert data["id"] == created["id"]
    assert data["workspaceId"] == fastpix_fake.workspace().id
    assert data["title"] == "T" and data["creatorId"] == "c"
    assert data["status"] == "Created"
    assert data["tracks"] == []
    assert "duration" not in data
    playback_id = created["playbackIds"][0]["id"]
    assert data["thumbnail"] == f"https://images.fastpix.com/{playback_id}/thumbnail.png"
    fastpix_fake.finish_processing(created["id"])
    ready = api.get(f"/on-demand/{created['id']}").json()["data"]
    assert ready["status"] == "Ready"
    assert ready["duration"] == "00:00:10"
    assert ready["aspectRatio"] == "16:9"
    assert ready["sourceResolution"] == "1080p"
    assert {t["type"] for t in ready["tracks"]} == {"video", "audio"}


def test_list_media_paginates_with_page_numbers(api: Api) -> None:
    ids = [api.create_media(metadata={"n": str(i)})["id"] for i in range(7)]
    first = api.get("/on-demand", params={"limit": 3}).json()
    assert first["pagination"] == {"totalRecords": 7, "currentOffset": 1, "offsetCount": 3}
    assert [m["id"] for m in first["data"]] == ids[::-1][:3]  # default orderBy=desc
    last = api.get("/on-demand", params={"limit": 3, "offset": 3, "orderBy": "asc"}).json()
    assert [m["id"] for m in last["data"]] == ids[6:]
    assert last["pagination"]["currentOffset"] == 3
    beyond = api.get("/on-demand", params={"limit": 3, "offset": 9}).json()
    assert beyond["data"] == [] and beyond["pagination"]["totalRecords"] == 7
    default = api.get("/on-demand").json()
    assert len(default["data"]) == 7 and default["pagination"]["offsetCount"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"offset": 0}, "offset"),
        ({"orderBy": "up"}, "orderBy"),
    ],
)
def test_list_rejects_bad_pagination(keys_api: Api, params: dict[str, object], field: str) -> None:
    for path in ("/on-demand", "/on-demand/uploads", "/live/streams", "/iam/signing-keys"):
        response = keys_api.get(path, params=params)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == 422 and error["message"] == "payload validation failed"
        assert [f["field"] for f in error["fields"]] == [field]


def test_update_media_replaces_metadata_and_sets_title(api: Api) -> None:
    media_id = api.create_media(metadata={"a": "1", "b": "2"})["id"]
    response = api.patch(
        f"/on-demand/{media_id}", json={"metadata": {"c": "3"}, "title": "New", "creatorId": "me"}
    )
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["metadata"] == {"c": "3"}
    assert (data["title"], data["creatorId"]) == ("New", "me")


def test_delete_media_then_404(api: Api) -> None:
    media_id = api.create_media()["id"]
    response = api.delete(f"/on-demand/{media_id}")
    assert (response.status_code, response.json()) == (200, {"success": True})
    missing = api.get(f"/on-demand/{media_id}")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "media workspace relation not found"
    assert api.delete(f"/on-demand/{media_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inputs": DROP}, "inputs"),
        ({"inputs": [], "accessPolicy": "public"}, "inputs"),
        ({"inputs": [{"url": "https://e/x.mp4"}]}, "inputs[0].type"),
        ({"inputs": [{"type": "video"}]}, "inputs[0].url"),
        ({"inputs": [{"type": "watermark", "url": "https://e/w.png"}]}, "inputs"),
        ({"accessPolicy": "secret"}, "accessPolicy"),
        ({"accessPolicy": DROP}, "accessPolicy"),
        ({"accessPolicy": "drm"}, "drmConfigurationId"),
        ({"metadata": {"k": 1}}, "metadata.k"),
        ({"metadata": ["x"]}, "metadata"),
        ({"metadata": {f"k{i}": "v" for i in range(11)}}, "metadata"),
        ({"metadata": {"k": "v" * 256}}, "metadata.k"),
        ({"title": "t" * 256}, "title"),
        ({"creatorId": "c" * 256}, "creatorId"),
        ({"maxResolution": "4320p"}, "maxResolution"),
        ({"mediaQuality": "ultra"}, "mediaQuality"),
    ],
)
def test_create_media_validation(api: Api, body: dict[str, object], field: str) -> None:
    payload: dict[str, object] = {
        "inputs": [{"type": "video", "url": "https://e/x.mp4"}],
        "accessPolicy": "public",
    }
    payload.update(body)
    payload = {k: v for k, v in payload.items() if v is not DROP}
    response = api.post("/on-demand", json=payload)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]
    assert api.get("/on-demand").json()["pagination"]["totalRecords"] == 0


def test_limits_at_the_boundary_are_accepted(api: Api) -> None:
    api.create_media(
        metadata={f"k{i}": "v" * 255 for i in range(10)}, title="t" * 255, creatorId="c" * 255
    )


def test_non_json_body_is_422(api: Api) -> None:
    response = api.post(
        "/on-demand", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body"
    assert api.post("/on-demand", json=["a list"]).status_code == 422


def test_playback_ids_lifecycle(api: Api) -> None:
    media = api.create_media()
    base = f"/on-demand/{media['id']}/playback-ids"
    created = api.post(base, json={"accessPolicy": "private", "resolution": "720p"})
    assert created.status_code == 201
    pid = created.json()["data"]
    assert pid["accessPolicy"] == "private" and pid["resolution"] == "720p"
    assert pid["accessRestrictions"]["userAgents"]["defaultPolicy"] == "allow"
    listed = api.get(base).json()["data"]
    assert [p["id"] for p in listed] == [media["playbackIds"][0]["id"], pid["id"]]
    one = api.get(f"{base}/{pid['id']}")
    assert one.status_code == 200 and one.json()["data"]["id"] == pid["id"]
    deleted = api.delete(base, params={"playbackId": pid["id"]})
    assert (deleted.status_code, deleted.json()) == (200, {"success": True})
    assert api.get(f"{base}/{pid['id']}").status_code == 404
    assert api.delete(base, params={"playbackId": pid["id"]}).status_code == 404
    assert api.delete(base).status_code == 422
    assert api.post(base, json={"accessPolicy": "drm"}).status_code == 422
    assert api.post(base, json={}).status_code == 422
    assert api.get("/on-demand/nope/playback-ids").status_code == 404


def test_direct_upload_put_creates_media(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.auto_advance = False
    response = api.post(
        "/on-demand/upload",
        json={
            "corsOrigin": "*",
            "pushMediaSettings": {"accessPolicy": "private", "metadata": {"ref": "up-1"}},
        },
    )
    assert response.status_code == 201
    upload = response.json()["data"]
    assert upload["status"] == "waiting" and upload["timeout"] == 14400
    assert upload["corsOrigin"] == "*"
    assert upload["pushMediaSettings"]["playbackIds"][0]["accessPolicy"] == "private"
    assert upload["url"].startswith(fastpix_fake.origin + "/uploads/")
    listed = api.get("/on-demand/uploads").json()
    assert [u["uploadId"] for u in listed["data"]] == [upload["uploadId"]]
    assert listed["pagination"]["totalRecords"] == 1
    put = requests.put(upload["url"], data=b"\x00" * 1024, timeout=5)
    assert put.status_code == 200
    assert requests.put(upload["url"], data=b"again", timeout=5).status_code == 400
    assert api.get("/on-demand/uploads").json()["data"] == []
    media = api.get(f"/on-demand/{upload['uploadId']}").json()["data"]  # found by upload id
    assert media["metadata"] == {"ref": "up-1"} and media["status"] == "Created"
    assert media["playbackIds"][0]["accessPolicy"] == "private"
    assert fastpix_fake.uploads()[0]["receivedBytes"] == 1024
    assert requests.put(upload["url"].split("?")[0], data=b"x", timeout=5).status_code == 403


def test_cancel_upload(api: Api) -> None:
    upload = api.post("/on-demand/upload", json={"corsOrigin": "https://site.example"}).json()
    upload_id = upload["data"]["uploadId"]
    response = api.put(f"/on-demand/upload/{upload_id}/cancel")
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["status"] == "cancelled" and data["uploadId"] == upload_id
    assert data["accessPolicy"] == "public"
    assert api.put(f"/on-demand/upload/{upload_id}/cancel").status_code == 400
    assert api.put("/on-demand/upload/unknown/cancel").status_code == 404
    assert requests.put(upload["data"]["url"], data=b"x", timeout=5).status_code == 400
    assert api.get("/on-demand/uploads").json()["data"] == []


def test_upload_validation(api: Api) -> None:
    assert api.post("/on-demand/upload", json={}).status_code == 422
    bad = api.post(
        "/on-demand/upload", json={"corsOrigin": "*", "pushMediaSettings": {"accessPolicy": "x"}}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"][0]["field"] == "pushMediaSettings.accessPolicy"


def test_unknown_route_and_wrong_method(api: Api) -> None:
    unknown = api.get("/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.json()["success"] is False
    wrong = api.put("/on-demand")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == 405
    outside = requests.get(api.fake.origin + "/elsewhere", timeout=5)
    assert outside.status_code == 404
