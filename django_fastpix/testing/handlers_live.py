"""Live stream endpoints, and the encoder simulation behind `FakeFastPix.connect_encoder` etc.

Transitions and the webhooks each emits (in this order; every event carries the LiveStream):

- connect (idle): `connected`, `preparing` (status preparing), `active` (status active), then
  `recording` when `enableRecording`. Connect again while disconnected (inside the reconnect
  window): `connected`, `active`. A disabled stream refuses the encoder (400).
- disconnect (preparing/active): `disconnected` (status disconnected); after `reconnectWindow`
  seconds without a reconnect the session ends as below.
- end (or `PUT .../finish`, or the reconnect window lapsing): `disconnected` if the encoder was
  still connected, then `idle`; when `enableRecording`, a recording media (`streamId` = the
  stream id) is created: `video.media.created`, then processing to `video.media.ready`.
- disable while live ends the session the same way but emits `disabled` instead of `idle`.

Event names are `video.live_stream.<name>`; simulcast targets emit
`video.live_stream.simulcast_target.created|updated|deleted` with the LiveStream as `data` plus
`data.simulcastTarget` (the target).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from .handlers_media import create_media_record
from .routing import Call, Reply, Route, ok
from .state import (
    LiveStream,
    Media,
    Store,
    find_playback,
    new_playback_id,
    playback_id_param,
    playback_json,
    simulcast_json,
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
    check_string,
)

LIVE = ("preparing", "active")
SIMULCAST_NOT_FOUND = "simulcast not found"


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
    stream.generation += 1
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
    if stream.status in (*LIVE, "disconnected"):
        # Disabling cuts the encoder and ends the session (its recording included).
        end_session(store, stream, emit_idle=False)
    stream.status = "disabled"
    _emit(store, "video.live_stream.disabled", stream)
    return ok()


def finish_stream(store: Store, call: Call) -> Reply:
    """PUT /live/streams/{streamId}/finish: active -> idle, and the recording is processed."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    if stream.status != "active":
        raise ApiError(
            400,
            "Bad Request",
            f"Only an active stream can be finished; this one is {stream.status}.",
        )
    end_session(store, stream)
    return ok()


def viewer_count(store: Store, call: Call) -> Reply:
    """GET /live/streams/{streamId}/viewer-count (set with `FakeFastPix.set_viewer_count`)."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    return ok({"views": stream.viewer_count})


# encoder simulation (store level; the caller holds the lock)


def connect(store: Store, stream: LiveStream) -> None:
    """An encoder connects: idle -> preparing -> active, or disconnected -> active."""
    if stream.status == "disabled":
        raise ApiError(400, "Bad Request", "The stream is disabled: the encoder is refused.")
    if stream.status in LIVE:
        raise ApiError(400, "Bad Request", "An encoder is already connected to this stream.")
    stream.generation += 1
    resumed = stream.status == "disconnected"
    if not resumed:
        stream.status = "preparing"
    _emit(store, "video.live_stream.connected", stream)
    if not resumed:
        _emit(store, "video.live_stream.preparing", stream)
    stream.status = "active"
    _emit(store, "video.live_stream.active", stream)
    if not resumed:
        stream.session_active = True
        if stream.settings.get("enableRecording", True):
            _emit(store, "video.live_stream.recording", stream)


def disconnect(store: Store, stream: LiveStream) -> int:
    """The encoder drops: -> disconnected. Returns the generation a lapse timer must match."""
    if stream.status not in LIVE:
        raise ApiError(
            400, "Bad Request", f"No encoder is connected; the stream is {stream.status}."
        )
    stream.generation += 1
    stream.status = "disconnected"
    _emit(store, "video.live_stream.disconnected", stream)
    return stream.generation


def end(store: Store, stream: LiveStream) -> None:
    """The session ends (encoder stopped for good, or the reconnect window lapsed) -> idle."""
    if stream.status not in (*LIVE, "disconnected"):
        raise ApiError(
            400, "Bad Request", f"The stream has no session to end; it is {stream.status}."
        )
    end_session(store, stream)


def end_session(store: Store, stream: LiveStream, *, emit_idle: bool = True) -> Media | None:
    """-> idle (`emit_idle`), creating the recording media when recording is enabled."""
    stream.generation += 1
    if stream.status in LIVE:
        stream.status = "disconnected"
        _emit(store, "video.live_stream.disconnected", stream)
    stream.status = "idle"
    if emit_idle:
        _emit(store, "video.live_stream.idle", stream)
    recorded, stream.session_active = stream.session_active, False
    if not recorded or not stream.settings.get("enableRecording", True):
        return None
    return _record(store, stream)


def _record(store: Store, stream: LiveStream) -> Media:
    s = stream.settings
    settings: dict[str, Any] = {
        "accessPolicy": s.get("mediaPolicy") or "public",
        "metadata": copy.deepcopy(s.get("metadata") or {}),
        "maxResolution": s.get("maxResolution") or "1080p",
    }
    inputs = [{"type": "video", "url": f"live://{stream.id}"}]
    media = create_media_record(store, stream.workspace, settings, inputs, False)
    media.stream_id = stream.id
    stream.media_ids.append(media.id)
    store.emit(
        "video.media.created",
        media.workspace,
        "media",
        media.id,
        store.media_json(media),
        "media_created",
    )
    store.on_media_created(media)
    return media


# simulcast targets


def _check_simulcast_url(p: Problems, body: dict[str, Any]) -> None:
    url = body.get("url")
    if not isinstance(url, str) or not url:
        p.add("url", "is required")
    elif not url.startswith(("rtmp://", "rtmps://")) or len(url) > 2048:
        p.add("url", "must be an rtmp:// or rtmps:// URL")


def _simulcast_event(store: Store, event: str, stream: LiveStream, target: dict[str, Any]) -> None:
    data = store.stream_json(stream) | {"simulcastTarget": simulcast_json(target)}
    store.emit(
        "video.live_stream.simulcast_target." + event,
        stream.workspace,
        "live-stream",
        stream.id,
        data,
        stream.status,
    )


def _find_simulcast(stream: LiveStream, simulcast_id: str) -> dict[str, Any]:
    target = stream.simulcasts.get(simulcast_id)
    if target is None:
        raise ApiError(404, SIMULCAST_NOT_FOUND, "The simulcastId does not exist for this stream.")
    return target


def create_simulcast(store: Store, call: Call) -> Reply:
    """POST /live/streams/{streamId}/simulcast: {url*, streamKey*, metadata}; only when idle."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    body = call.json_object()
    p = Problems()
    _check_simulcast_url(p, body)
    key = body.get("streamKey")
    if not isinstance(key, str) or not key:
        p.add("streamKey", "is required")
    else:
        check_string(p, body, "streamKey")
    check_metadata(p, body)
    p.raise_if_any()
    if stream.status != "idle":
        raise ApiError(
            400,
            "SimulcastUnavailable",
            f"Simulcast targets can only be added while the stream is idle; it is {stream.status}.",
        )
    target = {
        "simulcastId": uuid.uuid4().hex,
        "url": body["url"],
        "streamKey": body["streamKey"],
        "isEnabled": True,
        "metadata": copy.deepcopy(body.get("metadata") or {}),
    }
    stream.simulcasts[target["simulcastId"]] = target
    _simulcast_event(store, "created", stream, target)
    return ok(simulcast_json(target), 201)


