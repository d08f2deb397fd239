"""In-memory FastPix world: workspaces, tokens, media, uploads, live streams, signing keys."""

from __future__ import annotations

import copy
import hashlib
import hmac
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import permissions
from .validation import ApiError

MEDIA_NOT_FOUND = "media workspace relation not found"
PLAYBACK_NOT_FOUND = "playbackId not found"
STREAM_NOT_FOUND = "stream not found"
UPLOAD_NOT_FOUND = "upload not found"
SIGNING_KEY_NOT_FOUND = "signing key not found"

#: (event type, workspace, object type, object id, data, coarse status)
EmitFn = Callable[[str, "Workspace", str, str, dict[str, Any], str], None]


def now_iso() -> str:
    """ISO-8601 UTC with microseconds and Z, as FastPix writes timestamps."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    """A fresh UUID string."""
    return str(uuid.uuid4())


def secret_digest(secret: str) -> bytes:
    """Digest a token secret; like FastPix, the fake keeps only a hash of it."""
    return hashlib.sha256(secret.encode()).digest()


def default_restrictions() -> dict[str, Any]:
    """The accessRestrictions FastPix reports when none were given."""
    return {
        "domains": {"defaultPolicy": "allow", "allow": [], "deny": []},
        "userAgents": {"defaultPolicy": "allow", "allow": [], "deny": []},
    }


def merge_restrictions(given: Any) -> dict[str, Any]:
    """Fill the parts of accessRestrictions the caller left out."""
    result = default_restrictions()
    if isinstance(given, dict):
        for part in ("domains", "userAgents"):
            if isinstance(given.get(part), dict):
                result[part].update(copy.deepcopy(given[part]))
    return result


def new_playback_id(body: dict[str, Any]) -> dict[str, Any]:
    """A playback-id record from a request body carrying accessPolicy/accessRestrictions."""
    record: dict[str, Any] = {
        "id": new_id(),
        "accessPolicy": body.get("accessPolicy") or "public",
        "accessRestrictions": merge_restrictions(body.get("accessRestrictions")),
    }
    if body.get("drmConfigurationId"):
        record["drmConfigurationId"] = body["drmConfigurationId"]
    if body.get("resolution"):
        record["resolution"] = body["resolution"]
    return record


@dataclass
class Workspace:
    """A FastPix workspace: every token and resource belongs to one."""

    id: str
    name: str


@dataclass
class Token:
    """An access token: id, secret digest, a level per area (see `permissions`), workspace."""

    token_id: str
    digest: bytes
    scopes: dict[str, str]
    workspace: Workspace
    revoked: bool = False

    def check(self, secret: str) -> bool:
        """Constant-time secret comparison."""
        return hmac.compare_digest(self.digest, secret_digest(secret))

    @property
    def scope(self) -> str:
        """The video level: what `scope` meant before tokens had areas."""
        return self.scopes.get(permissions.VIDEO, permissions.NONE)

    def allows(self, area: str, write: bool) -> bool:
        """Whether this token may read (or write) in ``area``."""
        return permissions.allows(self.scopes, area, write)


@dataclass
class Media:
    """A media (VOD asset) and its processing state."""

    id: str
    workspace: Workspace
    settings: dict[str, Any]
    playback_ids: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    status: str = "Created"
    will_fail: bool = False
    upload_id: str | None = None
    created_at: str = field(default_factory=now_iso)
    updated_at: str = ""
    tracks: list[dict[str, Any]] = field(default_factory=list)
    duration_seconds: int | None = None
    # The live stream a recording came from (`streamId` in its JSON).
    stream_id: str | None = None
    seq: int = 0

    def __post_init__(self) -> None:
        self.updated_at = self.updated_at or self.created_at

    @property
    def metadata(self) -> dict[str, str]:
        """The media's metadata map."""
        meta = self.settings.get("metadata")
        return meta if isinstance(meta, dict) else {}


