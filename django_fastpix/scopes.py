"""Permissions a FastPix access token can be granted, shared by models and client.

FastPix grants a token a level per product area (the dashboard's "Video: read / read and
write", "Data: read", "System"). Every client method declares the area and level it needs;
a call never goes out under a token that lacks them.
"""

from __future__ import annotations

from django.db import models


class Area(models.TextChoices):
    """A product area FastPix grants permissions for."""

    VIDEO = "video", "Video (media, uploads, playback ids, live streams)"
    DATA = "data", "Data (analytics)"
    SYSTEM = "system", "System (playback signing keys)"


class Scope(models.TextChoices):
    """The level a token was granted in one area."""

    NONE = "none", "No access"
    READ = "read", "Read only"
    READ_WRITE = "read_write", "Read and write"

    @classmethod
    def satisfying(cls, needed: Scope | str) -> list[Scope]:
        """Levels that allow a call needing ``needed``, least privileged first."""
        needed = cls(needed)
        if needed == cls.NONE:
            return [cls.NONE, cls.READ, cls.READ_WRITE]
        if needed == cls.READ:
            return [cls.READ, cls.READ_WRITE]
        return [cls.READ_WRITE]


# The AccessToken column that holds each area's level. The video column keeps its historic
# name ``scope``: rows stored before areas existed were all video tokens.
AREA_FIELDS: dict[Area, str] = {
    Area.VIDEO: "scope",
    Area.DATA: "data_scope",
    Area.SYSTEM: "system_scope",
}
