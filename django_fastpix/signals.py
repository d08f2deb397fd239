"""The app's own signals, each sent after the transaction that caused it commits (except
``media_creating``, sent before a create call so that site code can veto it)."""

from __future__ import annotations

from django.dispatch import Signal

# A token was added to a workspace (media pending for want of one are queued again).
# Arguments: sender=AccessToken, token (AccessToken).
token_added = Signal()

# FastPix answered 401 for a token, which is now marked invalid.
# Arguments: sender=AccessToken, token (AccessToken), reason (str).
token_invalidated = Signal()

# An operator revoked a token; it will never be used again.
# Arguments: sender=AccessToken, token (AccessToken), reason (str), by (str).
token_revoked = Signal()

# A verify call succeeded; an invalid token returned to active if it was.
# Arguments: sender=AccessToken, token (AccessToken), reactivated (bool).
token_verified = Signal()

# About to ask FastPix to create a media (sent before every create call, NOT after commit:
# it is how site code vetoes a creation). A receiver that raises CreationVetoed stops it and
# the media is marked failed with the veto's reason.
# Arguments: sender=Media, media (Media).
media_creating = Signal()

# FastPix assigned an id to a local media (creation succeeded or was reconciled).
# Arguments: sender=Media, media (Media).
media_created = Signal()

# A media reached Ready: it can be played.
# Arguments: sender=Media, media (Media).
media_ready = Signal()

# A media failed (refused before any call, refused by FastPix, or failed processing).
# Arguments: sender=Media, media (Media), reason (str).
media_failed = Signal()

# A media was deleted in FastPix.
# Arguments: sender=Media, media (Media).
media_deleted = Signal()

# A new webhook delivery was stored (duplicates are not re-sent).
# Arguments: sender=WebhookEvent, event (WebhookEvent).
webhook_received = Signal()
