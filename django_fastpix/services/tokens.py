"""Adding tokens and changing their status; every status change is audited and signalled."""

from __future__ import annotations

import logging
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import signals
from ..exceptions import DuplicateTokenError, TokenError, TokenRevokedError
from ..models import AccessToken, TokenStatus, Workspace
from ..scopes import Scope

logger = logging.getLogger(__name__)


@sensitive_variables()
def _clean_credential(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise TokenError(f"The {what} is empty.")
    if any(ch.isspace() for ch in value):
        raise TokenError(f"The {what} contains whitespace; paste it exactly as FastPix showed it.")
    return value


@sensitive_variables()
def add_token(
    *,
    workspace: Workspace,
    name: str,
    token_id: str,
    secret_key: str,
    scope: Scope | str = Scope.READ_WRITE,
    verified: bool = False,
) -> AccessToken:
    """Store a new token for ``workspace``; the pair is encrypted before it reaches the database."""
    token_id = _clean_credential(token_id, "token id")
    secret_key = _clean_credential(secret_key, "secret key")
    if not name.strip():
        raise TokenError("A token needs a name.")
    if AccessToken.objects.for_token_id(workspace, token_id).exists():
        raise DuplicateTokenError(
            f"Workspace {workspace.slug!r} already holds a token ending …{token_id[-4:]}."
        )
    token = AccessToken(
        workspace=workspace,
        name=name.strip(),
        token_id=token_id,
        secret_key=secret_key,
        scope=Scope(scope),
        last_verified_at=timezone.now() if verified else None,
    )
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError:
        # Lost a race with a concurrent add of the same token id.
        raise DuplicateTokenError(
            f"Workspace {workspace.slug!r} already holds a token ending …{token_id[-4:]}."
        ) from None
    logger.info("Added FastPix token %r (…%s) to %s", token.name, token.token_id_hint, workspace)
    _requeue_pending_media(workspace.pk)
    return token


def _requeue_pending_media(workspace_id: int) -> None:
    # Media left pending for want of a usable token go through creation again.
    from .media import requeue_pending

    requeue_pending(workspace_id)


def _change_status(
    token: AccessToken, *, to: TokenStatus, reason: str, by: str, allowed_from: list[TokenStatus]
) -> bool:
    """Move ``token`` to ``to`` if its committed status allows it; returns whether it moved."""
    now = timezone.now()
    with transaction.atomic():
        # A conditional UPDATE, not save(): the database decides, so a concurrent revoke wins.
        moved = AccessToken.objects.filter(pk=token.pk, status__in=allowed_from).update(
            status=to, status_reason=reason, status_changed_at=now, status_changed_by=by
        )
    token.refresh_from_db(
        fields=["status", "status_reason", "status_changed_at", "status_changed_by"]
    )
    return bool(moved)


def revoke_token(token: AccessToken, *, reason: str, by: str) -> bool:
    """Revoke ``token`` for good (after a leak); returns False if it already was revoked."""
    if not reason.strip():
        raise TokenError("Revoking a token needs a reason.")
    moved = _change_status(
        token,
        to=TokenStatus.REVOKED,
        reason=reason.strip(),
        by=by,
        allowed_from=[TokenStatus.ACTIVE, TokenStatus.INVALID],
    )
    if moved:
        logger.warning("FastPix token %r (…%s) revoked by %s", token.name, token.token_id_hint, by)
        transaction.on_commit(
            partial(
                signals.token_revoked.send,
                sender=AccessToken,
                token=token,
                reason=reason,
                by=by,
            )
        )
    return moved


def invalidate_token(token: AccessToken, *, reason: str, by: str) -> bool:
    """Mark ``token`` invalid (FastPix refused it, or an operator said so); a verify undoes it."""
    if token.status == TokenStatus.REVOKED:
        raise TokenRevokedError(f"{token} is revoked; it cannot be marked invalid.")
    moved = _change_status(
        token,
        to=TokenStatus.INVALID,
        reason=reason.strip() or "marked invalid",
        by=by,
        allowed_from=[TokenStatus.ACTIVE],
    )
    if token.status == TokenStatus.REVOKED:
        raise TokenRevokedError(f"{token} was revoked meanwhile; it stays revoked.")
    if moved:
        logger.warning(
            "FastPix token %r (…%s) marked invalid: %s", token.name, token.token_id_hint, reason
        )
        transaction.on_commit(
            partial(signals.token_invalidated.send, sender=AccessToken, token=token, reason=reason)
        )
    return moved
