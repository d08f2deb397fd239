"""The app's models; querysets live beside their models."""

from .limits import WorkspaceLimits
from .live import LiveStream, LiveStreamStatus, SimulcastTarget
from .media import Media, MediaStatus, PlaybackId
from .signing_key import SigningKey, SigningKeyQuerySet, SigningKeyStatus
from .token import AccessToken, AccessTokenQuerySet, TokenStatus
from .upload import Upload, UploadQuerySet, UploadStatus
from .webhook import DONE_OUTCOMES, WebhookEvent, WebhookOutcome
from .workspace import Environment, Workspace

__all__ = [
    "DONE_OUTCOMES",
    "AccessToken",
    "AccessTokenQuerySet",
    "Environment",
    "LiveStream",
    "LiveStreamStatus",
    "Media",
    "MediaStatus",
    "PlaybackId",
    "SigningKey",
    "SigningKeyQuerySet",
    "SigningKeyStatus",
    "SimulcastTarget",
    "TokenStatus",
    "Upload",
    "UploadQuerySet",
    "UploadStatus",
    "WebhookEvent",
    "WebhookOutcome",
    "Workspace",
    "WorkspaceLimits",
]
