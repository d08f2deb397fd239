"""Typed, immutable views of FastPix responses, parsed tolerantly (unknown fields kept in raw)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from ..exceptions import InvalidResponseError
from .parsing import (
    first,
    parse_duration,
    parse_mp4_support,
    parse_timestamp,
    to_bool,
    to_dict,
    to_int,
    to_str,
)

T = TypeVar("T")


def _object(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidResponseError(
            f"FastPix returned a {what} that is not a JSON object ({type(data).__name__})."
        )
    return data


def _missing_id(what: str, data: Mapping[str, Any], keys: str) -> InvalidResponseError:
    # Key names only: values may include stream keys or signed URLs.
    return InvalidResponseError(
        f"FastPix returned a {what} without {keys} (keys: {', '.join(sorted(map(str, data)))})."
    )


@dataclass(frozen=True)
class PlaybackId:
    """A playback id of a media or live stream and its access policy."""

    id: str
    access_policy: str | None = None
    access_restrictions: dict[str, Any] | None = None
    resolution: str | None = None

    @classmethod
    def from_api(cls, data: Any) -> PlaybackId:
        """Parse one ``playbackIds[]`` item or a playback-id response ``data``."""
        data = _object(data, "playback id")
        playback_id = to_str(first(data, "id", "playbackId"))
        if playback_id is None:
            raise _missing_id("playback id", data, "an id")
        restrictions = data.get("accessRestrictions")
        return cls(
            id=playback_id,
            access_policy=to_str(first(data, "accessPolicy", "access_policy", "policy")),
            access_restrictions=dict(restrictions) if isinstance(restrictions, dict) else None,
            resolution=to_str(data.get("resolution")),
        )


def _playback_ids(value: Any) -> list[PlaybackId]:
    # Tolerant: an item without a usable id is skipped rather than failing the whole media.
    if not isinstance(value, list):
        return []
    return [
        PlaybackId.from_api(item)
        for item in value
        if isinstance(item, Mapping) and to_str(first(item, "id", "playbackId"))
    ]


@dataclass(frozen=True)
class Media:
    """A FastPix on-demand media; ``status`` is FastPix's own string ("Ready", "In Queue")."""

    id: str
    status: str | None = None
    workspace_id: str | None = None
    upload_id: str | None = None
    title: str | None = None
    creator_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    playback_ids: list[PlaybackId] = field(default_factory=list)
    duration_seconds: float | None = None
    aspect_ratio: str | None = None
    max_resolution: str | None = None
    source_resolution: str | None = None
    media_quality: str | None = None
    mp4_support: list[str] = field(default_factory=list)
    mp4_renditions: list[dict[str, Any]] = field(default_factory=list)
    is_audio_only: bool | None = None
    source_media_id: str | None = None
    stream_id: str | None = None
    thumbnail: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> Media:
        """Parse a media object; one without ``id`` or ``uploadId`` is an invalid response."""
        data = _object(data, "media")
        upload_id = to_str(data.get("uploadId"))
        media_id = to_str(first(data, "id", "mediaId")) or upload_id
        if media_id is None:
            raise _missing_id("media", data, "an id or uploadId")
        mp4_options, mp4_renditions = parse_mp4_support(data.get("mp4Support"))
        return cls(
            id=media_id,
            status=to_str(data.get("status")),
            workspace_id=to_str(first(data, "workspaceId", "workspace_id")),
            upload_id=upload_id,
            title=to_str(data.get("title")),
            creator_id=to_str(first(data, "creatorId", "creator_id")),
            metadata=to_dict(data.get("metadata")),
            playback_ids=_playback_ids(first(data, "playbackIds", "playback_ids")),
            duration_seconds=parse_duration(data.get("duration")),
            aspect_ratio=to_str(first(data, "aspectRatio", "aspect_ratio")),
            max_resolution=to_str(first(data, "maxResolution", "max_resolution")),
            source_resolution=to_str(first(data, "sourceResolution", "source_resolution")),
            media_quality=to_str(first(data, "mediaQuality", "media_quality")),
            mp4_support=mp4_options,
            mp4_renditions=mp4_renditions,
            is_audio_only=to_bool(data.get("isAudioOnly")),
            source_media_id=to_str(data.get("sourceMediaId")),
            stream_id=to_str(data.get("streamId")),
            thumbnail=to_str(data.get("thumbnail")),
            created_at=parse_timestamp(first(data, "createdAt", "created_at")),
            updated_at=parse_timestamp(first(data, "updatedAt", "updated_at")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class DirectUpload:
    """A direct-upload slot: the client PUTs the file to ``url`` before ``timeout`` seconds."""

    upload_id: str
    status: str | None = None
    # A signed URL is a capability (anyone holding it can upload), so it stays out of reprs.
    url: str | None = field(default=None, repr=False)
    timeout: int | None = None
    media_id: str | None = None
    cors_origin: str | None = None
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self) -> str:
        """The upload id (FastPix calls it ``uploadId``)."""
        return self.upload_id

    @classmethod
    def from_api(cls, data: Any) -> DirectUpload:
        """Parse a direct-upload object (create, cancel and list responses)."""
        data = _object(data, "upload")
        upload_id = to_str(first(data, "uploadId", "id"))
        if upload_id is None:
            raise _missing_id("upload", data, "an uploadId")
        return cls(
            upload_id=upload_id,
            status=to_str(data.get("status")),
            url=to_str(data.get("url")),
            timeout=to_int(data.get("timeout")),
            media_id=to_str(data.get("mediaId")),
            cors_origin=to_str(data.get("corsOrigin")),
            created_at=parse_timestamp(data.get("createdAt")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class SimulcastTarget:
    """A live stream's restream target; its stream key is a credential, kept out of reprs."""

    simulcast_id: str
    url: str | None = None
    stream_key: str | None = field(default=None, repr=False)
    is_enabled: bool | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self) -> str:
        """The simulcast id (FastPix calls it ``simulcastId``)."""
        return self.simulcast_id

    @classmethod
    def from_api(cls, data: Any) -> SimulcastTarget:
        """Parse a simulcast object."""
        data = _object(data, "simulcast target")
        simulcast_id = to_str(first(data, "simulcastId", "id"))
        if simulcast_id is None:
            raise _missing_id("simulcast target", data, "a simulcastId")
        return cls(
            simulcast_id=simulcast_id,
            url=to_str(data.get("url")),
            stream_key=to_str(data.get("streamKey")),
            is_enabled=to_bool(data.get("isEnabled")),
            metadata=to_dict(data.get("metadata")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class LiveStream:
    """A FastPix live stream; the stream key and SRT secrets are kept out of the repr."""

    stream_id: str
    status: str | None = None
    stream_key: str | None = field(default=None, repr=False)
    srt_secret: str | None = field(default=None, repr=False)
    srt_playback_stream_id: str | None = None
    srt_playback_secret: str | None = field(default=None, repr=False)
    max_resolution: str | None = None
    max_duration: int | None = None
    reconnect_window: int | None = None
    media_policy: str | None = None
    enable_recording: bool | None = None
    enable_dvr_mode: bool | None = None
    low_latency: bool | None = None
    closed_captions: bool | None = None
    trial: bool | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    playback_ids: list[PlaybackId] = field(default_factory=list)
    media_ids: list[str] = field(default_factory=list)
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def id(self) -> str:
        """The stream id (FastPix calls it ``streamId``)."""
        return self.stream_id

    @classmethod
    def from_api(cls, data: Any) -> LiveStream:
        """Parse a live-stream object."""
        data = _object(data, "live stream")
        stream_id = to_str(first(data, "streamId", "id"))
        if stream_id is None:
            raise _missing_id("live stream", data, "a streamId")
        srt = to_dict(data.get("srtPlaybackResponse"))
        media_ids = data.get("mediaIds")
        return cls(
            stream_id=stream_id,
            status=to_str(data.get("status")),
            stream_key=to_str(data.get("streamKey")),
            srt_secret=to_str(data.get("srtSecret")),
            srt_playback_stream_id=to_str(srt.get("srtPlaybackStreamId")),
            srt_playback_secret=to_str(srt.get("srtPlaybackSecret")),
            max_resolution=to_str(data.get("maxResolution")),
            max_duration=to_int(data.get("maxDuration")),
            reconnect_window=to_int(data.get("reconnectWindow")),
            media_policy=to_str(data.get("mediaPolicy")),
            enable_recording=to_bool(data.get("enableRecording")),
            enable_dvr_mode=to_bool(data.get("enableDvrMode")),
            low_latency=to_bool(data.get("lowLatency")),
            closed_captions=to_bool(data.get("closedCaptions")),
            trial=to_bool(data.get("trial")),
            metadata=to_dict(data.get("metadata")),
            playback_ids=_playback_ids(data.get("playbackIds")),
            media_ids=[str(m) for m in media_ids if m] if isinstance(media_ids, list) else [],
            created_at=parse_timestamp(data.get("createdAt")),
            raw=dict(data),
        )


def _pem(value: Any) -> str | None:
    """PEM text from either PEM text or base64-encoded PEM (how create returns the key)."""
    text = to_str(value)
    if text is None or text.lstrip().startswith("-----BEGIN"):
        return text
    try:
        decoded = base64.b64decode("".join(text.split()), validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        return None
    return decoded if decoded.lstrip().startswith("-----BEGIN") else None


@dataclass(frozen=True)
class SigningKey:
    """A playback signing key; the private key (create only) never appears in the repr."""

    id: str
    created_at: datetime | None = None
    workspace_id: str | None = None
    public_key_pem: str | None = field(default=None, repr=False)
    private_key_pem: str | None = field(default=None, repr=False, compare=False)
    workspaces: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Defensive: the raw copy must not become a second home for the private key.
        if "privateKey" in self.raw:
            raise ValueError("SigningKey.raw must not hold the private key.")

    @classmethod
    def from_api(cls, data: Any) -> SigningKey:
        """Parse a create, list-item or get response; the base64 private key is decoded."""
        data = _object(data, "signing key")
        key_id = to_str(first(data, "id", "signingKeyId"))
        if key_id is None:
            raise _missing_id("signing key", data, "an id")
        private_key = data.get("privateKey")
        if private_key is not None and _pem(private_key) is None:
            raise InvalidResponseError("FastPix returned a signing key that is not base64 PEM.")
        workspaces = data.get("workspace")
        raw = {k: v for k, v in data.items() if k != "privateKey"}
        return cls(
            id=key_id,
            created_at=parse_timestamp(data.get("createdAt")),
            workspace_id=to_str(data.get("workspaceId")),
            public_key_pem=_pem(data.get("publicKey")),
            private_key_pem=_pem(private_key),
            workspaces=[dict(w) for w in workspaces if isinstance(w, dict)]
            if isinstance(workspaces, list)
            else [],
            raw=raw,
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list endpoint; ``offset`` is FastPix's 1-based page number."""

    items: list[T]
    total: int | None
    offset: int
    page_count: int | None
    limit: int

    @property
    def has_next(self) -> bool:
        """Whether another page follows, from the pagination block or the page size."""
        if not self.items:
            return False
        if self.page_count is not None:
            return self.offset < self.page_count
        if self.total is not None:
            return self.offset * self.limit < self.total
        return len(self.items) >= self.limit

    @classmethod
    def from_envelope(
        cls,
        envelope: Mapping[str, Any],
        parse_item: Callable[[Any], T],
        *,
        limit: int,
        offset: int,
    ) -> Page[T]:
        """Parse ``{data: [...], pagination: {totalRecords, currentOffset, offsetCount}}``."""
        data = envelope.get("data")
        if data is None:
            data = []
        if not isinstance(data, list):
            raise InvalidResponseError("FastPix returned a list response whose data is not a list.")
        pagination = to_dict(envelope.get("pagination"))
        return cls(
            items=[parse_item(item) for item in data],
            total=to_int(pagination.get("totalRecords")),
            offset=to_int(pagination.get("currentOffset")) or offset,
            page_count=to_int(pagination.get("offsetCount")),
            limit=limit,
        )
