"""The playback hosts: `stream.fastpix.com` and `images.fastpix.com`, under path prefixes.

The fake serves them on its own port, as `{origin}/stream` and `{origin}/images`, so the
app's STREAM_BASE_URL / IMAGE_BASE_URL settings can point at it. No Basic auth: these URLs
end up in browsers. A playback id is looked up across every workspace (the CDN has no
workspace in the URL); a public one is served to anyone, a private or DRM one only with a
`?token=` JWT that `playback_auth` accepts. Every answer (errors and preflights included)
allows any origin, since the app's pages fetch these cross-origin, and is not to be cached,
since what a token grants must be re-checked on every request.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .playback_assets import HLS_CONTENT_TYPE, IMAGES, live_playlist, vod_playlist
from .playback_auth import check_playback_token
from .routing import Reply
from .state import PLAYBACK_NOT_FOUND, Media, Store, Workspace
from .validation import ApiError

STREAM_PREFIX = "/stream"
IMAGE_PREFIX = "/images"
SHARED_HEADERS = {"Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"}
ALLOWED_METHODS = "GET, HEAD, OPTIONS"
# The fit modes accepted for thumbnails. FastPix documents "preserve" (default) and "stretch"
# and an open-ended list; the others are the usual image-CDN modes (inferred).
FIT_MODES = ("preserve", "stretch", "crop", "smartcrop", "pad")

_PLAYLIST = re.compile(r"^/stream/(?P<playbackId>[^/]+)\.m3u8$")
_IMAGE = re.compile(r"^/images/(?P<playbackId>[^/]+)/(?P<name>[a-z]+)\.(?P<ext>[a-z0-9]+)$")
_PRIVATE_POLICIES = ("private", "drm")


def is_playback_path(path: str) -> bool:
    """Whether a request path belongs to the stream or image host."""
    return any(path == p or path.startswith(p + "/") for p in (STREAM_PREFIX, IMAGE_PREFIX))


def route_label(method: str, path: str) -> str | None:
    """`GET /stream/{playbackId}.m3u8` etc. for request counts (None if not a playback URL)."""
    if _PLAYLIST.match(path):
        return f"{method} /stream/{{playbackId}}.m3u8"
    found = _IMAGE.match(path)
    if found and (found["name"], found["ext"]) in IMAGES:
        return f"{method} /images/{{playbackId}}/{found['name']}.{found['ext']}"
    return None


@dataclass
class Target:
    """What a playback id plays: a media, or a live stream (then `media` is None)."""

    playback: dict[str, Any]
    workspace: Workspace
    media: Media | None
    stream_status: str | None = None


def find_target(store: Store, playback_id: str) -> Target:
    """The media or live stream a playback id belongs to, in any workspace (404 otherwise)."""
    for media in store.media.values():
        for record in media.playback_ids:
            if record["id"] == playback_id:
                return Target(record, media.workspace, media)
    for stream in store.streams.values():
        for record in stream.playback_ids:
            if record["id"] == playback_id:
                return Target(record, stream.workspace, None, stream.status)
    raise ApiError(404, PLAYBACK_NOT_FOUND, "No media or live stream has this playbackId.")


def serve(
    store: Store, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> Reply:
    """Answer one request to the stream or image host (the caller holds the store lock)."""
    if method == "OPTIONS":
        return _preflight(headers)
    playlist = _PLAYLIST.match(path)
    image = _IMAGE.match(path)
    if playlist is None and (image is None or (image["name"], image["ext"]) not in IMAGES):
        raise ApiError(404, "route not found", f"No playback URL {path}.")
    if method not in ("GET", "HEAD"):
        raise ApiError(405, description=f"{method} is not allowed on {path}.", headers=_allow())
    found = playlist or image
    assert found is not None
    playback_id = found["playbackId"]
    target = find_target(store, playback_id)
    # The token first: without one, a private id's state (processing, failed) stays private.
    if target.playback["accessPolicy"] in _PRIVATE_POLICIES:
        check_playback_token(store, target.workspace, playback_id, query.get("token"))
    _check_ready(target)
    if playlist is not None:
        if target.media is None:
            return Reply(200, None, content=live_playlist(), content_type=HLS_CONTENT_TYPE)
        body = vod_playlist(target.media.duration_seconds or store.media_duration)
        return Reply(200, None, content=body, content_type=HLS_CONTENT_TYPE)
    assert image is not None
    _check_image_query(query)
    content_type, content = IMAGES[(image["name"], image["ext"])]
    return Reply(200, None, content=content, content_type=content_type)


def _preflight(headers: Mapping[str, str]) -> Reply:
    # Any origin, any requested header (e.g. Range from a player): the CDN's URLs are public.
    requested = _header(headers, "Access-Control-Request-Headers")
    allowed = {
        "Access-Control-Allow-Methods": ALLOWED_METHODS,
        "Access-Control-Max-Age": "600",
        **_allow(),
    }
    if requested:
        allowed["Access-Control-Allow-Headers"] = requested
    return Reply(204, None, allowed)


def _allow() -> dict[str, str]:
    return {"Allow": ALLOWED_METHODS}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _check_ready(target: Target) -> None:
    # 412 rather than 404: the id is right, the asset is not playable (yet, or ever).
    if target.media is not None and target.media.status != "Ready":
        raise ApiError(
            412,
            "media not ready",
            f"The media of this playbackId is {target.media.status}; its stream and images "
            "exist once it is Ready.",
        )
    if target.media is None and target.stream_status == "disabled":
        raise ApiError(
            412, "live stream disabled", "The live stream of this playbackId is disabled."
        )


def _check_image_query(query: Mapping[str, str]) -> None:
    fields: list[dict[str, str]] = []
    if "time" in query:
        try:
            seconds = float(query["time"])
        except ValueError:
            seconds = -1.0
        if not math.isfinite(seconds) or seconds < 0:
            fields.append({"field": "time", "message": "must be a number of seconds >= 0"})
    for name in ("width", "height"):
        if name in query:
            value = query[name]
            if not (value.isascii() and value.isdigit()) or int(value) < 1:
                fields.append({"field": name, "message": "must be a whole number of pixels >= 1"})
    if "fit_mode" in query and query["fit_mode"] not in FIT_MODES:
        fields.append({"field": "fit_mode", "message": f"must be one of {', '.join(FIT_MODES)}"})
    if fields:
        described = "; ".join(f"{f['field']} {f['message']}" for f in fields)
        raise ApiError(400, "invalid image parameters", described + ".", fields)
