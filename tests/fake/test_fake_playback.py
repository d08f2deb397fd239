"""The fake's stream and image hosts, and their check of private playback JWTs."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection
from typing import Any

import jwt
import pytest
import requests

from django_fastpix.testing import FakeFastPix

from .conftest import Api

# (path under the image host, content type, leading bytes of the format)
IMAGES = [
    ("thumbnail.jpg", "image/jpeg", b"\xff\xd8\xff"),
    ("thumbnail.png", "image/png", b"\x89PNG\r\n\x1a\n"),
    ("thumbnail.webp", "image/webp", b"RIFF"),
    ("clip.gif", "image/gif", b"GIF89a"),
    ("clip.webp", "image/webp", b"RIFF"),
    ("spritesheet.jpg", "image/jpeg", b"\xff\xd8\xff"),
]


@dataclass
class Key:
    """A signing key as the app holds it after POST /iam/signing-keys."""

    id: str
    private_pem: bytes

    def mint(self, playback_id: str, **overrides: Any) -> str:
        """A token as the app mints it, with any claim (or header) changed."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "kid": self.id,
            "aud": f"media:{playback_id}",
            "sub": "",
            "iss": "fastpix.com",
            "iat": now,
            "exp": now + 300,
        }
        headers = {"kid": self.id, **overrides.pop("headers", {})}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private_pem, algorithm="RS256", headers=headers)


def _new_key(client: Api) -> Key:
    created = client.post("/iam/signing-keys")
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    return Key(data["id"], base64.b64decode(data["privateKey"]))


