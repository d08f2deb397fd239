"""Live-stream endpoints: streams, their state and their playback ids."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..exceptions import InvalidResponseError
from ..scopes import Scope
from .base import BaseClient, IdempotencyKey, compact, list_params, requires, segment
from .pagination import MAX_PAGE_SIZE, iter_items, iter_pages
from .types import LiveStream, Page, PlaybackId, SimulcastTarget


def _stream_path(stream_id: str, suffix: str = "") -> str:
    return f"/live/streams/{segment(stream_id, 'stream id')}{suffix}"


def _simulcast_path(stream_id: str, simulcast_id: str) -> str:
    return _stream_path(stream_id, f"/simulcast/{segment(simulcast_id, 'simulcast id')}")


class LiveEndpoints(BaseClient):
    """``/live/streams``: create, read, update, enable/disable and delete live streams."""

    @requires(Scope.READ_WRITE)
    def create_live_stream(
        self,
        *,
        access_policy: str = "public",
        access_restrictions: Mapping[str, Any] | None = None,
        max_resolution: str | None = None,
        reconnect_window: int | None = None,
        media_policy: str | None = None,
        metadata: Mapping[str, str] | None = None,
        enable_recording: bool | None = None,
        enable_dvr_mode: bool | None = None,
        idempotency_key: IdempotencyKey = None,
        **extra: Any,
    ) -> LiveStream:
        """POST /live/streams (extra keywords go into ``inputMediaSettings``)."""
        playback = compact(
            {
                "accessPolicy": access_policy,
                "accessRestrictions": dict(access_restrictions) if access_restrictions else None,
            }
        )
        settings = compact(
            {
                "maxResolution": max_resolution,
                "reconnectWindow": reconnect_window,
                "mediaPolicy": media_policy,
                "metadata": dict(metadata) if metadata is not None else None,
                "enableRecording": enable_recording,
                "enableDvrMode": enable_dvr_mode,
            },
            extra,
        )
        body = {"playbackSettings": playback, "inputMediaSettings": settings}
        envelope = self._request(
            "POST", "/live/streams", json=body, idempotency_key=idempotency_key
        )
        return LiveStream.from_api(self._data(envelope, "created live stream"))

    @requires(Scope.READ)
    def list_live_streams(
        self, limit: int = 10, offset: int = 1, order_by: str = "desc"
    ) -> Page[LiveStream]:
        """GET /live/streams: one page of streams."""
        params = list_params(limit, offset, order_by)
        envelope = self._request("GET", "/live/streams", params=params)
        return Page.from_envelope(envelope, LiveStream.from_api, limit=limit, offset=offset)

    @requires(Scope.READ)
    def iter_live_stream_pages(
        self, page_size: int = MAX_PAGE_SIZE, order_by: str = "desc"
    ) -> Iterator[Page[LiveStream]]:
        """Every page of live streams."""
        return iter_pages(
            lambda limit, offset: self.list_live_streams(limit, offset, order_by), page_size
        )

    @requires(Scope.READ)
    def iter_live_streams(
        self, page_size: int = MAX_PAGE_SIZE, order_by: str = "desc"
    ) -> Iterator[LiveStream]:
        """Every live stream in the workspace, each once."""
        return iter_items(self.iter_live_stream_pages(page_size, order_by))

    @requires(Scope.READ)
    def get_live_stream(self, stream_id: str) -> LiveStream:
        """GET /live/streams/{streamId}."""
        envelope = self._request("GET", _stream_path(stream_id))
        return LiveStream.from_api(self._data(envelope, "live stream"))

    @requires(Scope.READ_WRITE)
    def update_live_stream(
        self,
        stream_id: str,
        *,
        metadata: Mapping[str, str] | None = None,
        reconnect_window: int | None = None,
    ) -> LiveStream:
        """PATCH /live/streams/{streamId}: metadata and reconnect window."""
        body = compact(
            {
                "metadata": dict(metadata) if metadata is not None else None,
                "reconnectWindow": reconnect_window,
            }
        )
        envelope = self._request("PATCH", _stream_path(stream_id), json=body)
        return LiveStream.from_api(self._data(envelope, "updated live stream"))

    @requires(Scope.READ_WRITE)
    def delete_live_stream(self, stream_id: str) -> None:
        """DELETE /live/streams/{streamId} (disconnects the encoder)."""
        self._request("DELETE", _stream_path(stream_id))

    @requires(Scope.READ_WRITE)
    def enable_live_stream(self, stream_id: str) -> None:
        """PUT /live/streams/{streamId}/live-enable: disabled → idle."""
        self._request("PUT", _stream_path(stream_id, "/live-enable"))

    @requires(Scope.READ_WRITE)
    def disable_live_stream(self, stream_id: str) -> None:
        """PUT /live/streams/{streamId}/live-disable."""
        self._request("PUT", _stream_path(stream_id, "/live-disable"))

    @requires(Scope.READ_WRITE)
    def finish_live_stream(self, stream_id: str) -> None:
        """PUT /live/streams/{streamId}/finish: active → idle, starts the recording."""
        self._request("PUT", _stream_path(stream_id, "/finish"))

    @requires(Scope.READ)
    def get_live_viewer_count(self, stream_id: str) -> int:
        """GET /live/streams/{streamId}/viewer-count: people watching now."""
        data = self._data(self._request("GET", _stream_path(stream_id, "/viewer-count")), "views")
        views = data.get("views") if isinstance(data, dict) else None
        if isinstance(views, bool) or not isinstance(views, int):
            raise InvalidResponseError("FastPix returned no viewer count.")
        return views

    # --- simulcast targets ---

    @requires(Scope.READ_WRITE)
    def create_simulcast(
        self,
        stream_id: str,
        *,
        url: str,
        stream_key: str,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> SimulcastTarget:
        """POST /live/streams/{streamId}/simulcast (only while the stream is idle)."""
        body = compact(
            {
                "url": url,
                "streamKey": stream_key,
                "metadata": dict(metadata) if metadata is not None else None,
            }
        )
        envelope = self._request(
            "POST",
            _stream_path(stream_id, "/simulcast"),
            json=body,
            idempotency_key=idempotency_key,
        )
        return SimulcastTarget.from_api(self._data(envelope, "simulcast target"))

    @requires(Scope.READ)
    def get_simulcast(self, stream_id: str, simulcast_id: str) -> SimulcastTarget:
        """GET /live/streams/{streamId}/simulcast/{simulcastId}."""
        envelope = self._request("GET", _simulcast_path(stream_id, simulcast_id))
        return SimulcastTarget.from_api(self._data(envelope, "simulcast target"))

    @requires(Scope.READ_WRITE)
    def update_simulcast(
        self,
        stream_id: str,
        simulcast_id: str,
        *,
        is_enabled: bool | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> SimulcastTarget:
        """PUT /live/streams/{streamId}/simulcast/{simulcastId}: enable, disable, metadata."""
        body = compact(
            {
                "isEnabled": is_enabled,
                "metadata": dict(metadata) if metadata is not None else None,
            }
        )
        envelope = self._request("PUT", _simulcast_path(stream_id, simulcast_id), json=body)
        return SimulcastTarget.from_api(self._data(envelope, "simulcast target"))

    @requires(Scope.READ_WRITE)
    def delete_simulcast(self, stream_id: str, simulcast_id: str) -> None:
        """DELETE /live/streams/{streamId}/simulcast/{simulcastId}."""
        self._request("DELETE", _simulcast_path(stream_id, simulcast_id))

    # --- playback ids ---

    @requires(Scope.READ_WRITE)
    def create_live_playback_id(
        self,
        stream_id: str,
        access_policy: str = "public",
        *,
        access_restrictions: Mapping[str, Any] | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> PlaybackId:
        """POST /live/streams/{streamId}/playback-ids."""
        body = compact(
            {
                "accessPolicy": access_policy,
                "accessRestrictions": dict(access_restrictions) if access_restrictions else None,
            }
        )
        envelope = self._request(
            "POST",
            _stream_path(stream_id, "/playback-ids"),
            json=body,
            idempotency_key=idempotency_key,
        )
        return PlaybackId.from_api(self._data(envelope, "live playback id"))

    @requires(Scope.READ)
    def get_live_playback_id(self, stream_id: str, playback_id: str) -> PlaybackId:
        """GET /live/streams/{streamId}/playback-ids/{playbackId}."""
        path = _stream_path(stream_id, f"/playback-ids/{segment(playback_id, 'playback id')}")
        return PlaybackId.from_api(self._data(self._request("GET", path), "live playback id"))

    @requires(Scope.READ_WRITE)
    def delete_live_playback_id(self, stream_id: str, playback_id: str) -> None:
        """DELETE /live/streams/{streamId}/playback-ids?playbackId=…: a query parameter."""
        segment(playback_id, "playback id")
        path = _stream_path(stream_id, "/playback-ids")
        self._request("DELETE", path, params={"playbackId": playback_id})
