"""On-demand endpoints: media, direct uploads and media playback ids."""

from __future__ import annotations

import copy
import secrets
import time
from typing import Any

from .routing import Call, Reply, Route, ok
from .state import (
    Media,
    Store,
    Upload,
    find_playback,
    new_id,
    new_playback_id,
    now_iso,
    playback_id_param,
    playback_json,
)
from .validation import (
    ACCESS_POLICIES,
    MAX_RESOLUTIONS,
    ApiError,
    Problems,
    check_access_policy,
    check_enum,
    check_inputs,
    check_media_settings,
    check_metadata,
    check_restrictions,
    check_string,
)

_SETTING_KEYS = (
    "accessPolicy",
    "accessRestrictions",
    "drmConfigurationId",
    "metadata",
    "title",
    "creatorId",
    "maxResolution",
    "mediaQuality",
    "mp4Support",
    "sourceAccess",
    "optimizeAudio",
    "subtitles",
    "summary",
    "chapters",
    "namedEntities",
    "moderation",
)


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(body[k]) for k in _SETTING_KEYS if k in body}


def create_media_record(
    store: Store,
    call_ws: Any,
    settings: dict[str, Any],
    inputs: list[dict[str, Any]],
    will_fail: bool,
    upload_id: str | None = None,
) -> Media:
    """Create a media with its automatic playback id and schedule its processing."""
    media = Media(
        id=new_id(),
        workspace=call_ws,
        settings=settings,
        playback_ids=[new_playback_id(settings)],
        inputs=inputs,
        will_fail=will_fail,
        upload_id=upload_id,
        seq=store.next_seq(),
    )
    store.media[media.id] = media
    return media


def create_media(store: Store, call: Call) -> Reply:
    """POST /on-demand."""
    body = call.json_object()
    p = Problems()
    check_inputs(p, body, required=True)
    check_media_settings(p, body)
    p.raise_if_any()
    inputs = copy.deepcopy(body["inputs"])
    urls = [str(i.get("url") or i.get("swapTrackUrl") or "") for i in inputs]
    will_fail = any(store.is_failing_url(u) for u in urls)
    media = create_media_record(store, call.workspace, _settings(body), inputs, will_fail)
    store.emit(
        "video.media.created",
        media.workspace,
        "media",
        media.id,
        store.media_json(media),
        "media_created",
    )
    store.on_media_created(media)
    return ok(store.created_media_json(media), 201)


def list_media(store: Store, call: Call) -> Reply:
    """GET /on-demand."""
    chunk, pagination = call.page_of(store.media.values())
    return ok([store.media_json(m) for m in chunk], pagination=pagination)


def get_media(store: Store, call: Call) -> Reply:
    """GET /on-demand/{mediaId} (also accepts the upload id)."""
    return ok(store.media_json(store.find_media(call.workspace, call.params["mediaId"])))


def update_media(store: Store, call: Call) -> Reply:
    """PATCH /on-demand/{mediaId}: metadata (replaced), title, creatorId."""
    media = store.find_media(call.workspace, call.params["mediaId"])
    body = call.json_object()
    p = Problems()
    check_metadata(p, body)
    check_string(p, body, "title")
    check_string(p, body, "creatorId")
    p.raise_if_any()
    for key in ("metadata", "title", "creatorId"):
        if key in body and body[key] is not None:
            media.settings[key] = copy.deepcopy(body[key])
    media.updated_at = now_iso()
    data = store.media_json(media)
    store.emit(
        "video.media.updated", media.workspace, "media", media.id, data, media.status.lower()
    )
    return ok(data)


def delete_media(store: Store, call: Call) -> Reply:
    """DELETE /on-demand/{mediaId}."""
    media = store.find_media(call.workspace, call.params["mediaId"])
    data = store.media_json(media)
    del store.media[media.id]
    store.emit("video.media.deleted", media.workspace, "media", media.id, data, "deleted")
    return ok()


def create_playback_id(store: Store, call: Call) -> Reply:
    """POST /on-demand/{mediaId}/playback-ids."""
    media = store.find_media(call.workspace, call.params["mediaId"])
    body = call.json_object()
    p = Problems()
    check_access_policy(p, body, ACCESS_POLICIES)
    check_restrictions(p, body, "accessRestrictions")
    check_enum(p, body, "resolution", MAX_RESOLUTIONS, required=False)
    p.raise_if_any()
    record = new_playback_id(body)
    media.playback_ids.append(record)
    media.updated_at = now_iso()
    return ok(playback_json(record), 201)


def list_playback_ids(store: Store, call: Call) -> Reply:
    """GET /on-demand/{mediaId}/playback-ids."""
    media = store.find_media(call.workspace, call.params["mediaId"])
    return ok([playback_json(p) for p in media.playback_ids])


def get_playback_id(store: Store, call: Call) -> Reply:
    """GET /on-demand/{mediaId}/playback-ids/{playbackId}."""
    media = store.find_media(call.workspace, call.params["mediaId"])
    return ok(playback_json(find_playback(media.playback_ids, call.params["playbackId"], "media")))


def delete_playback_id(store: Store, call: Call) -> Reply:
    """DELETE /on-demand/{mediaId}/playback-ids?playbackId=ID (a query parameter)."""
    media = store.find_media(call.workspace, call.params["mediaId"])
    record = find_playback(media.playback_ids, playback_id_param(call.query), "media")
    media.playback_ids.remove(record)
    media.updated_at = now_iso()
    return ok()


