"""Live streams and their simulcast targets; stream keys are credentials, encrypted at rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.views.decorators.debug import sensitive_variables

from ..fields import EncryptedTextField, plaintext
from .workspace import Workspace


class LiveStreamStatus(models.TextChoices):
    """FastPix's live stream states; ``deleted`` is final."""

    IDLE = "idle", "Idle"
    PREPARING = "preparing", "Preparing"
    ACTIVE = "active", "Live"
    DISCONNECTED = "disconnected", "Disconnected"
    DISABLED = "disabled", "Disabled"
    DELETED = "deleted", "Deleted"

    @classmethod
    def from_fastpix(cls, value: Any) -> LiveStreamStatus | None:
        """FastPix's spelling ("Idle", "live_stream.active", "connected") → ours."""
        if not isinstance(value, str) or not value.strip():
            return None
        key = value.strip().lower().rsplit(".", 1)[-1]
        key = _ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            return None


# Event names that report a state under another word.
_ALIASES = {"connected": "preparing", "live": "active", "created": "idle", "enabled": "idle"}

_REVEAL_REMEDY = "create a new live stream (FastPix cannot reset a stream key)"


@dataclass(frozen=True)
class LivePlayback:
    """A live stream's playback id, shaped like ``PlaybackId`` for the playback signer."""

    fastpix_id: str
    access_policy: str
    workspace_id: int


class LiveStream(models.Model):
    """A FastPix live stream of one workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="live_streams")
    fastpix_id = models.CharField("FastPix stream id", max_length=64)
    title = models.CharField(max_length=200, blank=True)
    # Anyone holding it can broadcast as the site: shown once, then only through an audited
    # reveal (services.live.reveal_stream_key).
    stream_key = EncryptedTextField(editable=False)
    stream_key_hint = models.CharField(max_length=4, blank=True, editable=False)
    srt_secret = EncryptedTextField(blank=True, editable=False)
    status = models.CharField(
        max_length=20, choices=LiveStreamStatus.choices, default=LiveStreamStatus.IDLE
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # The time of the newest state event applied: an older one arriving late changes nothing.
    last_event_at = models.DateTimeField(null=True, blank=True, editable=False)
    access_policy = models.CharField(max_length=10, default="public")
    reconnect_window = models.PositiveIntegerField(default=60)
    enable_recording = models.BooleanField(default=True)
    max_resolution = models.CharField(max_length=20, blank=True)
    # [{"id": ..., "accessPolicy": "public" | "private"}, ...] as FastPix returned them.
    playback_ids = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    key_revealed_at = models.DateTimeField(null=True, blank=True, editable=False)
    key_revealed_by = models.CharField(max_length=150, blank=True, editable=False)
    created_by = models.CharField(max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "fastpix_id"], name="fastpix_live_stream_unique"
            ),
        ]
        permissions = [("reveal_stream_key", "Can reveal FastPix live stream keys")]

    def __str__(self) -> str:
        return self.title or f"live stream {self.fastpix_id}"

    def __repr__(self) -> str:
        return f"<LiveStream {self.pk}: {self.fastpix_id} {self.status}>"

    @property
    def playback(self) -> LivePlayback | None:
        """The first playback id, ready to sign (None when FastPix gave none)."""
        for entry in self.playback_ids or []:
            if isinstance(entry, dict) and entry.get("id"):
                policy = str(entry.get("accessPolicy") or "public")
                return LivePlayback(str(entry["id"]), policy, self.workspace_id)
        return None

    @property
    def playback_id(self) -> str:
        """The first playback id ('' when FastPix gave none)."""
        playback = self.playback
        return playback.fastpix_id if playback else ""

    @property
    def is_private(self) -> bool:
        """Whether its playback needs a token (the stream's policy until FastPix gave an id)."""
        playback = self.playback
        return (playback.access_policy if playback else self.access_policy) != "public"

    @property
    def is_live(self) -> bool:
        return self.status == LiveStreamStatus.ACTIVE

    @sensitive_variables()
    def stream_key_value(self) -> str:
        """The decrypted stream key; fails closed when FIELD_ENCRYPTION_KEY does not decrypt it."""
        return plaintext(
            self.stream_key, f"stream key of live stream {self.fastpix_id}", _REVEAL_REMEDY
        )

    @sensitive_variables()
    def srt_secret_value(self) -> str:
        """The decrypted SRT secret ('' if FastPix gave none); fails closed like the key.

        Only for the response that created the stream and for an audited reveal
        (``services.live.reveal_stream_key`` covers both credentials).
        """
        return plaintext(
            self.srt_secret, f"SRT secret of live stream {self.fastpix_id}", _REVEAL_REMEDY
        )


class SimulcastTarget(models.Model):
    """A platform a live stream is restreamed to; its stream key is a credential too."""

    live_stream = models.ForeignKey(
        LiveStream, on_delete=models.CASCADE, related_name="simulcast_targets"
    )
    fastpix_id = models.CharField("FastPix simulcast id", max_length=255)
    url = models.CharField("RTMP(S) URL", max_length=500)
    stream_key = EncryptedTextField(editable=False)
    stream_key_hint = models.CharField(max_length=4, blank=True, editable=False)
    is_enabled = models.BooleanField(default=True)
    status = models.CharField(max_length=30, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["live_stream", "created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["live_stream", "fastpix_id"], name="fastpix_simulcast_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"simulcast to {self.url}"

    def __repr__(self) -> str:
        return f"<SimulcastTarget {self.pk}: {self.fastpix_id}>"
