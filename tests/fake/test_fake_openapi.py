"""The fake's answers judged by FastPix's official OpenAPI document (tests/fake/data/openapi.yaml).

Each covered operation is called over HTTP and its status + body are validated with
openapi-core against the operation's documented responses (errors against `default`,
i.e. `Default-Error`). The test requests are validated too, so the calls are the documented
ones. `duration` ("HH:MM:SS") and the string `mp4Support` are what the document says, so
they need no exception; the SDK's list form of `mp4Support` is checked to fail only there.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import openapi_core  # test-only dependencies: missing ones must fail, not skip
import pytest
import requests
import yaml
from openapi_core.contrib.requests import RequestsOpenAPIResponse
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers, ImmutableMultiDict

from django_fastpix.testing import FakeFastPix

from .conftest import Api

# A copy inside the repository (see data/README.md): the tests read nothing outside it.
SPEC_PATH = Path(__file__).resolve().parent / "data" / "openapi.yaml"


@pytest.fixture(scope="module")
def spec() -> Any:
    """The document, parsed once per module (~1 s)."""
    if not SPEC_PATH.exists():
        pytest.fail(f"OpenAPI document not found at {SPEC_PATH}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as fh:
        return openapi_core.OpenAPI.from_dict(yaml.load(fh, Loader=loader))


class _Request:
    """A requests call seen as if it had gone to the documented server."""

    def __init__(self, response: requests.Response) -> None:
        prepared = response.request
        url = urlsplit(prepared.url or "")
        self.host_url = "https://api.fastpix.com"
        self.path = url.path
        self.method = (prepared.method or "").lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(url.query)),
            header=Headers(dict(prepared.headers)),
            cookie=ImmutableMultiDict(),
        )
        self.content_type = prepared.headers.get("Content-Type", "")
        body = prepared.body
        self.body = body.encode() if isinstance(body, str) else body


def schema_errors(spec: Any, response: requests.Response) -> list[tuple[tuple[Any, ...], str]]:
    """(path, message) of every schema violation in the response; other problems raise."""
    try:
        spec.validate_response(_Request(response), RequestsOpenAPIResponse(response))
    except Exception as exc:
        cause = exc.__cause__
        if isinstance(cause, InvalidSchemaValue):
            return [
                (tuple(getattr(e, "absolute_path", ())), str(getattr(e, "message", e)))
                for e in cause.schema_errors
            ]
        raise
    return []


def conforms(spec: Any, response: requests.Response, *, check_request: bool = True) -> Any:
    """Assert the response (and the request) match the document; return the JSON body."""
    if check_request:
        spec.validate_request(_Request(response))
    assert schema_errors(spec, response) == [], response.text
    return response.json()


def test_media_operations_conform(spec: Any, api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.auto_advance = False
    body = {
        "inputs": [{"type": "video", "url": "https://static.example.com/v.mp4"}],
        "accessPolicy": "public",
        "metadata": {"key1": "value1"},
        "maxResolution": "1080p",
        "mediaQuality": "standard",
        "mp4Support": "capped_4k",
    }
    media = conforms(spec, api.post("/on-demand", json=body))["data"]
    media_id = media["id"]
    conforms(spec, api.get(f"/on-demand/{media_id}"))
    fastpix_fake.finish_processing()
    ready = conforms(spec, api.get(f"/on-demand/{media_id}"))["data"]
    assert ready["duration"] == "00:00:10" and ready["mp4Support"] == "capped_4k"
    conforms(spec, api.get("/on-demand", params={"limit": 5, "offset": 1, "orderBy": "asc"}))
    conforms(spec, api.patch(f"/on-demand/{media_id}", json={"metadata": {"a": "b"}, "title": "T"}))
    base = f"/on-demand/{media_id}/playback-ids"
    pid = conforms(spec, api.post(base, json={"accessPolicy": "private", "resolution": "720p"}))
    conforms(spec, api.get(base))
    conforms(spec, api.get(f"{base}/{pid['data']['id']}"))
    conforms(spec, api.delete(base, params={"playbackId": pid["data"]["id"]}))
    conforms(spec, api.delete(f"/on-demand/{media_id}"))


def test_upload_operations_conform(spec: Any, api: Api) -> None:
    body = {
        "corsOrigin": "*",
        "pushMediaSettings": {"accessPolicy": "private", "metadata": {"k": "v"}},
    }
    upload = conforms(spec, api.post("/on-demand/upload", json=body))["data"]
    conforms(spec, api.get("/on-demand/uploads", params={"limit": 10}))
    conforms(spec, api.put(f"/on-demand/upload/{upload['uploadId']}/cancel"))


def test_live_operations_conform(spec: Any, api: Api) -> None:
    body = {
        "playbackSettings": {"accessPolicy": "public"},
        "inputMediaSettings": {
            "maxResolution": "1080p",
            "reconnectWindow": 60,
            "mediaPolicy": "public",
            "metadata": {"livestream_name": "x"},
        },
    }
    stream_id = conforms(spec, api.post("/live/streams", json=body))["data"]["streamId"]
    conforms(spec, api.get("/live/streams"))
    conforms(spec, api.get(f"/live/streams/{stream_id}"))
    conforms(spec, api.patch(f"/live/streams/{stream_id}", json={"reconnectWindow": 90}))
    conforms(spec, api.put(f"/live/streams/{stream_id}/live-disable"))
    conforms(spec, api.put(f"/live/streams/{stream_id}/live-disable"))  # 400
    conforms(spec, api.put(f"/live/streams/{stream_id}/live-enable"))
    base = f"/live/streams/{stream_id}/playback-ids"
    pid = conforms(spec, api.post(base, json={"accessPolicy": "private"}))["data"]["id"]
    conforms(spec, api.get(f"{base}/{pid}"))
    conforms(spec, api.delete(base, params={"playbackId": pid}))
    conforms(spec, api.delete(f"/live/streams/{stream_id}"))


def test_signing_key_operations_conform(spec: Any, keys_api: Api) -> None:
    key_id = conforms(spec, keys_api.post("/iam/signing-keys"))["data"]["id"]
    conforms(spec, keys_api.get("/iam/signing-keys"))
    conforms(spec, keys_api.get(f"/iam/signing-keys/{key_id}"))
    conforms(spec, keys_api.delete(f"/iam/signing-keys/{key_id}"))


def test_error_envelopes_conform(
    spec: Any, api: Api, fastpix_fake: FakeFastPix, make_api: Any
) -> None:
    responses = [
        api.get("/on-demand/00000000-0000-0000-0000-000000000000"),
        api.post("/on-demand", json={"inputs": [], "accessPolicy": "nope"}),
        api.get("/on-demand", params={"limit": 0}),
        make_api(("nobody", "nothing")).get("/on-demand"),
    ]
    fastpix_fake.add_token("ro", "ro", scope="read")
    responses.append(make_api(("ro", "ro")).post("/iam/signing-keys"))
    fastpix_fake.inject("GET /live/streams", status=429, times=1)
    fastpix_fake.inject("GET /iam/signing-keys", status=503, times=1)
    responses += [api.get("/live/streams"), api.get("/iam/signing-keys")]
    assert [r.status_code for r in responses] == [404, 422, 422, 401, 403, 429, 503]
    for response in responses:
        assert schema_errors(spec, response) == [], response.text


def test_sdk_style_mp4_support_is_the_only_deviation(
    spec: Any, api: Api, fastpix_fake: FakeFastPix
) -> None:
    fastpix_fake.mp4_support_form = "list"
    media_id = api.create_media(mp4Support="audioOnly,capped_4k")["id"]
    errors = schema_errors(spec, api.get(f"/on-demand/{media_id}"))
    assert errors and {path for path, _ in errors} == {("data", "mp4Support")}


def test_the_document_is_the_unmodified_copy() -> None:
    """The copy is FastPix's document byte for byte: its digest is the one data/README.md gives."""
    readme = (SPEC_PATH.parent / "README.md").read_text(encoding="utf-8")
    digest = hashlib.sha256(SPEC_PATH.read_bytes()).hexdigest()
    assert f"sha256 `{digest}`" in readme
