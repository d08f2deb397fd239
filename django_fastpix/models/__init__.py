"""The app's models; querysets live beside their models."""

from .media import Media, MediaStatus, PlaybackId
from .signing_key import SigningKey, SigningKeyQuerySet, SigningKeyStatus
from .token import AccessToken, AccessTokenQuerySet, TokenStatus
from .webhook import WebhookEvent, WebhookOutcome
from .workspace import Environment, Workspace

__all__ = [
    "AccessToken",
    "AccessTokenQuerySet",
    "Environment",
    "Media",
    "MediaStatus",
    "PlaybackId",
    "SigningKey",
    "SigningKeyQuerySet",
    "SigningKeyStatus",
    "TokenStatus",
    "WebhookEvent",
    "WebhookOutcome",
    "Workspace",
]
