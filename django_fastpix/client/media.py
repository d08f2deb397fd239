"""On-demand endpoints: media, direct uploads and media playback ids."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..scopes import Scope
from .base import BaseClient, IdempotencyKey, compact, list_params, requires, segment
from .pagination import MAX_PAGE_SIZE, iter_items, iter_pages
from .types import DirectUpload, Media, Page, PlaybackId

Inputs = str | Mapping[str, Any] | Sequence[Mapping[str, Any]]


def _inputs(inputs_or_url: Inputs) -> list[dict[str, Any]]:
    """A plain URL becomes the single video input FastPix expects."""
    if isinstance(inputs_or_url, str):
        if not inputs_or_url.strip():
            raise ValueError("create_media needs a source URL or a list of inputs.")
        return [{"type": "video", "url": inputs_or_url}]
    if isinstance(inputs_or_url, Mapping):
        return [dict(inputs_or_url)]
    inputs = [dict(item) for item in inputs_or_url]
    if not inputs:
        raise ValueError("create_media needs at least one input.")
    return inputs


def _media_settings(
    access_policy: str,
    metadata: Mapping[str, str] | None,
    title: str | None,
    creator_id: str | None,
    max_resolution: str | None,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """The options a media is created with, shared by create-from-URL and direct upload."""
    return compact(
        {
            "accessPolicy": access_policy,
            "metadata": dict(metadata) if metadata is not None else None,
            "title": title,
            "creatorId": creator_id,
            "maxResolution": max_resolution,
        },
        extra,
    )


_BROWSER_CLIENT = {"X-Client-Type": "web-browser"}


class MediaEndpoints(BaseClient):
    """``/on-demand``: media from URLs and direct uploads, their playback ids."""

    # --- media ---

    @requires(Scope.READ_WRITE)
    def create_media(
        self,
        inputs_or_url: Inputs,
        *,
        access_policy: str = "public",
        metadata: Mapping[str, str] | None = None,
        title: str | None = None,
        creator_id: str | None = None,
        max_resolution: str | None = None,
        idempotency_key: IdempotencyKey = None,
        **extra: Any,
    ) -> Media:
        """POST /on-demand: create a media pulled from a URL (extra options as keywords)."""
        body = {
            "inputs": _inputs(inputs_or_url),
            **_media_settings(access_policy, metadata, title, creator_id, max_resolution, extra),
        }
        envelope = self._request("POST", "/on-demand", json=body, idempotency_key=idempotency_key)
        return Media.from_api(self._data(envelope, "created media"))

    @requires(Scope.READ)
    def get_media(self, media_id: str) -> Media:
        """GET /on-demand/{mediaId} (an upload id is accepted too)."""
        envelope = self._request("GET", f"/on-demand/{segment(media_id, 'media id')}")
        return Media.from_api(self._data(envelope, "media"))

    @requires(Scope.READ)
    def list_media(self, limit: int = 10, offset: int = 1, order_by: str = "desc") -> Page[Media]:
        """GET /on-demand: one page of media (``offset`` is the 1-based page number)."""
        envelope = self._request("GET", "/on-demand", params=list_params(limit, offset, order_by))
        return Page.from_envelope(envelope, Media.from_api, limit=limit, offset=offset)

    @requires(Scope.READ)
    def iter_media_pages(
        self, page_size: int = MAX_PAGE_SIZE, order_by: str = "desc"
    ) -> Iterator[Page[Media]]:
        """Every page of media, for callers that bulk-process a page at a time."""
        return iter_pages(lambda limit, offset: self.list_media(limit, offset, order_by), page_size)

    @requires(Scope.READ)
    def iter_media(self, page_size: int = MAX_PAGE_SIZE, order_by: str = "desc") -> Iterator[Media]:
        """Every media in the workspace, across pages, each once."""
        return iter_items(self.iter_media_pages(page_size, order_by))

    @requires(Scope.READ_WRITE)
    def update_media(
        self,
        media_id: str,
        *,
        metadata: Mapping[str, str] | None = None,
        title: str | None = None,
        creator_id: str | None = None,
    ) -> Media:
        """PATCH /on-demand/{mediaId}: metadata (replaced as a whole), title, creator id."""
        body = compact(
            {
                "metadata": dict(metadata) if metadata is not None else None,
                "title": title,
                "creatorId": creator_id,
            }
        )
        envelope = self._request("PATCH", f"/on-demand/{segment(media_id, 'media id')}", json=body)
        return Media.from_api(self._data(envelope, "updated media"))

    @requires(Scope.READ_WRITE)
    def delete_media(self, media_id: str) -> None:
        """DELETE /on-demand/{mediaId} (irreversible)."""
        self._request("DELETE", f"/on-demand/{segment(media_id, 'media id')}")

    # --- direct uploads ---

    @requires(Scope.READ_WRITE)
    def create_direct_upload(
        self,
        cors_origin: str = "*",
        *,
        access_policy: str = "public",
        metadata: Mapping[str, str] | None = None,
        title: str | None = None,
        creator_id: str | None = None,
        max_resolution: str | None = None,
        idempotency_key: IdempotencyKey = None,
        browser: bool = False,
        **extra: Any,
    ) -> DirectUpload:
        """POST /on-demand/upload: a signed URL the browser PUTs the file to.

        ``browser=True`` sends ``X-Client-Type: web-browser``, which asks FastPix for a
        resumable URL (the one ``@fastpix/resumable-uploads`` starts a session on).
        """
        settings = _media_settings(
            access_policy, metadata, title, creator_id, max_resolution, extra
        )
        body = {"corsOrigin": cors_origin, "pushMediaSettings": settings}
        envelope = self._request(
            "POST",
            "/on-demand/upload",
            json=body,
            idempotency_key=idempotency_key,
            headers=_BROWSER_CLIENT if browser else None,
        )
        return DirectUpload.from_api(self._data(envelope, "direct upload"))

    @requires(Scope.READ_WRITE)
    def cancel_upload(self, upload_id: str) -> DirectUpload:
        """PUT /on-demand/upload/{uploadId}/cancel."""
        path = f"/on-demand/upload/{segment(upload_id, 'upload id')}/cancel"
        return DirectUpload.from_api(self._data(self._request("PUT", path), "cancelled upload"))

    @requires(Scope.READ)
    def list_uploads(
        self, limit: int = 10, offset: int = 1, order_by: str = "desc"
    ) -> Page[DirectUpload]:
        """GET /on-demand/uploads: one page of upload URLs not used yet."""
        params = list_params(limit, offset, order_by)
        envelope = self._request("GET", "/on-demand/uploads", params=params)
        return Page.from_envelope(envelope, DirectUpload.from_api, limit=limit, offset=offset)

    @requires(Scope.READ)
    def iter_uploads(self, page_size: int = MAX_PAGE_SIZE) -> Iterator[DirectUpload]:
        """Every unused upload, across pages."""
        pages = iter_pages(lambda limit, offset: self.list_uploads(limit, offset), page_size)
        return iter_items(pages)

    # --- playback ids ---

    @requires(Scope.READ_WRITE)
    def create_playback_id(
        self,
        media_id: str,
        access_policy: str = "public",
        *,
        access_restrictions: Mapping[str, Any] | None = None,
        drm_configuration_id: str | None = None,
        resolution: str | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> PlaybackId:
        """POST /on-demand/{mediaId}/playback-ids."""
        body = compact(
            {
                "accessPolicy": access_policy,
                "accessRestrictions": dict(access_restrictions) if access_restrictions else None,
                "drmConfigurationId": drm_configuration_id,
                "resolution": resolution,
            }
        )
        path = f"/on-demand/{segment(media_id, 'media id')}/playback-ids"
        envelope = self._request("POST", path, json=body, idempotency_key=idempotency_key)
        return PlaybackId.from_api(self._data(envelope, "playback id"))

    @requires(Scope.READ)
    def list_playback_ids(self, media_id: str) -> list[PlaybackId]:
        """GET /on-demand/{mediaId}/playback-ids."""
        path = f"/on-demand/{segment(media_id, 'media id')}/playback-ids"
        data = self._data(self._request("GET", path), "playback ids")
        return [PlaybackId.from_api(item) for item in (data if isinstance(data, list) else [])]

    @requires(Scope.READ)
    def get_playback_id(self, media_id: str, playback_id: str) -> PlaybackId:
        """GET /on-demand/{mediaId}/playback-ids/{playbackId}."""
        path = (
            f"/on-demand/{segment(media_id, 'media id')}"
            f"/playback-ids/{segment(playback_id, 'playback id')}"
        )
        return PlaybackId.from_api(self._data(self._request("GET", path), "playback id"))

    @requires(Scope.READ_WRITE)
    def delete_playback_id(self, media_id: str, playback_id: str) -> None:
        """DELETE /on-demand/{mediaId}/playback-ids?playbackId=…: the id is a query parameter."""
        segment(playback_id, "playback id")
        path = f"/on-demand/{segment(media_id, 'media id')}/playback-ids"
        self._request("DELETE", path, params={"playbackId": playback_id})