def create_upload(store: Store, call: Call) -> Reply:
    """POST /on-demand/upload: a URL on the fake itself for a one-shot PUT or a resumable upload.

    See `handlers_uploads` for the protocol. `X-Client-Type: web-browser` is recorded
    (`browser` in `FakeFastPix.uploads()`); the URL is the same either way.
    """
    body = call.json_object()
    p = Problems()
    if not isinstance(body.get("corsOrigin"), str) or not body["corsOrigin"]:
        p.add("corsOrigin", "is required")
    push = body.get("pushMediaSettings")
    if push is not None and not isinstance(push, dict):
        p.add("pushMediaSettings", "must be an object")
    elif push is not None:
        # Optional, but when present accessPolicy is required (as in the document).
        sub = Problems()
        check_media_settings(sub, push)
        check_inputs(sub, push, required=False)
        for item in sub.fields:
            p.add("pushMediaSettings." + item["field"], item["message"])
    push = push if isinstance(push, dict) else {}
    p.raise_if_any()
    upload_id = new_id()
    signature = secrets.token_hex(16)
    upload = Upload(
        id=upload_id,
        workspace=call.workspace,
        cors_origin=body["corsOrigin"],
        settings=_settings(push) | {"inputs": copy.deepcopy(push.get("inputs") or [])},
        url=f"{call.origin}/uploads/{upload_id}?signature={signature}",
        signature=signature,
        seq=store.next_seq(),
        timeout=store.upload_timeout,
        expires_at=time.monotonic() + store.upload_timeout,
        browser=(call.header("X-Client-Type") or "").strip().lower() == "web-browser",
    )
    store.uploads[upload_id] = upload
    data = store.upload_json(upload)
    store.emit(
        "video.media.upload",
        upload.workspace,
        "media",
        upload.id,
        {"id": upload.id, **data},
        "waiting",
    )
    return ok(data, 201)


def list_uploads(store: Store, call: Call) -> Reply:
    """GET /on-demand/uploads: uploads still waiting for their file (not timed out)."""
    store.expire_due_uploads()
    chunk, pagination = call.page_of(store.uploads.values(), keep=lambda u: u.status == "waiting")
    return ok([store.upload_json(u) for u in chunk], pagination=pagination)


def cancel_upload(store: Store, call: Call) -> Reply:
    """PUT /on-demand/upload/{uploadId}/cancel."""
    store.expire_due_uploads()
    upload = store.find_upload(call.workspace, call.params["uploadId"])
    if upload.status != "waiting":
        raise ApiError(400, "Bad Request", f"The upload is already {upload.status}.")
    upload.status = "cancelled"
    data = store.cancelled_upload_json(upload)
    store.emit(
        "video.media.upload.cancelled",
        upload.workspace,
        "media",
        upload.id,
        {"id": upload.id, **data},
        "cancelled",
    )
    return ok(data)


def receive_upload(store: Store, upload_id: str, signature: str, size: int) -> Reply:
    """PUT of the file bytes to an upload URL: creates the media (no Basic auth, like GCS)."""
    store.expire_due_uploads()
    upload = store.uploads.get(upload_id)
    if upload is None or not secrets.compare_digest(upload.signature, signature):
        raise ApiError(403, "forbidden", "Invalid or expired upload URL.")
    if upload.status != "waiting":
        raise ApiError(400, "Bad Request", f"The upload is {upload.status}.")
    upload.received_bytes = size
    upload.chunks += 1
    complete_upload(store, upload)
    return Reply(200, None)


def complete_upload(store: Store, upload: Upload) -> Media:
    """All bytes are in: create the media (`video.upload.media_created`) and process it."""
    upload.status = "created"
    settings = {k: v for k, v in upload.settings.items() if k != "inputs"}
    inputs = [{"type": "video", "url": upload.url}, *upload.settings.get("inputs", [])]
    media = create_media_record(store, upload.workspace, settings, inputs, False, upload.id)
    upload.media_id = media.id
    data = store.media_json(media) | {"uploadId": upload.id}
    store.emit(
        "video.upload.media_created", media.workspace, "media", media.id, data, "media_created"
    )
    store.on_media_created(media)
    return media


ROUTES = [
    Route("POST", "/on-demand", create_media),
    Route("GET", "/on-demand", list_media),
    Route("POST", "/on-demand/upload", create_upload),
    Route("GET", "/on-demand/uploads", list_uploads),
    Route("PUT", "/on-demand/upload/{uploadId}/cancel", cancel_upload),
    Route("GET", "/on-demand/{mediaId}", get_media),
    Route("PATCH", "/on-demand/{mediaId}", update_media),
    Route("DELETE", "/on-demand/{mediaId}", delete_media),
    Route("POST", "/on-demand/{mediaId}/playback-ids", create_playback_id),
    Route("GET", "/on-demand/{mediaId}/playback-ids", list_playback_ids),
    Route("DELETE", "/on-demand/{mediaId}/playback-ids", delete_playback_id),
    Route("GET", "/on-demand/{mediaId}/playback-ids/{playbackId}", get_playback_id),
]
