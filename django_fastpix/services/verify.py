"""Verifying a token against FastPix with a cheap read."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import signals
from ..client import Credentials, FastPixClient, Transport
from ..exceptions import (
    AuthenticationError,
    FastPixAPIError,
    FastPixError,
    PermissionDeniedError,
    ServerError,
    TokenRevokedError,
    TransportError,
)
from ..models import AccessToken, TokenStatus
from .tokens import invalidate_token

logger = logging.getLogger(__name__)


# An operator is waiting on a form: no retries, and a short read timeout.
INTERACTIVE_READ_TIMEOUT = 10.0


@sensitive_variables()
def verify_credentials(token_id: str, secret_key: str) -> None:
    """Check a pair before it is stored (``GET /on-demand?limit=1``); raises the API error if not.

    Used while an operator waits (the admin add form), so it neither retries nor waits long.
    """
    shared = Transport.from_settings()
    transport = Transport(
        shared.base_url,
        connect_timeout=shared.connect_timeout,
        read_timeout=min(shared.read_timeout, INTERACTIVE_READ_TIMEOUT),
        max_retries=0,
        user_agent=shared.user_agent,
    )
    try:
        FastPixClient(Credentials(token_id, secret_key), transport=transport).list_media(
            limit=1, offset=1
        )
    finally:
        transport.close()


@sensitive_variables()
def pair_problem(token_id: str, secret_key: str, *, unverified_hint: str) -> str | None:
    """Ask FastPix about a pair before it is stored: None if it was accepted, else why not.

    ``unverified_hint`` says how this caller stores a pair without verifying it (a form's
    checkbox, a command's option); the messages name no character of the pair.
    """
    try:
        verify_credentials(token_id, secret_key)
    except AuthenticationError:
        return (
            "FastPix rejected this token id / secret key (401). Check both values and that the "
            "token has not been deleted in the FastPix dashboard."
        )
    except PermissionDeniedError:
        return (
            "FastPix accepted the pair but it may not read media (403): check the permissions "
            f"it was created with, or {unverified_hint}."
        )
    except (TransportError, ServerError) as exc:
        return (
            f"FastPix could not be reached to verify the token ({type(exc).__name__}). "
            f"Try again, or {unverified_hint}."
        )
    except FastPixAPIError as exc:
        return (
            f"FastPix did not accept the verification request ({exc.status}: {exc.message}); "
            f"{unverified_hint}."
        )
    except FastPixError as exc:
        return f"The token could not be verified ({type(exc).__name__}); {unverified_hint}."
    return None


@dataclass(frozen=True)
class VerifyResult:
    """What a verify found: ok, or why not, and whether the token's status changed."""

    token: AccessToken
    ok: bool
    detail: str
    reactivated: bool = False
    invalidated: bool = False


@sensitive_variables("credentials")
def verify_token(token: AccessToken, *, by: str = "system") -> VerifyResult:
    """Ask FastPix whether the pair works (``GET /on-demand?limit=1``) and record the answer.

    Success stamps ``last_verified_at`` and is the only way an invalid token returns to active;
    a 401 marks an active token invalid; network faults and 5xx change nothing.
    """
    # The database decides, not the loaded copy: it may have been revoked since it was read.
    if token.status == TokenStatus.REVOKED or AccessToken.objects.revoked_in_database(token.pk):
        raise TokenRevokedError(f"{token} is revoked; a revoked token is never used again.")
    try:
        credentials = token.credentials()
    except ValueError as exc:
        # Stored before today's input rules (e.g. an id with ':'): no request could carry it.
        # The message is token_id_problem's, which names no character of the id.
        return VerifyResult(token, False, f"{exc} Revoke this token and add it again.")
    # Retries re-check the token like every service call: a revoke during them stops them.
    client = FastPixClient(
        credentials,
        transport=Transport.from_settings(),
        before_resend=partial(_not_revoked, token),
    )
    try:
        client.list_media(limit=1, offset=1)
    except AuthenticationError as exc:
        invalidated = invalidate_token(
            token, reason=f"verify: FastPix answered 401 ({exc.message})", by=by
        )
        return VerifyResult(
            token, False, "FastPix rejected the token id / secret (401).", invalidated=invalidated
        )
    except PermissionDeniedError:
        return VerifyResult(token, False, "The token is valid but may not read media (403).")
    except TokenRevokedError:
        return VerifyResult(token, False, "The token was revoked meanwhile; it stays revoked.")
    except FastPixError as exc:
        return VerifyResult(token, False, f"FastPix could not be asked: {exc}")

    now = timezone.now()
    with transaction.atomic():
        AccessToken.objects.filter(pk=token.pk).exclude(status=TokenStatus.REVOKED).update(
            last_verified_at=now
        )
        # Back to active only from invalid, and never past a revoke committed meanwhile.
        reactivated = bool(
            AccessToken.objects.filter(pk=token.pk, status=TokenStatus.INVALID).update(
                status=TokenStatus.ACTIVE,
                status_reason="verified",
                status_changed_at=now,
                status_changed_by=by,
            )
        )
    token.refresh_from_db()
    signals.send_after_commit(
        signals.token_verified, sender=AccessToken, token=token, reactivated=reactivated
    )
    if token.status == TokenStatus.REVOKED:
        return VerifyResult(token, False, "The token was revoked meanwhile; it stays revoked.")
    logger.info("FastPix token %r (…%s) verified", token.name, token.token_id_hint)
    return VerifyResult(token, True, "FastPix accepted the token.", reactivated=reactivated)


def _not_revoked(token: AccessToken) -> None:
    # Before each retry of a verify: an invalid token may be verified (that is how it comes
    # back), a token revoked meanwhile may not be sent again.
    if AccessToken.objects.revoked_in_database(token.pk):
        raise TokenRevokedError(f"{token} was revoked during the verify; it stays revoked.")
