"""The app's own signals, each sent after the transaction that caused it commits."""

from __future__ import annotations

from django.dispatch import Signal

# FastPix answered 401 for a token, which is now marked invalid.
# Arguments: sender=AccessToken, token (AccessToken), reason (str).
token_invalidated = Signal()

# An operator revoked a token; it will never be used again.
# Arguments: sender=AccessToken, token (AccessToken), reason (str), by (str).
token_revoked = Signal()

# A verify call succeeded; an invalid token returned to active if it was.
# Arguments: sender=AccessToken, token (AccessToken), reactivated (bool).
token_verified = Signal()
