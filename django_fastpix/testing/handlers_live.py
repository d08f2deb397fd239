"""Live stream endpoints."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from .routing import Call, Reply, Route, ok
from .state import (
    LiveStream,
    Store,
    find_playback,
    new_playback_id,
    playback_id_param,
    playback_json,
)
from .validation import (
    ACCESS_POLICIES,
    BASIC_ACCESS_POLICIES,
    LIVE_RESOLUTIONS,
    ApiError,
    Problems,
    check_access_policy,
    check_bool,
    check_enum,
    check_metadata,
    check_restrictions,
)


def _check_reconnect_window(p: Problems, body: dict[str, Any], prefix: str = "") -> None:
    value = body.get("reconnectWindow")
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 60 <= value <= 1800:
        p.add(prefix + "reconnectWindow", "must be an integer between 60 and 1800")


def _emit(store: Store, event: str, stream: LiveStream) -> None:
    store.emit(
        event, stream.workspace, "live-stream", stream.id, store.stream_json(stream), stream.status
    )


def create_stream(store: Store, call: Call) -> Reply:
    """POST /live/streams."""
    body = call.json_object()
    p = Problems()
    playback = body.get("playbackSettings")
    inputs = body.get("inputMediaSettings")
    for name, value in (("playbackSettings", playback), ("inputMediaSettings", inputs)):
        if not isinstance(value, dict):
            p.add(name, "is required and must be an object")
    if isinstance(playback, dict):
        sub = Problems()
        if playback.get("accessPolicy") is not None:
            check_access_policy(sub, playback, ACCESS_POLICIES)
        check_restrictions(sub, playback, "accessRestrictions")
        p.fields += [
            {"field": "playbackSettings." + f["field"], "message": f["message"]} for f in sub.fields
        ]
    if isinstance(inputs, dict):
        sub = Problems()
        check_enum(sub, inputs, "maxResolution", LIVE_RESOLUTIONS, required=False)
        check_enum(sub, inputs, "mediaPolicy", ACCESS_POLICIES, required=False)
        check_metadata(sub, inputs)
        check_bool(sub, inputs, "enableDvrMode")
        check_bool(sub, inputs, "enableRecording")
        _check_reconnect_window(sub, inputs)
        p.fields += [
            {"field": "inputMediaSettings." + f["field"], "message": f["message"]}
            for f in sub.fields
        ]
    p.raise_if_any()
    assert isinstance(playback, dict) and isinstance(inputs, dict)
    stream_id = uuid.uuid4().hex
    stream = LiveStream(
        id=stream_id,
        workspace=call.workspace,
        stream_key=uuid.uuid4().hex + "k" + stream_id,
        srt_secret=uuid.uuid4().hex + "k" + stream_id,
        srt_playback_secret=uuid.uuid4().hex + "k" + stream_id,
        playback_ids=[new_playback_id({"accessPolicy": "public"} | playback)],
        settings=copy.deepcopy(inputs),
        seq=store.next_seq(),
    )
    store.streams[stream_id] = stream
    _emit(store, "video.live_stream.created", stream)
    return ok(store.stream_json(stream, full=False), 201)


def list_streams(store: Store, call: Call) -> Reply:
    """GET /live/streams."""
    chunk, pagination = call.page_of(store.streams.values())
    return ok([store.stream_json(s) for s in chunk], pagination=pagination)


def get_stream(store: Store, call: Call) -> Reply:
    """GET /live/streams/{streamId}."""
    return ok(store.stream_json(store.find_stream(call.workspace, call.params["streamId"])))


def update_stream(store: Store, call: Call) -> Reply:
    """PATCH /live/streams/{streamId}: metadata and reconnectWindow."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    body = call.json_object()
    p = Problems()
    check_metadata(p, body)
    _check_reconnect_window(p, body)
    p.raise_if_any()
    if stream.status == "disabled":
        raise ApiError(400, "Bad Request", "A disabled stream cannot be updated.")
    for key in ("metadata", "reconnectWindow"):
        if body.get(key) is not None:
            stream.settings[key] = copy.deepcopy(body[key])
    _emit(store, "video.live_stream.updated", stream)
    return ok(store.stream_json(stream, full=False))


def delete_stream(store: Store, call: Call) -> Reply:
    """DELETE /live/streams/{streamId}."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    del store.streams[stream.id]
    _emit(store, "video.live_stream.deleted", stream)
    return ok()


def enable_stream(store: Store, call: Call) -> Reply:
    """PUT /live/streams/{streamId}/live-enable: disabled -> idle."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    if stream.status != "disabled":
        raise ApiError(400, "Bad Request", "The stream is already enabled.")
    stream.status = "idle"
    _emit(store, "video.live_stream.idle", stream)
    return ok()


def disable_stream(store: Store, call: Call) -> Reply:
    """PUT /live/streams/{streamId}/live-disable: 400 when already disabled."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    if stream.status == "disabled":
        raise ApiError(400, "Bad Request", "The stream is already disabled.")
    stream.status = "disabled"
    _emit(store, "video.live_stream.disabled", stream)
    return ok()


def create_playback_id(store: Store, call: Call) -> Reply:
    """POST /live/streams/{streamId}/playback-ids."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    body = call.optional_object()
    p = Problems()
    if body.get("accessPolicy") is not None:
        check_enum(p, body, "accessPolicy", BASIC_ACCESS_POLICIES, required=True)
    check_restrictions(p, body, "accessRestrictions")
    p.raise_if_any()
    record = new_playback_id(body)
    stream.playback_ids.append(record)
    return ok(playback_json(record), 201)


def get_playback_id(store: Store, call: Call) -> Reply:
    """GET /live/streams/{streamId}/playback-ids/{playbackId}."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    return ok(
        playback_json(find_playback(stream.playback_ids, call.params["playbackId"], "stream"))
    )


def delete_playback_id(store: Store, call: Call) -> Reply:
    """DELETE /live/streams/{streamId}/playback-ids?playbackId=ID."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    record = find_playback(stream.playback_ids, playback_id_param(call.query), "stream")
    stream.playback_ids.remove(record)
    return ok()


ROUTES = [
    Route("POST", "/live/streams", create_stream),
    Route("GET", "/live/streams", list_streams),
    Route("GET", "/live/streams/{streamId}", get_stream),
    Route("PATCH", "/live/streams/{streamId}", update_stream),
    Route("DELETE", "/live/streams/{streamId}", delete_stream),
    Route("PUT", "/live/streams/{streamId}/live-enable", enable_stream),
    Route("PUT", "/live/streams/{streamId}/live-disable", disable_stream),
    Route("POST", "/live/streams/{streamId}/playback-ids", create_playback_id),
    Route("DELETE", "/live/streams/{streamId}/playback-ids", delete_playback_id),
    Route("GET", "/live/streams/{streamId}/playback-ids/{playbackId}", get_playback_id),
]