@pytest.fixture
def key(keys_api: Api) -> Key:
    """A signing key of the default workspace, made through the API."""
    return _new_key(keys_api)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A session without credentials, as a browser fetches playback URLs."""
    session = requests.Session()
    yield session
    session.close()


def _ready_media(api: Api, fastpix_fake: FakeFastPix, policy: str) -> str:
    """The playback id of a Ready media with that access policy."""
    created = api.create_media(accessPolicy=policy)
    fastpix_fake.finish_processing(created["id"])
    playback_id: str = created["playbackIds"][0]["id"]
    return playback_id


@pytest.fixture
def private_id(api: Api, fastpix_fake: FakeFastPix) -> str:
    return _ready_media(api, fastpix_fake, "private")


@pytest.fixture
def public_id(api: Api, fastpix_fake: FakeFastPix) -> str:
    return _ready_media(api, fastpix_fake, "public")


def _get(http: requests.Session, url: str, token: str | None = None, **params: Any) -> Any:
    if token is not None:
        params["token"] = token
    return http.get(url, params=params, timeout=5)


def _refused(response: requests.Response, status: int, message: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (status, message), error
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "no-store"


def test_base_urls_sit_on_the_fake_origin(fastpix_fake: FakeFastPix) -> None:
    assert fastpix_fake.stream_base_url == fastpix_fake.origin + "/stream"
    assert fastpix_fake.image_base_url == fastpix_fake.origin + "/images"


def test_private_playlist_with_a_valid_token(
    fastpix_fake: FakeFastPix, http: requests.Session, key: Key, private_id: str
) -> None:
    response = _get(http, f"{fastpix_fake.stream_base_url}/{private_id}.m3u8", key.mint(private_id))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "no-store"
    lines = response.text.splitlines()
    assert lines[0] == "#EXTM3U"
    for tag in ("#EXT-X-VERSION:", "#EXT-X-TARGETDURATION:", "#EXTINF:"):
        assert any(line.startswith(tag) for line in lines), tag
    assert lines[-1] == "#EXT-X-ENDLIST"


@pytest.mark.parametrize(("name", "content_type", "magic"), IMAGES)
def test_private_images_with_a_valid_token(
    fastpix_fake: FakeFastPix,
    http: requests.Session,
    key: Key,
    private_id: str,
    name: str,
    content_type: str,
    magic: bytes,
) -> None:
    url = f"{fastpix_fake.image_base_url}/{private_id}/{name}"
    response = _get(http, url, key.mint(private_id))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == content_type
    assert response.content.startswith(magic)
    if content_type == "image/webp":
        assert response.content[8:12] == b"WEBP"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    _refused(_get(http, url), 401, "token required")


def test_thumbnail_parameters(
    fastpix_fake: FakeFastPix, http: requests.Session, public_id: str
) -> None:
    url = f"{fastpix_fake.image_base_url}/{public_id}/thumbnail.jpg"
    ok = _get(http, url, time="2.5", width="320", height="180", fit_mode="preserve")
    assert ok.status_code == 200
    for params, field in [
        ({"time": "abc"}, "time"),
        ({"time": "-1"}, "time"),
        ({"time": "nan"}, "time"),
        ({"width": "0"}, "width"),
        ({"height": "1.5"}, "height"),
        ({"fit_mode": "squash"}, "fit_mode"),
    ]:
        response = _get(http, url, **params)
        _refused(response, 400, "invalid image parameters")
        assert [f["field"] for f in response.json()["error"]["fields"]] == [field]


def test_no_token_is_401(
    fastpix_fake: FakeFastPix, http: requests.Session, private_id: str
) -> None:
    response = _get(http, f"{fastpix_fake.stream_base_url}/{private_id}.m3u8")
    _refused(response, 401, "token required")
    assert "token" in response.json()["error"]["description"]


def _tamper(token: str) -> str:
    head, body, signature = token.split(".")
    flipped = ("A" if signature[10] != "A" else "B").join((signature[:10], signature[11:]))
    return ".".join((head, body, flipped))


def test_bad_tokens_are_403_naming_the_reason(
    api: Api,
    keys_api: Api,
    fastpix_fake: FakeFastPix,
    http: requests.Session,
    make_api: Any,
    key: Key,
    private_id: str,
) -> None:
    other_id = _ready_media(api, fastpix_fake, "private")
    fastpix_fake.add_token("b-keys", "b-secret", workspace="ws-b", system="read_write")
    foreign = _new_key(make_api(("b-keys", "b-secret")))
    hs256 = jwt.encode(
        {"aud": f"media:{private_id}", "exp": int(time.time()) + 300, "kid": key.id},
        "a-shared-secret-of-at-least-32-bytes!",
        algorithm="HS256",
        headers={"kid": key.id},
    )
    unsigned = jwt.encode(
        {"aud": f"media:{private_id}", "exp": int(time.time()) + 300},
        "",  # PyJWT's way of saying "no key" for alg none
        algorithm="none",
        headers={"kid": key.id},
    )
    cases = [
        (key.mint(private_id, exp=int(time.time()) - 60), "token expired"),
        (key.mint(other_id), "wrong audience"),
        (key.mint(private_id, aud=private_id), "wrong audience"),
        (key.mint(private_id, aud=[f"media:{private_id}"]), "wrong audience"),
        (_tamper(key.mint(private_id)), "invalid signature"),
        (hs256, "algorithm not allowed"),
        (unsigned, "algorithm not allowed"),
        (foreign.mint(private_id), "signing key of another workspace"),
        (key.mint(private_id, exp=None), "claim missing"),
        (key.mint(private_id, kid="another-key"), "kid mismatch"),
        (key.mint(private_id, headers={"kid": "no-such-key"}), "unknown signing key"),
        ("not-a-jwt", "malformed token"),
    ]
    url = f"{fastpix_fake.stream_base_url}/{private_id}.m3u8"
    for token, message in cases:
        response = _get(http, url, token)
        _refused(response, 403, message)
        assert token not in response.text  # the reason is named, the token never echoed
    # The other playback id's own token works: the 403 above was the audience.
    assert _get(http, f"{fastpix_fake.stream_base_url}/{other_id}.m3u8", key.mint(other_id)).ok


def test_a_deleted_key_stops_working_at_once(
    keys_api: Api, fastpix_fake: FakeFastPix, http: requests.Session, key: Key, private_id: str
) -> None:
    token = key.mint(private_id)
    url = f"{fastpix_fake.stream_base_url}/{private_id}.m3u8"
    assert _get(http, url, token).status_code == 200
    assert keys_api.delete(f"/iam/signing-keys/{key.id}").status_code == 200
    _refused(_get(http, url, token), 403, "unknown signing key")


def test_public_playback_needs_no_token(
    fastpix_fake: FakeFastPix, http: requests.Session, public_id: str
) -> None:
    response = _get(http, f"{fastpix_fake.stream_base_url}/{public_id}.m3u8")
    assert response.status_code == 200 and response.text.startswith("#EXTM3U")
    # A token on a public id is ignored, even a worthless one.
    assert _get(http, f"{fastpix_fake.stream_base_url}/{public_id}.m3u8", "garbage").ok
    thumbnail = _get(http, f"{fastpix_fake.image_base_url}/{public_id}/thumbnail.png")
    assert thumbnail.ok and thumbnail.content.startswith(b"\x89PNG")


def test_unknown_and_unready_playback_ids(
    api: Api, fastpix_fake: FakeFastPix, http: requests.Session, key: Key
) -> None:
    _refused(
        _get(http, f"{fastpix_fake.stream_base_url}/no-such-id.m3u8"), 404, "playbackId not found"
    )
    _refused(
        _get(http, f"{fastpix_fake.image_base_url}/no-such-id/thumbnail.jpg"),
        404,
        "playbackId not found",
    )
    fastpix_fake.auto_advance = False
    waiting = api.create_media(accessPolicy="public")["playbackIds"][0]["id"]
    response = _get(http, f"{fastpix_fake.stream_base_url}/{waiting}.m3u8")
    _refused(response, 412, "media not ready")
    assert "Created" in response.json()["error"]["description"]
    hidden = api.create_media(accessPolicy="private")["playbackIds"][0]["id"]
    hidden_url = f"{fastpix_fake.stream_base_url}/{hidden}.m3u8"
    _refused(_get(http, hidden_url), 401, "token required")  # the token comes first
    _refused(_get(http, hidden_url, key.mint(hidden)), 412, "media not ready")
    failing = api.create_media("https://example.com/fail.mp4")
    fastpix_fake.finish_processing(failing["id"])
    failed_id = failing["playbackIds"][0]["id"]
    _refused(
        _get(http, f"{fastpix_fake.image_base_url}/{failed_id}/thumbnail.jpg"),
        412,
        "media not ready",
    )


def test_unknown_image_names_and_methods(
    fastpix_fake: FakeFastPix, http: requests.Session, public_id: str
) -> None:
    images = fastpix_fake.image_base_url
    _refused(_get(http, f"{images}/{public_id}/thumbnail.gif"), 404, "route not found")
    _refused(_get(http, f"{images}/{public_id}/poster.jpg"), 404, "route not found")
    _refused(_get(http, f"{fastpix_fake.stream_base_url}/{public_id}"), 404, "route not found")
    posted = http.post(f"{fastpix_fake.stream_base_url}/{public_id}.m3u8", timeout=5)
    _refused(posted, 405, "method not allowed")
    assert "GET" in posted.headers["Allow"]


def test_head_and_cors_preflight(
    fastpix_fake: FakeFastPix, http: requests.Session, public_id: str
) -> None:
    url = f"{fastpix_fake.stream_base_url}/{public_id}.m3u8"
    head = http.head(url, timeout=5)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) == len(http.get(url, timeout=5).content)
    preflight = http.options(
        url,
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "range",
        },
        timeout=5,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "range"
    # Preflights carry no token: even a private or unknown id answers them.
    unknown = http.options(f"{fastpix_fake.image_base_url}/x/thumbnail.jpg", timeout=5)
    assert unknown.status_code == 204


def test_live_playback(
    api: Api, fastpix_fake: FakeFastPix, http: requests.Session, key: Key
) -> None:
    body = {"playbackSettings": {"accessPolicy": "private"}, "inputMediaSettings": {}}
    stream = api.post("/live/streams", json=body).json()["data"]
    playback_id = stream["playbackIds"][0]["id"]
    url = f"{fastpix_fake.stream_base_url}/{playback_id}.m3u8"
    _refused(_get(http, url), 401, "token required")
    live = _get(http, url, key.mint(playback_id))
    assert live.status_code == 200 and live.text.startswith("#EXTM3U")
    assert "#EXT-X-ENDLIST" not in live.text  # live: the playlist goes on
    api.put(f"/live/streams/{stream['streamId']}/live-disable")
    _refused(_get(http, url, key.mint(playback_id)), 412, "live stream disabled")


def test_requests_are_logged_and_counted_without_the_jwt(
    fastpix_fake: FakeFastPix, http: requests.Session, key: Key, private_id: str
) -> None:
    token = key.mint(private_id)
    _get(http, f"{fastpix_fake.stream_base_url}/{private_id}.m3u8", token)
    _get(http, f"{fastpix_fake.image_base_url}/{private_id}/thumbnail.jpg", token, width="64")
    _get(http, f"{fastpix_fake.image_base_url}/{private_id}/thumbnail.jpg", key.mint("x"))
    records = fastpix_fake.requests_for("GET /stream/*") + fastpix_fake.requests_for("/images/*")
    assert [r.status for r in records] == [200, 200, 403]
    assert records[1].query == {"token": "<redacted>", "width": "64"}
    assert records[1].query_string == "width=64&token=<redacted>"
    assert records[0].token_id is None and records[0].response is None
    assert records[2].response["error"]["message"] == "wrong audience"
    # However the parameter is spelled, the handler reads it and the log masks it.
    # (http.client, as requests would normalise `%65` back to `e`)
    connection = HTTPConnection(fastpix_fake.host, fastpix_fake.port, timeout=5)
    connection.request("GET", f"/stream/{private_id}.m3u8?tok%65n={token}")
    assert connection.getresponse().status == 200
    connection.close()
    assert fastpix_fake.requests[-1].query_string == "tok%65n=<redacted>"
    log = repr(fastpix_fake.requests)
    assert token not in log and token.split(".")[2] not in log
    counts = fastpix_fake.request_counts()
    assert counts.by_route["GET /stream/{playbackId}.m3u8"] == 2
    assert counts.by_route["GET /images/{playbackId}/thumbnail.jpg"] == 2


def test_injected_faults_apply_and_keep_cors(
    fastpix_fake: FakeFastPix, http: requests.Session, public_id: str
) -> None:
    fastpix_fake.inject("GET /stream/{playbackId}.m3u8", status=503, times=1)
    url = f"{fastpix_fake.stream_base_url}/{public_id}.m3u8"
    _refused(_get(http, url), 503, "service unavailable")
    assert _get(http, url).ok
