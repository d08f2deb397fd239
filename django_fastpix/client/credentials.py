"""An access-token id and secret pair that never shows itself in logs, reprs or errors."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from django.views.decorators.debug import sensitive_variables


@dataclass(frozen=True)
class Credentials:
    """A FastPix access token: the id is the Basic-auth username, the secret the password."""

    # repr=False on both fields is a second line of defence behind __repr__ below.
    token_id: str = field(repr=False)
    secret_key: str = field(repr=False)

    @sensitive_variables()
    def __post_init__(self) -> None:
        if not isinstance(self.token_id, str) or not self.token_id:
            raise ValueError("Credentials need a non-empty token id.")
        if not isinstance(self.secret_key, str) or not self.secret_key:
            raise ValueError("Credentials need a non-empty secret key.")
        # A colon in the username would shift the split point of the Basic credentials.
        if ":" in self.token_id:
            raise ValueError("A FastPix token id cannot contain ':'.")

    @property
    def hint(self) -> str:
        """The last 4 characters of the token id, safe to log; short ids show nothing."""
        return self.token_id[-4:] if len(self.token_id) >= 8 else "****"

    @sensitive_variables()
    def basic_auth_header(self) -> str:
        """The ``Authorization`` header value: ``Basic base64(token_id:secret_key)``."""
        raw = f"{self.token_id}:{self.secret_key}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def __repr__(self) -> str:
        return f"Credentials(token …{self.hint})"

    __str__ = __repr__