def get_simulcast(store: Store, call: Call) -> Reply:
    """GET /live/streams/{streamId}/simulcast/{simulcastId}."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    return ok(simulcast_json(_find_simulcast(stream, call.params["simulcastId"])))


def update_simulcast(store: Store, call: Call) -> Reply:
    """PUT /live/streams/{streamId}/simulcast/{simulcastId}: {isEnabled, metadata} only."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    target = _find_simulcast(stream, call.params["simulcastId"])
    body = call.json_object()
    p = Problems()
    check_bool(p, body, "isEnabled")
    check_metadata(p, body)
    for name in ("url", "streamKey"):
        if name in body:
            p.add(name, "cannot be changed: delete the target and add it again")
    if "isEnabled" not in body and "metadata" not in body:
        p.add("isEnabled", "isEnabled or metadata is required")
    p.raise_if_any()
    if body.get("isEnabled") is not None:
        target["isEnabled"] = body["isEnabled"]
    if body.get("metadata") is not None:
        target["metadata"] = copy.deepcopy(body["metadata"])
    _simulcast_event(store, "updated", stream, target)
    return ok(simulcast_json(target))


def delete_simulcast(store: Store, call: Call) -> Reply:
    """DELETE /live/streams/{streamId}/simulcast/{simulcastId}."""
    stream = store.find_stream(call.workspace, call.params["streamId"])
    target = _find_simulcast(stream, call.params["simulcastId"])
    del stream.simulcasts[target["simulcastId"]]
    _simulcast_event(store, "deleted", stream, target)
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
    Route("PUT", "/live/streams/{streamId}/finish", finish_stream),
    Route("GET", "/live/streams/{streamId}/viewer-count", viewer_count),
    Route("POST", "/live/streams/{streamId}/simulcast", create_simulcast),
    Route("GET", "/live/streams/{streamId}/simulcast/{simulcastId}", get_simulcast),
    Route("PUT", "/live/streams/{streamId}/simulcast/{simulcastId}", update_simulcast),
    Route("DELETE", "/live/streams/{streamId}/simulcast/{simulcastId}", delete_simulcast),
    Route("POST", "/live/streams/{streamId}/playback-ids", create_playback_id),
    Route("DELETE", "/live/streams/{streamId}/playback-ids", delete_playback_id),
    Route("GET", "/live/streams/{streamId}/playback-ids/{playbackId}", get_playback_id),
]
