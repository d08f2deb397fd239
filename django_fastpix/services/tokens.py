"""Adding tokens and changing their status; every status change is audited and signalled."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import signals
from ..client.credentials import secret_key_problem, token_id_hint, token_id_problem
from ..exceptions import (
    DuplicateTokenError,
    TokenError,
    TokenRevokedError,
    UndecryptableValueError,
)
from ..models import AccessToken, TokenStatus, Workspace
from ..scopes import Scope

logger = logging.getLogger(__name__)


@sensitive_variables()
def _clean_credential(value: str, problem_of: Callable[[object], str | None]) -> str:
    # Surrounding whitespace is a paste artefact; anything else the rule refuses is an error
    # whose message names no character of the value (it may be a secret in the wrong field).
    value = value.strip() if isinstance(value, str) else value
    problem = problem_of(value)
    if problem:
        raise TokenError(problem)
    return value


@sensitive_variables()
def add_token(
    *,
    workspace: Workspace,
    name: str,
    token_id: str,
    secret_key: str,
    scope: Scope | str = Scope.READ_WRITE,
    data_scope: Scope | str = Scope.NONE,
    system_scope: Scope | str = Scope.NONE,
    verified: bool = False,
) -> AccessToken:
    """Store a new token for ``workspace``; the pair is encrypted before it reaches the database.

    ``scope`` is what FastPix granted it for video, ``data_scope`` and ``system_scope`` for
    the other areas (system covers playback signing keys).
    """
    token_id = _clean_credential(token_id, token_id_problem)
    secret_key = _clean_credential(secret_key, secret_key_problem)
    if not name.strip():
        raise TokenError("A token needs a name.")
    if existing_token(workspace, token_id) is not None:
        raise _duplicate(workspace, token_id)
    token = AccessToken(
        workspace=workspace,
        name=name.strip(),
        token_id=token_id,
        secret_key=secret_key,
        scope=Scope(scope),
        data_scope=Scope(data_scope),
        system_scope=Scope(system_scope),
        last_verified_at=timezone.now() if verified else None,
    )
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError:
        # Lost a race with a concurrent add of the same token id.
        raise _duplicate(workspace, token_id) from None
    logger.info("Added FastPix token %r (…%s) to %s", token.name, token.token_id_hint, workspace)
    signals.send_after_commit(signals.token_added, sender=AccessToken, token=token)
    return token


@sensitive_variables()
def clean_pair(token_id: str, secret_key: str) -> tuple[str, str]:
    """The pair as ``add_token`` stores it, or the TokenError it would raise (before any call)."""
    return (
        _clean_credential(token_id, token_id_problem),
        _clean_credential(secret_key, secret_key_problem),
    )


@sensitive_variables()
def existing_token(workspace: Workspace, token_id: str) -> AccessToken | None:
    """The workspace's stored token with this id, whatever its status (found by digest)."""
    return AccessToken.objects.for_token_id(workspace, token_id).order_by("pk").first()


@sensitive_variables()
def _duplicate(workspace: Workspace, token_id: str) -> DuplicateTokenError:
    existing = existing_token(workspace, token_id)
    if existing is None:  # deleted meanwhile: the hint of the id given is all there is to say
        return DuplicateTokenError(
            f"Workspace {workspace.slug!r} already holds a token ending …{token_id_hint(token_id)}."
        )
    return DuplicateTokenError(duplicate_message(existing))


def duplicate_message(existing: AccessToken) -> str:
    """Why a token id cannot be added again: the row holding it, its status, and what to do."""
    reason = f" ({existing.status_reason})" if existing.status_reason else ""
    message = (
        f"Workspace {existing.workspace.slug!r} already holds this token id as token "
        f"#{existing.pk} {existing.name!r} (…{existing.token_id_hint}), "
        f"{existing.status}{reason}."
    )
    if existing.status == TokenStatus.REVOKED:
        return (
            f"{message} A revoked token id is never stored again: create a new token in FastPix "
            "and add that one."
        )
    return (
        f"{message} To store a new secret key for it, run the same `manage.py fastpix_token "
        "add` with --replace: the pair is verified with FastPix, then replaces the stored "
        "secret key (an invalid token becomes active again). `fastpix_token verify "
        f"{existing.pk}` rechecks the stored pair as it is."
    )


@sensitive_variables()
def replace_secret_key(
    token: AccessToken, secret_key: str, *, verified: bool, by: str
) -> AccessToken:
    """Store a new secret key for ``token`` (re-adding its id); never for a revoked token.

    ``verified`` (FastPix accepted the new pair) also makes an invalid token active, as a
    successful verify does, and stamps ``last_verified_at``.
    """
    secret_key = _clean_credential(secret_key, secret_key_problem)
    now = timezone.now()
    with transaction.atomic():
        # Locked and re-read: a revoke committed meanwhile wins, and is never undone here.
        current = AccessToken.objects.select_for_update().get(pk=token.pk)
        if current.status == TokenStatus.REVOKED:
            raise TokenRevokedError(duplicate_message(current))
        current.secret_key = secret_key
        fields = ["secret_key"]
        reactivated = verified and current.status == TokenStatus.INVALID
        if verified:
            current.last_verified_at = now
            fields.append("last_verified_at")
        if reactivated:
            current.status = TokenStatus.ACTIVE
            current.status_reason = "secret key replaced and verified"
            current.status_changed_at = now
            current.status_changed_by = by
            fields += ["status", "status_reason", "status_changed_at", "status_changed_by"]
        current.save(update_fields=fields)
    logger.info(
        "Replaced the secret key of FastPix token %r (…%s) in %s",
        current.name,
        current.token_id_hint,
        current.workspace,
    )
    if verified:
        signals.send_after_commit(
            signals.token_verified, sender=AccessToken, token=current, reactivated=reactivated
        )
    return current


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
        signals.send_after_commit(
            signals.token_revoked, sender=AccessToken, token=token, reason=reason, by=by
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
        signals.send_after_commit(
            signals.token_invalidated, sender=AccessToken, token=token, reason=reason
        )
    return moved


# --- the stored pairs, for a local fake FastPix ---


@dataclass(frozen=True)
class StoredPair:
    """A decrypted token of this site, for registering with a local fake FastPix."""

    workspace: str
    label: str
    scope: str
    data_scope: str
    system_scope: str
    token_id: str = field(repr=False)
    secret_key: str = field(repr=False)


@sensitive_variables()
def pairs_for_fake() -> tuple[list[StoredPair], list[str]]:
    """Every active token usable as a pair, by workspace slug; and one line per token skipped.

    A stored row may predate today's rules (an id with ':' was once accepted) or not decrypt
    with the configured keys: it is skipped with its name, hint and reason, never its id.
    """
    pairs: list[StoredPair] = []
    skipped: list[str] = []
    tokens = AccessToken.objects.active().select_related("workspace").order_by("pk")
    for token in tokens:
        label = f"#{token.pk} {token}"
        try:
            credentials = token.credentials()
        except UndecryptableValueError:
            skipped.append(f"Skipped token {label}: it cannot be decrypted.")
            continue
        except ValueError as exc:
            # Credentials applies token_id_problem, whose messages name no character.
            skipped.append(f"Skipped token {label}: {exc}")
            continue
        pairs.append(
            StoredPair(
                workspace=token.workspace.slug,
                label=label,
                scope=str(token.scope),
                data_scope=str(token.data_scope),
                system_scope=str(token.system_scope),
                token_id=credentials.token_id,
                secret_key=credentials.secret_key,
            )
        )
    return pairs, skipped
