"""The upload host: where the URL of `POST /on-demand/upload` points (stands in for GCS).

No Basic auth: the URL is a capability (its `signature` query parameter), as FastPix's signed
storage URLs are. Two protocols are spoken on it, as @fastpix/resumable-uploads 1.0.3 and a
plain `PUT` use them:

- one-shot: ``PUT {origin}/uploads/{uploadId}?signature=…`` with the whole file → 200.
- resumable (GCS style):
  ``POST {origin}/uploads/{uploadId}?signature=…`` with ``x-goog-resumable: start`` → 201 and
  ``Location: {origin}/uploads/{uploadId}/session/{sessionToken}`` (an unguessable token; a new
  start replaces the session and starts again from byte 0). Then
  ``PUT {session}`` with ``Content-Range: bytes a-b/total`` and ``b-a+1`` body bytes:
  308 with ``Range: bytes=0-{last byte received}`` (never a Location) until the last byte is in,
  then 200 and the media is created exactly as for the one-shot PUT
  (``video.upload.media_created``, processing, ``video.media.ready``). A chunk that does not start
  at the next expected byte (a duplicate, or one after a gap) is not counted: 308 with the
  current Range, so the client re-sends from there (GCS leaves Range out while nothing is in).
  ``Content-Range: bytes */total`` asks for the progress: 308 with the Range, or 200 when done.
  A PUT without Content-Range carries the whole file.

Errors: wrong signature or session token 403/404; a PUT to a cancelled or timed-out upload
410 and to a finished one 400, each with the error envelope saying why; a malformed
Content-Range or a body whose length disagrees with it 400. Only byte counts are kept.

Every answer (errors, injected faults and preflights included) carries CORS headers: the
request's Origin (or ``*``), methods POST, PUT, OPTIONS, request headers content-type,
content-range and x-goog-resumable, and exposes Location and Range to scripts.

Route names, for `FakeFastPix.inject`, `requests_for` and request counts:
``POST /uploads/{uploadId}`` (session start), ``PUT /uploads/{uploadId}`` (one-shot),
``PUT /uploads/{uploadId}/session/{sessionToken}`` (a chunk or a status query), and
``OPTIONS`` of either path. E.g. ``fake.inject("PUT /uploads/{uploadId}/session/{sessionToken}",
status=503, times=1)`` fails the next chunk once, so a client must retry it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

from .handlers_media import complete_upload, receive_upload
from .routing import Reply
from .state import Store, Upload
from .validation import ApiError

UPLOAD_PREFIX = "/uploads"
ALLOWED_METHODS = "POST, PUT, OPTIONS"
ALLOWED_HEADERS = "content-type, content-range, x-goog-resumable"
EXPOSED_HEADERS = "Location, Range"

_UPLOAD = re.compile(r"^/uploads/(?P<uploadId>[^/]+)$")
_SESSION = re.compile(r"^/uploads/(?P<uploadId>[^/]+)/session/(?P<token>[^/]+)$")
_RANGE = re.compile(r"^bytes\s+(?:(?P<query>\*)|(?P<first>\d+)-(?P<last>\d+))/(?P<total>\*|\d+)$")


def is_upload_path(path: str) -> bool:
    """Whether a request path belongs to the upload host."""
    return path.startswith(UPLOAD_PREFIX + "/")


def route_label(method: str, path: str) -> str | None:
    """The route name of an upload-host request (None if it is not one)."""
    if _UPLOAD.match(path):
        return f"{method} /uploads/{{uploadId}}"
    if _SESSION.match(path):
        return f"{method} /uploads/{{uploadId}}/session/{{sessionToken}}"
    return None


def cors_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The CORS headers every upload-host answer carries."""
    return {
        "Access-Control-Allow-Origin": _header(headers, "Origin") or "*",
        "Access-Control-Expose-Headers": EXPOSED_HEADERS,
        "Vary": "Origin",
    }


def serve(
    store: Store,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    size: int,
    origin: str,
) -> Reply:
    """Answer one upload-host request (the caller holds the store lock)."""
    one_shot = _UPLOAD.match(path)
    session = _SESSION.match(path)
    if one_shot is None and session is None:
        raise ApiError(404, "route not found", f"No upload URL {path}.")
    if method == "OPTIONS":
        return _preflight()
    store.expire_due_uploads()
    if one_shot is not None:
        upload_id = one_shot["uploadId"]
        if method == "PUT":
            return receive_upload(store, upload_id, query.get("signature", ""), size)
        if method == "POST":
            return _start(store, upload_id, query.get("signature", ""), headers, origin)
        raise ApiError(405, description=f"{method} is not allowed on an upload URL.")
    assert session is not None
    if method != "PUT":
        raise ApiError(405, description=f"{method} is not allowed on an upload session.")
    return _chunk(store, session["uploadId"], session["token"], headers, size)


