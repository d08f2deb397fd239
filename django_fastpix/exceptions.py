"""One exception tree rooted at FastPixError; configuration problems live outside it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured


class FastPixError(Exception):
    """Base of every error the app raises about FastPix or its tokens."""


# --- configuration (deliberately not FastPixError: retrying will not help) ---


class EncryptionKeyError(ImproperlyConfigured):
    """FIELD_ENCRYPTION_KEY is missing, malformed, or does not decrypt a stored value."""


class UndecryptableValueError(EncryptionKeyError):
    """A stored encrypted value cannot be decrypted with the configured keys."""


# --- tokens ---


class TokenError(FastPixError):
    """A problem with the app's stored access tokens."""


class NoUsableTokenError(TokenError):
    """No active token in the workspace has the scope a call needs."""

    def __init__(self, workspace: str, scope: str, area: str = "video") -> None:
        self.workspace = workspace
        self.scope = scope
        self.area = area
        super().__init__(
            f"No usable FastPix access token for workspace {workspace!r} with {area} "
            f"permission {scope!r}: add one granted it in the FastPix dashboard "
            f"(manage.py fastpix_token add --{area} {scope}), or verify an invalid one."
        )


class TokenRevokedError(TokenError):
    """A revoked token was asked to change state; revocation is irreversible."""


class TokenNoLongerUsableError(TokenError):
    """The token was revoked, invalidated or deleted while a call was using it."""


class DuplicateTokenError(TokenError):
    """The workspace already holds a token with this token id."""


class MediaStateError(FastPixError):
    """The local media is in no state for what was asked (refresh before creation, retry of a
    media that is not failed or pending): no request was made."""


class CreationVetoed(FastPixError):
    """Raised by a ``media_creating`` receiver to stop a media's creation (with the reason)."""


class SigningKeyError(FastPixError):
    """No signing key can sign a playback token (none active, or FastPix would not make one)."""


class UploadError(FastPixError):
    """A browser upload could not be started, cancelled or linked (the message says why)."""


class UploadContextError(UploadError):
    """A signed upload context was tampered with, expired or names something gone."""


class WebhookNotApplicable(Exception):
    """An authentic event this app cannot apply (stored, answered 2xx, marked ignored)."""


class LiveStreamError(FastPixError):
    """A live stream operation failed (FastPix refused, or the local state forbids it)."""


class SyncInProgressError(FastPixError):
    """Another sync of the same workspace is running (in this or another process)."""

    def __init__(self, workspace: str, until: Any = None) -> None:
        self.workspace = workspace
        self.until = until
        held = f" (its hold runs until {until:%Y-%m-%d %H:%M:%S %Z})" if until else ""
        super().__init__(
            f"A sync of workspace {workspace!r} is already running{held}; "
            "this one did nothing. Try again when it has finished."
        )


# --- API and transport ---


class FastPixAPIError(FastPixError):
    """FastPix answered with an error status; carries status, code, message and the request."""

    status: int | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | str | None = None,
        description: str | None = None,
        fields: list[dict[str, Any]] | None = None,
        method: str | None = None,
        url: str | None = None,
        token_hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        if status is not None:
            self.status = status
        self.code = code
        self.message = message
        self.description = description
        self.fields = fields or []
        self.method = method
        self.url = url
        self.token_hint = token_hint
        self.retry_after = retry_after
        super().__init__(message)

    def __str__(self) -> str:
        parts = [f"FastPix {self.status}: {self.message}"]
        if self.description:
            parts.append(f"({self.description})")
        if self.fields:
            parts.append(
                "fields: " + "; ".join(f"{f.get('field')}: {f.get('message')}" for f in self.fields)
            )
        if self.method and self.url:
            parts.append(f"[{self.method} {self.url}]")
        if self.token_hint:
            parts.append(f"token …{self.token_hint}")
        return " ".join(parts)


class BadRequestError(FastPixAPIError):
    """400: FastPix refused the request (plan limits, state conflicts)."""

    status = 400


class AuthenticationError(FastPixAPIError):
    """401: the token id / secret pair was not accepted."""

    status = 401


class PermissionDeniedError(FastPixAPIError):
    """403: the token is valid but lacks the permission for this call."""

    status = 403


class NotFoundError(FastPixAPIError):
    """404: the resource does not exist in this token's workspace."""

    status = 404


class ConflictError(FastPixAPIError):
    """409: the request conflicts with existing data."""

    status = 409


class InvalidPayloadError(FastPixAPIError):
    """422: FastPix rejected the payload; ``fields`` lists what was wrong."""

    status = 422


class RateLimitedError(FastPixAPIError):
    """429: too many requests; ``retry_after`` holds FastPix's wait, if it sent one."""

    status = 429


class WorkspaceLimitedError(RateLimitedError):
    """No request was made: the workspace is paused after a 429 (seen by any process) or its
    circuit is open after repeated failures. Transient: try again after ``retry_after``.
    ``status`` stays 429 (what a caller handling rate limits expects); FastPix sent nothing."""

    def __init__(self, workspace: str, state: str, retry_after: float, detail: str = "") -> None:
        self.workspace = workspace
        self.state = state  # "paused", "circuit open" or "probing"
        super().__init__(
            f"FastPix calls for workspace {workspace!r} are held locally ({state}"
            f"{': ' + detail if detail else ''}); no request was made. "
            f"Try again in {retry_after:.1f}s.",
            retry_after=retry_after,
        )

    def __str__(self) -> str:
        return self.message


class ServerError(FastPixAPIError):
    """5xx: FastPix failed; says nothing about the token."""


class TransportError(FastPixError):
    """The request did not get an HTTP answer (timeout, reset, DNS, TLS)."""

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None) -> None:
        self.method = method
        self.url = url
        super().__init__(f"{message} [{method} {url}]" if method else message)


class RequestTimeoutError(TransportError):
    """No complete answer within the configured timeout."""


class ConnectionFailedError(TransportError):
    """The connection could not be made or was dropped."""


class InvalidResponseError(FastPixError):
    """FastPix answered 2xx with a body the client cannot parse."""


STATUS_ERRORS: dict[int, type[FastPixAPIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidPayloadError,
    429: RateLimitedError,
}


def error_class_for(status: int) -> type[FastPixAPIError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return STATUS_ERRORS.get(status, FastPixAPIError)