@dataclass
class Upload:
    """A direct-upload slot: waiting until bytes arrive, then created; or cancelled/timed_out.

    Only byte counts are kept, never the file. `received_bytes` is the size of a one-shot PUT,
    or the contiguous prefix received through a resumable session (`session_token`).
    """

    id: str
    workspace: Workspace
    cors_origin: str
    settings: dict[str, Any]
    url: str
    signature: str
    status: str = "waiting"
    media_id: str | None = None
    created_at: str = field(default_factory=now_iso)
    received_bytes: int = 0
    seq: int = 0
    timeout: int = 14400
    # time.monotonic() after which a waiting upload is timed_out.
    expires_at: float = float("inf")
    browser: bool = False
    resumable: bool = False
    chunks: int = 0
    session_token: str | None = None
    total_bytes: int | None = None


@dataclass
class LiveStream:
    """A live stream and its playback ids."""

    id: str
    workspace: Workspace
    stream_key: str
    srt_secret: str
    srt_playback_secret: str
    playback_ids: list[dict[str, Any]]
    settings: dict[str, Any]
    status: str = "idle"
    created_at: str = field(default_factory=now_iso)
    seq: int = 0
    viewer_count: int = 0
    simulcasts: dict[str, dict[str, Any]] = field(default_factory=dict)
    media_ids: list[str] = field(default_factory=list)
    # Whether an encoder session went active since the last idle (a recording is due).
    session_active: bool = False
    # Bumped on every connect/disconnect/end so a stale reconnect-window timer does nothing.
    generation: int = 0


@dataclass
class SigningKey:
    """A signing key: only the public half is kept, as FastPix does."""

    id: str
    workspace: Workspace
    public_key_pem: str
    created_at: str = field(default_factory=now_iso)
    seq: int = 0


