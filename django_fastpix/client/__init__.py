"""HTTP client for the FastPix API: transport, typed endpoint methods, parsed responses."""

from __future__ import annotations

from .api import FastPixClient
from .base import required_permission, required_scope, requires
from .credentials import Credentials
from .pagination import iter_items, iter_pages
from .transport import RETRYABLE_STATUSES, Transport
from .types import (
    DirectUpload,
    LiveStream,
    Media,
    Page,
    PlaybackId,
    SigningKey,
    SimulcastTarget,
)

__all__ = [
    "RETRYABLE_STATUSES",
    "Credentials",
    "DirectUpload",
    "FastPixClient",
    "LiveStream",
    "Media",
    "Page",
    "PlaybackId",
    "SigningKey",
    "SimulcastTarget",
    "Transport",
    "iter_items",
    "iter_pages",
    "required_permission",
    "required_scope",
    "requires",
]
