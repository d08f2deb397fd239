"""An access-token id and secret pair that never shows itself in logs, reprs or errors."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from django.views.decorators.debug import sensitive_variables

# FastPix token ids are UUID-like; 255 is the widest any column or header here must hold.
TOKEN_ID_MAX_LENGTH = 255
# The most of a token id ever shown (the AccessToken.token_id_hint column is this wide).
HINT_MAX_LENGTH = 4


def token_id_problem(token_id: object) -> str | None:
    """Why ``token_id`` cannot be a FastPix token id (None if it can): the one rule for all.

    The service, the commands, the admin form, ``Credentials`` and the token pick all apply
    this, so a value one of them accepts never breaks another. It names no character of the
    value: an id pasted into the wrong field may be a secret.
    """
    if not isinstance(token_id, str) or not token_id:
        return "The token id is empty."
    if len(token_id) > TOKEN_ID_MAX_LENGTH:
        return f"The token id is longer than {TOKEN_ID_MAX_LENGTH} characters."
    if any(ch.isspace() for ch in token_id):
        return "The token id contains whitespace; paste it exactly as FastPix showed it."
    if ":" in token_id:
        # HTTP Basic splits username and password at the first colon.
        return "The token id contains ':', which no FastPix token id has."
    if not token_id.isascii() or not token_id.isprintable():
        return "The token id contains control or non-ASCII characters."
    return None


def secret_key_problem(secret_key: object) -> str | None:
    """Why ``secret_key`` cannot be a FastPix secret key (None if it can); names no character."""
    if not isinstance(secret_key, str) or not secret_key:
        return "The secret key is empty."
    if any(ch.isspace() for ch in secret_key):
        return "The secret key contains whitespace; paste it exactly as FastPix showed it."
    # NUL and other control or format characters are never part of a FastPix secret: they come
    # from a broken paste or pipe, and PostgreSQL cannot store a NUL in a text column at all.
    if not secret_key.isprintable():
        return "The secret key contains control characters."
    return None


def token_id_hint(token_id: str) -> str:
    """The end of a token id that may be shown: at most 4 characters, at most a quarter of it.

    The quarter bound keeps a short id from being shown whole (or nearly): a 4-character id
    shows 1 character, an 8-character one 2, and ids of 16 characters or more show 4.
    """
    shown = min(HINT_MAX_LENGTH, len(token_id) // 4)
    return token_id[len(token_id) - shown :]


@dataclass(frozen=True)
class Credentials:
    """A FastPix access token: the id is the Basic-auth username, the secret the password."""

    # repr=False on both fields is a second line of defence behind __repr__ below.
    token_id: str = field(repr=False)
    secret_key: str = field(repr=False)

    @sensitive_variables()
    def __post_init__(self) -> None:
        problem = token_id_problem(self.token_id)
        if problem:
            raise ValueError(problem)
        if not isinstance(self.secret_key, str) or not self.secret_key:
            raise ValueError("Credentials need a non-empty secret key.")

    @property
    def hint(self) -> str:
        """The end of the token id that is safe to log (see ``token_id_hint``)."""
        return token_id_hint(self.token_id)

    @sensitive_variables()
    def basic_auth_header(self) -> str:
        """The ``Authorization`` header value: ``Basic base64(token_id:secret_key)``."""
        raw = f"{self.token_id}:{self.secret_key}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def __repr__(self) -> str:
        return f"Credentials(token …{self.hint})"

    __str__ = __repr__
