"""Scrub credential material from text that may end up in logs or exception messages."""

from __future__ import annotations

import base64

from .credentials import Credentials

REDACTED = "[redacted]"


def secrets_of(credentials: Credentials) -> list[str]:
    """Every string form of ``credentials`` that must never be shown, longest first."""
    header_value = credentials.basic_auth_header()
    encoded = header_value.split(" ", 1)[1]
    candidates = {
        header_value,
        encoded,
        credentials.secret_key,
        credentials.token_id,
        # The secret alone may be echoed base64-encoded by a misbehaving proxy.
        base64.b64encode(credentials.secret_key.encode()).decode("ascii"),
    }
    return sorted((c for c in candidates if c), key=len, reverse=True)


def redact(text: str, credentials: Credentials | None) -> str:
    """``text`` with the secret, the token id and the Basic header value replaced."""
    if credentials is None or not text:
        return text
    for secret in secrets_of(credentials):
        if secret in text:
            replacement = f"…{credentials.hint}" if secret == credentials.token_id else REDACTED
            text = text.replace(secret, replacement)
    return text


def snippet(body: bytes, credentials: Credentials | None, limit: int = 200) -> str:
    """A short, redacted, printable excerpt of a response body for an error message."""
    # Redact before truncating so a secret cut in half at the limit cannot leak a prefix.
    text = redact(body[:65536].decode("utf-8", errors="replace"), credentials)
    cut = text[:limit]
    cut = " ".join(cut.split())
    return cut + "…" if len(text) > limit else cut
