"""Verifying a token against FastPix with a cheap read the token is allowed to make.

Which read depends on what the token was granted (see ``probe_area``): video tokens list one
media, tokens granted System but no Video list one signing key. A token granted only Data
(analytics) cannot be checked: no endpoint this app calls accepts it, so no request is sent
and the token is stored or reported as "not verified" instead of failing (a Data-only grant
is legitimate; refusing to store it would leave no way to record it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
    NoUsableTokenError,
    PermissionDeniedError,
    ServerError,
    TokenRevokedError,
    TransportError,
)
from ..models import AccessToken, TokenStatus
from ..scopes import Area, Scope
from .tokens import invalidate_token

logger = logging.getLogger(__name__)


# An operator is waiting on a form: no retries, and a short read timeout.
INTERACTIVE_READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class Probe:
    """The cheapest read a token granted one area may make, and what a 403 to it means."""

    request: str
    denied: str
    run: Callable[[FastPixClient], object]


PROBES: dict[Area, Probe] = {
    Area.VIDEO: Probe(
        "GET /on-demand?limit=1", "read media", lambda c: c.list_media(limit=1, offset=1)
    ),
    Area.SYSTEM: Probe(
        "GET /iam/signing-keys?limit=1",
        "read signing keys",
        lambda c: c.list_signing_keys(limit=1, offset=1),
    ),
}

NOT_PROBED = (
    "Not verified: the token is granted Data (analytics) permission only, and no FastPix "
    "endpoint this app calls accepts such a token, so nothing was sent to check it."
)


def probe_area(
    video: Scope | str, system: Scope | str = Scope.NONE, data: Scope | str = Scope.NONE
) -> Area | None:
    """The area whose read checks a token with these grants; None if none can (Data only).

    Video first: it is what nearly every token is for. ``data`` is accepted so callers pass
    a token's whole grant; it never decides, since no probe exists for it.
    """
    if Scope(video) != Scope.NONE:
        return Area.VIDEO
    if Scope(system) != Scope.NONE:
        return Area.SYSTEM
    return None


def token_probe_area(token: AccessToken) -> Area | None:
    """``probe_area`` of a stored token's recorded permissions."""
    return probe_area(token.scope, token.system_scope, token.data_scope)


@sensitive_variables()
def verify_credentials(token_id: str, secret_key: str, *, area: Area | str = Area.VIDEO) -> None:
    """Check a pair before it is stored with the read ``area`` allows; raises the API error.

    ``GET /on-demand?limit=1`` for video, ``GET /iam/signing-keys?limit=1`` for system (see
    ``probe_area``). Used while an operator waits (the admin add form), so it neither
    retries nor waits long.
    """
    probe = PROBES[Area(area)]  # KeyError for Data: callers check probe_area first
    shared = Transport.from_settings()
    transport = Transport(
        shared.base_url,
        connect_timeout=shared.connect_timeout,
        read_timeout=min(shared.read_timeout, INTERACTIVE_READ_TIMEOUT),
        max_retries=0,
        user_agent=shared.user_agent,
    )
    try:
        probe.run(FastPixClient(Credentials(token_id, secret_key), transport=transport))
    finally:
        transport.close()


@sensitive_variables()
def pair_problem(
    token_id: str, secret_key: str, *, unverified_hint: str, area: Area | str = Area.VIDEO
) -> str | None:
    """Ask FastPix about a pair before it is stored: None if it was accepted, else why not.

    ``area`` picks the probe (``probe_area``). ``unverified_hint`` says how this caller
    stores a pair without verifying it (a form's checkbox, a command's option); the messages
    name no character of the pair.
    """
    try:
        verify_credentials(token_id, secret_key, area=area)
    except AuthenticationError:
        return (
            "FastPix rejected this token id / secret key (401). Check both values and that the "
            "token has not been deleted in the FastPix dashboard."
        )
    except PermissionDeniedError:
        return (
            f"FastPix accepted the pair but it may not {PROBES[Area(area)].denied} (403): check "
            f"the permissions it was created with, or {unverified_hint}."
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
    # No request was possible (a Data-only token): neither a success nor a failure.
    unverifiable: bool = False


@sensitive_variables("credentials")
def verify_token(token: AccessToken, *, by: str = "system") -> VerifyResult:
    """Ask FastPix whether the pair works (the read ``probe_area`` picks) and record the answer.

    Success stamps ``last_verified_at`` and is the only way an invalid token returns to active;
    a 401 marks an active token invalid; network faults and 5xx change nothing. A Data-only
    token sends nothing and comes back ``unverifiable``.
    """
    # The database decides, not the loaded copy: it may have been revoked since it was read.
    if token.status == TokenStatus.REVOKED or AccessToken.objects.revoked_in_database(token.pk):
        raise TokenRevokedError(f"{token} is revoked; a revoked token is never used again.")
    area = token_probe_area(token)
    if area is None:
        return VerifyResult(token, False, NOT_PROBED, unverifiable=True)
    probe = PROBES[area]
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
        probe.run(client)
    except AuthenticationError as exc:
        invalidated = invalidate_token(
            token, reason=f"verify: FastPix answered 401 ({exc.message})", by=by
        )
        return VerifyResult(
            token, False, "FastPix rejected the token id / secret (401).", invalidated=invalidated
        )
    except PermissionDeniedError:
        return VerifyResult(
            token,
            False,
            f"The token is valid but may not {probe.denied} (403): check the permissions "
            "recorded for it against the FastPix dashboard.",
        )
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


def permission_hint(exc: BaseException) -> str:
    """What to do when a call failed for lack of a permission ("" if that was not the cause).

    Looks through the causes (a service wraps the API error in its own): a 403 means the
    recorded permissions claim more than FastPix granted; no usable token means none is
    recorded with what the call needs.
    """
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, PermissionDeniedError):
            return (
                "FastPix refused the token this site recorded as allowed (403): check its "
                "permissions in the FastPix dashboard and record what it really has (the "
                "token's admin page, or `manage.py fastpix_token permissions ID`)."
            )
        if isinstance(cause, NoUsableTokenError):
            return (
                f"If a stored token was granted {cause.area} permission in the FastPix "
                "dashboard, record it (the token's admin page, or `manage.py fastpix_token "
                f"permissions ID --{cause.area} {cause.scope}`)."
            )
        cause = cause.__cause__
    return ""
