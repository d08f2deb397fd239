"""``FastPixClient``: every endpoint group behind one credential pair."""

from __future__ import annotations

from .live import LiveEndpoints
from .media import MediaEndpoints
from .signing_keys import SigningKeyEndpoints


class FastPixClient(MediaEndpoints, LiveEndpoints, SigningKeyEndpoints):
    """A typed FastPix API client for one access token; methods declare their scope."""
