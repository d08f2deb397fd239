"""The app's own signals, each sent after the transaction that caused it commits (except
``media_creating``, sent before a create call so that site code can veto it)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

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

# A playback signing key was created through FastPix (explicitly, on first need or by a
# rotation). Arguments: sender=SigningKey, signing_key (SigningKey).
signing_key_created = Signal()

# A workspace's signing key was rotated: signing_key signs new tokens; the keys in retiring
# keep validating tokens already handed out until they expire.
# Arguments: sender=SigningKey, signing_key (SigningKey), retiring (list[SigningKey]).
signing_key_rotated = Signal()

# A signing key was revoked (after a leak): it signs nothing more and is deleted in FastPix.
# Arguments: sender=SigningKey, signing_key (SigningKey), reason (str).
signing_key_revoked = Signal()

# A browser upload was started: FastPix made its signed URL (handed to the browser, not here).
# Arguments: sender=Upload, upload (Upload).
upload_created = Signal()

# An upload's file became a FastPix media, now linked to the upload (and to the upload's site
# object's video field, if it named one). Sent once per upload, whatever order events came in.
# Arguments: sender=Upload, upload (Upload), media (Media).
upload_linked = Signal()

# An upload was cancelled (from the site, the admin or FastPix) before its file arrived.
# Arguments: sender=Upload, upload (Upload).
upload_cancelled = Signal()

# An upload ended without a media: it timed out in FastPix or FastPix reported an error.
# Arguments: sender=Upload, upload (Upload), reason (str).
upload_failed = Signal()

# A live stream was created through FastPix (its key is stored encrypted).
# Arguments: sender=LiveStream, live_stream (LiveStream).
live_stream_created = Signal()

# A live stream's state changed (from a webhook, a refresh or an operator's action).
# Arguments: sender=LiveStream, live_stream (LiveStream), previous (str), status (str).
live_stream_state_changed = Signal()

# Someone was shown a live stream's key (an audited reveal).
# Arguments: sender=LiveStream, live_stream (LiveStream), by (str).
stream_key_revealed = Signal()

# A new webhook delivery was stored (duplicates are not re-sent).
# Arguments: sender=WebhookEvent, event (WebhookEvent).
webhook_received = Signal()


def send_after_commit(signal: Signal, sender: Any, **kwargs: Any) -> None:
    """Send ``signal`` once the current transaction commits (at once outside one).

    Every receiver runs even if another raises, and a receiver's exception is logged, never
    raised: the app's own work (a webhook answered, a task finished) has already committed
    and must not be reported as failed because of site code listening to it.
    """
    transaction.on_commit(partial(_send_robust, signal, sender, kwargs))


def _send_robust(signal: Signal, sender: Any, kwargs: dict[str, Any]) -> None:
    for receiver, result in signal.send_robust(sender=sender, **kwargs):
        if isinstance(result, Exception):
            logger.error(
                "A receiver of a django_fastpix signal failed: %r raised %s: %s",
                receiver,
                type(result).__name__,
                result,
                exc_info=result,
            )
