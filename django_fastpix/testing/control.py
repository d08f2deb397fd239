"""Control routes: drive a fake running in another process (e.g. simulate an encoder with curl).

They live under ``{origin}/_fake`` (not /v1: FastPix has no such API), need no Basic auth and
answer only requests from a loopback address (403 otherwise). Bodies and answers are JSON;
success is ``{"success": true, "data": ...}``, errors use the API's error envelope.

    GET  /_fake                                  this list of routes
    POST /_fake/live/{streamId}/connect          encoder connects (idle/disconnected -> active)
    POST /_fake/live/{streamId}/disconnect       encoder drops (-> disconnected; the reconnect
                                                 window then ends the session)
    POST /_fake/live/{streamId}/end              session ends (-> idle; recording media)
    POST /_fake/live/{streamId}/viewer-count     body {"views": N}
    POST /_fake/uploads/{uploadId}/expire        the upload times out

e.g. ``curl -X POST http://127.0.0.1:8765/_fake/live/STREAM_ID/connect``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import TYPE_CHECKING, Any

from .routing import Reply, ok
from .validation import ApiError

if TYPE_CHECKING:
    from .fake import FakeFastPix

CONTROL_PREFIX = "/_fake"
ROUTES = (
    "POST /_fake/live/{streamId}/connect",
    "POST /_fake/live/{streamId}/disconnect",
    "POST /_fake/live/{streamId}/end",
    "POST /_fake/live/{streamId}/viewer-count",
    "POST /_fake/uploads/{uploadId}/expire",
)
_LIVE = re.compile(r"^/_fake/live/(?P<id>[^/]+)/(?P<action>connect|disconnect|end|viewer-count)$")
_UPLOAD = re.compile(r"^/_fake/uploads/(?P<id>[^/]+)/(?P<action>expire)$")


def is_control_path(path: str) -> bool:
    """Whether a request path is a control route."""
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def route_label(method: str, path: str) -> str | None:
    """The control route's name (None if the path is not one)."""
    found = _LIVE.match(path)
    if found:
        return f"{method} /_fake/live/{{streamId}}/{found['action']}"
    found = _UPLOAD.match(path)
    if found:
        return f"{method} /_fake/uploads/{{uploadId}}/{found['action']}"
    return None


def is_loopback(address: str) -> bool:
    """Whether a client address is a loopback one (IPv4-mapped IPv6 included)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return bool(ip.is_loopback or (mapped is not None and mapped.is_loopback))


def serve(fake: FakeFastPix, method: str, path: str, raw: bytes) -> Reply:
    """Answer one control request (the caller checked the client is on loopback)."""
    if path in (CONTROL_PREFIX, CONTROL_PREFIX + "/"):
        if method != "GET":
            raise ApiError(405, description=f"{method} is not allowed on {path}.")
        return ok({"routes": list(ROUTES), "origin": fake.origin})
    live = _LIVE.match(path)
    upload = _UPLOAD.match(path)
    if live is None and upload is None:
        raise ApiError(404, "route not found", f"No control route {method} {path}.")
    if method not in ("POST", "PUT"):
        raise ApiError(405, description=f"{method} is not allowed on {path}; use POST.")
    if upload is not None:
        return ok(fake._control_expire_upload(upload["id"]))
    assert live is not None
    action = live["action"]
    if action == "viewer-count":
        body = _json(raw)
        views = body.get("views")
        if isinstance(views, bool) or not isinstance(views, int) or views < 0:
            raise ApiError(422, fields=[{"field": "views", "message": "must be an integer >= 0"}])
        return ok(fake._control_live(live["id"], "viewer-count", views))
    return ok(fake._control_live(live["id"], action))


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise ApiError(422, fields=[{"field": "body", "message": "invalid JSON"}]) from None
    if not isinstance(body, dict):
        raise ApiError(422, fields=[{"field": "body", "message": "must be a JSON object"}])
    return body
