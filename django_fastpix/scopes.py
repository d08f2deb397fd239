"""Permission scopes a FastPix access token can be granted, shared by models and client."""

from __future__ import annotations

from django.db import models


class Scope(models.TextChoices):
    """What a token was granted in FastPix; every client method declares the one it needs."""

    READ = "read", "Read only"
    READ_WRITE = "read_write", "Read and write"

    @classmethod
    def satisfying(cls, needed: Scope | str) -> list[Scope]:
        """Scopes that allow a call needing ``needed``, least privileged first."""
        needed = cls(needed)
        if needed == cls.READ:
            return [cls.READ, cls.READ_WRITE]
        return [cls.READ_WRITE]