class Store:
    """All resources, guarded by one re-entrant lock that handlers hold while they run."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.workspaces: dict[str, Workspace] = {}
        self.tokens: dict[str, Token] = {}
        self.media: dict[str, Media] = {}
        self.uploads: dict[str, Upload] = {}
        self.streams: dict[str, LiveStream] = {}
        self.signing_keys: dict[str, SigningKey] = {}
        self.fail_markers: list[str] = ["fail"]
        self.mp4_support_form = "string"
        self.media_duration = 10
        self.upload_timeout = 14400
        self.emit: EmitFn = lambda *args: None
        self.on_media_created: Callable[[Media], None] = lambda media: None
        self._seq = 0

    def next_seq(self) -> int:
        """A monotonically increasing number to order resources stably."""
        self._seq += 1
        return self._seq

    def clear_resources(self) -> None:
        """Drop media, uploads, streams and keys (tokens and workspaces stay)."""
        self.media.clear()
        self.uploads.clear()
        self.streams.clear()
        self.signing_keys.clear()

    # lookups scoped to a workspace: other workspaces' resources look absent

    def workspace(self, key: str) -> Workspace:
        """Find a workspace by name or id, creating it (by name) if unknown."""
        for ws in self.workspaces.values():
            if key in (ws.name, ws.id):
                return ws
        ws = Workspace(id=new_id(), name=key)
        self.workspaces[ws.id] = ws
        return ws

    def find_media(self, ws: Workspace, media_id: str) -> Media:
        """Find a media by id or by the upload id it came from (404 otherwise)."""
        media = self.media.get(media_id)
        if media is None:
            upload = self.uploads.get(media_id)
            if upload is not None and upload.media_id:
                media = self.media.get(upload.media_id)
        if media is None or media.workspace.id != ws.id:
            raise ApiError(
                404, MEDIA_NOT_FOUND, "The requested media does not exist in the workspace."
            )
        return media

    def expire_due_uploads(self) -> None:
        """Mark waiting uploads whose `timeout` has passed as timed_out."""
        now = time.monotonic()
        for upload in self.uploads.values():
            if upload.status == "waiting" and now >= upload.expires_at:
                upload.status = "timed_out"

    def find_upload(self, ws: Workspace, upload_id: str) -> Upload:
        """Find an upload of the workspace (404 otherwise)."""
        upload = self.uploads.get(upload_id)
        if upload is None or upload.workspace.id != ws.id:
            raise ApiError(404, UPLOAD_NOT_FOUND, "The requested upload does not exist.")
        return upload

    def find_stream(self, ws: Workspace, stream_id: str) -> LiveStream:
        """Find a live stream of the workspace (404 otherwise)."""
        stream = self.streams.get(stream_id)
        if stream is None or stream.workspace.id != ws.id:
            raise ApiError(404, STREAM_NOT_FOUND, "The streamId does not exist in the workspace.")
        return stream

    def find_key(self, ws: Workspace, key_id: str) -> SigningKey:
        """Find a signing key of the workspace (404 otherwise)."""
        key = self.signing_keys.get(key_id)
        if key is None or key.workspace.id != ws.id:
            raise ApiError(404, SIGNING_KEY_NOT_FOUND, "The signing key does not exist.")
        return key

    def is_failing_url(self, url: str) -> bool:
        """Whether an input URL is marked to fail processing."""
        return any(marker in url for marker in self.fail_markers)

    # serialisation (camelCase, as the API answers)

    def media_json(self, media: Media) -> dict[str, Any]:
        """The Media object as get/list/update and webhooks carry it."""
        s = media.settings
        data: dict[str, Any] = {}
        if media.playback_ids:
            data["thumbnail"] = (
                f"https://images.fastpix.com/{media.playback_ids[0]['id']}/thumbnail.png"
            )
        data["id"] = media.id
        data["workspaceId"] = media.workspace.id
        if media.stream_id is not None:
            data["streamId"] = media.stream_id
        data["metadata"] = dict(media.metadata)
        for key in ("title", "creatorId"):
            if s.get(key) is not None:
                data[key] = s[key]
        data["mediaQuality"] = s.get("mediaQuality") or "standard"
        data["maxResolution"] = s.get("maxResolution") or "1080p"
        if media.status == "Ready":
            data["sourceResolution"] = _source_resolution(data["maxResolution"])
        data["status"] = media.status
        mp4 = s.get("mp4Support")
        if mp4 and mp4 != "none":
            data["mp4Support"] = self._mp4_support(mp4, media.status)
        data["sourceAccess"] = bool(s.get("sourceAccess", False))
        data["optimizeAudio"] = bool(s.get("optimizeAudio", False))
        data["playbackIds"] = [playback_json(p) for p in media.playback_ids]
        data["tracks"] = copy.deepcopy(media.tracks)
        data["generatedSubtitles"] = []
        data["isAudioOnly"] = False
        data["subtitleAvailable"] = False
        if media.duration_seconds is not None:
            # The real API reports "HH:MM:SS" although the SDK types it as a number.
            secs = media.duration_seconds
            data["duration"] = f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
            data["frameRate"] = "30/1"
            data["aspectRatio"] = "16:9"
        data["createdAt"] = media.created_at
        data["updatedAt"] = media.updated_at
        return data

    def _mp4_support(self, requested: str, status: str) -> Any:
        # The document says a plain string; fastpix-python 1.2.0 expects a list of renditions.
        if self.mp4_support_form == "string":
            return requested
        state = {"Ready": "ready", "Failed": "failed"}.get(status, "preparing")
        renditions: list[dict[str, Any]] = []
        for kind in requested.split(","):
            if kind == "capped_4k":
                renditions.append(
                    {"type": kind, "status": state, "height": 1080, "width": 1920, "ext": "mp4"}
                )
            else:
                renditions.append({"type": kind, "status": state, "ext": "m4a"})
        return renditions

    def created_media_json(self, media: Media) -> dict[str, Any]:
        """The create-media 201 data (a shorter shape than get-media)."""
        s = media.settings
        return {
            "id": media.id,
            "trial": False,
            "status": media.status,
            "createdAt": media.created_at,
            "updatedAt": media.updated_at,
            "playbackIds": [playback_json(p) for p in media.playback_ids],
            "metadata": dict(media.metadata),
            "mediaQuality": s.get("mediaQuality") or "standard",
            "sourceAccess": bool(s.get("sourceAccess", False)),
            "maxResolution": s.get("maxResolution") or "1080p",
            "inputs": copy.deepcopy(media.inputs),
            "optimizeAudio": bool(s.get("optimizeAudio", False)),
        }

    def upload_json(self, upload: Upload) -> dict[str, Any]:
        """The direct-upload object of create and list."""
        s = upload.settings
        push: dict[str, Any] = {
            "playbackIds": [
                {
                    "accessPolicy": s.get("accessPolicy") or "public",
                    "accessRestrictions": merge_restrictions(s.get("accessRestrictions")),
                }
            ],
            "metadata": dict(s.get("metadata") or {}),
            "mediaQuality": s.get("mediaQuality") or "standard",
            "sourceAccess": bool(s.get("sourceAccess", False)),
            "optimizeAudio": bool(s.get("optimizeAudio", False)),
        }
        return {
            "uploadId": upload.id,
            "trial": False,
            "status": upload.status,
            "url": upload.url,
            "timeout": upload.timeout,
            "corsOrigin": upload.cors_origin,
            "pushMediaSettings": push,
        }

    def cancelled_upload_json(self, upload: Upload) -> dict[str, Any]:
        """The cancel-upload data shape."""
        s = upload.settings
        data: dict[str, Any] = {
            "uploadId": upload.id,
            "trial": False,
            "status": upload.status,
            "url": upload.url,
            "timeout": upload.timeout,
            "corsOrigin": upload.cors_origin,
            "maxResolution": s.get("maxResolution") or "1080p",
            "accessPolicy": s.get("accessPolicy") or "public",
            "metadata": dict(s.get("metadata") or {}),
        }
        for key in ("title", "creatorId"):
            if s.get(key) is not None:
                data[key] = s[key]
        return data

    def stream_json(self, stream: LiveStream, *, full: bool = True) -> dict[str, Any]:
        """The LiveStream object; `full` adds simulcastResponses and mediaIds (get/list)."""
        s = stream.settings
        data: dict[str, Any] = {
            "streamId": stream.id,
            "streamKey": stream.stream_key,
            "srtSecret": stream.srt_secret,
            "trial": False,
            "status": stream.status,
            "maxResolution": s.get("maxResolution") or "1080p",
            "maxDuration": 28800,
            "createdAt": stream.created_at,
            "reconnectWindow": s.get("reconnectWindow", 60),
            "enableRecording": s.get("enableRecording", True),
            "enableDvrMode": s.get("enableDvrMode", False),
            "mediaPolicy": s.get("mediaPolicy") or "public",
            "metadata": dict(s.get("metadata") or {}),
            "lowLatency": False,
            "closedCaptions": False,
            "playbackIds": [playback_json(p) for p in stream.playback_ids],
            "srtPlaybackResponse": {
                "srtPlaybackStreamId": "play" + stream.id,
                "srtPlaybackSecret": stream.srt_playback_secret,
            },
        }
        if full:
            data["simulcastResponses"] = [simulcast_json(t) for t in stream.simulcasts.values()]
            data["mediaIds"] = list(stream.media_ids)
        return data


def simulcast_json(target: dict[str, Any]) -> dict[str, Any]:
    """A simulcast target as the API shows it."""
    return {
        "simulcastId": target["simulcastId"],
        "url": target["url"],
        "streamKey": target["streamKey"],
        "isEnabled": target["isEnabled"],
        "metadata": copy.deepcopy(target["metadata"]),
    }


def playback_json(record: dict[str, Any]) -> dict[str, Any]:
    """A playback id as the API shows it."""
    data = {
        "id": record["id"],
        "accessPolicy": record["accessPolicy"],
        "accessRestrictions": copy.deepcopy(record["accessRestrictions"]),
    }
    if "resolution" in record:
        data["resolution"] = record["resolution"]
    return data


def _source_resolution(max_resolution: str) -> str:
    order = ["480p", "720p", "1080p", "1440p", "2160p"]
    # The fake's sources are 1080p files: FastPix reports min(source, maxResolution).
    return order[min(order.index(max_resolution), order.index("1080p"))]


def find_playback(records: list[dict[str, Any]], playback_id: str, owner: str) -> dict[str, Any]:
    """One playback-id record of a media or stream, or FastPix's 404."""
    for record in records:
        if record["id"] == playback_id:
            return record
    raise ApiError(404, PLAYBACK_NOT_FOUND, f"The playbackId does not exist for this {owner}.")


def playback_id_param(query: dict[str, str]) -> str:
    """The `?playbackId=` of a playback-id DELETE (a query parameter, not a path segment)."""
    playback_id = query.get("playbackId")
    if not playback_id:
        raise ApiError(422, fields=[{"field": "playbackId", "message": "is required"}])
    return playback_id