def _start(
    store: Store, upload_id: str, signature: str, headers: Mapping[str, str], origin: str
) -> Reply:
    upload = store.uploads.get(upload_id)
    if upload is None or not secrets.compare_digest(upload.signature, signature):
        raise ApiError(403, "forbidden", "Invalid or expired upload URL.")
    if (_header(headers, "x-goog-resumable") or "").strip().lower() != "start":
        raise ApiError(
            400,
            "Bad Request",
            "POST to an upload URL starts a resumable session: send `x-goog-resumable: start`.",
        )
    _check_open(upload)
    upload.resumable = True
    upload.session_token = secrets.token_urlsafe(24)
    upload.received_bytes = 0
    upload.total_bytes = None
    location = f"{origin}/uploads/{upload.id}/session/{upload.session_token}"
    return Reply(201, None, {"Location": location})


def _chunk(
    store: Store, upload_id: str, token: str, headers: Mapping[str, str], size: int
) -> Reply:
    upload = store.uploads.get(upload_id)
    if (
        upload is None
        or upload.session_token is None
        or not secrets.compare_digest(upload.session_token, token)
    ):
        raise ApiError(404, "upload session not found", "No such upload session.")
    content_range = (_header(headers, "Content-Range") or "").strip()
    found = _RANGE.match(content_range) if content_range else None
    if content_range and found is None:
        raise ApiError(
            400,
            "Bad Request",
            f"Invalid Content-Range {content_range!r}: expected `bytes FIRST-LAST/TOTAL` "
            "or `bytes */TOTAL`.",
        )
    if found is not None and found["query"]:
        # A status query: how far did we get?
        if upload.status == "created":
            return Reply(200, None, _range(upload))
        _check_open(upload)
        return Reply(308, None, _range(upload))
    if upload.status == "created":
        raise ApiError(400, "Bad Request", "The upload is already complete; no more bytes.")
    _check_open(upload)
    if found is None:
        # No Content-Range: the body is the whole file.
        upload.received_bytes = size
        upload.total_bytes = size
        upload.chunks += 1
        complete_upload(store, upload)
        return Reply(200, None, _range(upload))
    first, last = int(found["first"]), int(found["last"])
    total = None if found["total"] == "*" else int(found["total"])
    if last < first or size != last - first + 1:
        raise ApiError(
            400,
            "Bad Request",
            f"Content-Range {content_range!r} announces {last - first + 1} bytes; "
            f"the body has {size}.",
        )
    if total is not None:
        if last >= total:
            raise ApiError(400, "Bad Request", f"Content-Range {content_range!r} ends past TOTAL.")
        if upload.total_bytes is not None and total != upload.total_bytes:
            raise ApiError(
                400,
                "Bad Request",
                f"TOTAL changed from {upload.total_bytes} to {total} within the session.",
            )
        upload.total_bytes = total
    if first != upload.received_bytes:
        # A duplicate or out-of-order chunk: not kept; the Range tells where to resume.
        return Reply(308, None, _range(upload))
    upload.received_bytes += size
    upload.chunks += 1
    if total is not None and upload.received_bytes == total:
        complete_upload(store, upload)
        return Reply(200, None, _range(upload))
    return Reply(308, None, _range(upload))


def _check_open(upload: Upload) -> None:
    if upload.status in ("cancelled", "timed_out"):
        state = "cancelled" if upload.status == "cancelled" else "timed out"
        raise ApiError(410, f"upload {state}", f"The upload is {state}; it accepts no bytes.")
    if upload.status != "waiting":
        raise ApiError(400, "Bad Request", f"The upload is {upload.status}; no more bytes.")


def _range(upload: Upload) -> dict[str, str]:
    if upload.received_bytes <= 0:
        return {}
    return {"Range": f"bytes=0-{upload.received_bytes - 1}"}


def _preflight() -> Reply:
    return Reply(
        204,
        None,
        {
            "Access-Control-Allow-Methods": ALLOWED_METHODS,
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
            "Allow": ALLOWED_METHODS,
        },
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)
