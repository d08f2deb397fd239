"""Calling FastPix for a workspace: pick the token, sign the call, fail over on a 401."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.utils import timezone

from ..client import FastPixClient, Transport, required_scope
from ..conf import fastpix_settings
from ..exceptions import AuthenticationError, NoUsableTokenError
from ..models import AccessToken, Workspace
from ..scopes import Scope
from .tokens import invalidate_token

logger = logging.getLogger(__name__)

# One failover: a 401 invalidates the token and the call is retried once with the next one.
MAX_TOKENS_PER_CALL = 2

SYSTEM_ACTOR = "system:fastpix-401"

# The columns a call needs; loading fewer keeps the per-call query small.
_TOKEN_COLUMNS = (
    "id",
    "workspace_id",
    "name",
    "token_id",
    "secret_key",
    "token_id_hint",
    "scope",
    "status",
    "last_used_at",
)


def pick_token(
    workspace: Workspace, scope: Scope | str, *, exclude: set[int] | None = None
) -> AccessToken:
    """The least-privileged active token of ``workspace`` that may make a ``scope`` call.

    Read from the database on every call, so a token revoked or invalidated by any process is
    not used once that change has committed.
    """
    tokens = AccessToken.objects.usable_for(workspace, scope).only(*_TOKEN_COLUMNS)
    if exclude:
        tokens = tokens.exclude(pk__in=exclude)
    token = tokens.first()
    if token is None:
        raise NoUsableTokenError(workspace.slug, str(Scope(scope).value))
    return token


def call(workspace: Workspace, method: str, /, *args: Any, **kwargs: Any) -> Any:
    """Run ``FastPixClient.<method>(*args, **kwargs)`` for ``workspace`` with a fitting token.

    The method's declared scope decides which tokens qualify. A 401 marks the token invalid
    (recorded, ``token_invalidated`` sent after commit) and the call is retried once with the
    next usable token. A 403, timeouts and 5xx leave every token as it is.
    """
    scope = required_scope(getattr(FastPixClient, method))
    transport = Transport.from_settings()
    tried: set[int] = set()
    token = pick_token(workspace, scope)
    while True:
        client = FastPixClient(token.credentials(), transport=transport)
        try:
            result = getattr(client, method)(*args, **kwargs)
        except AuthenticationError as exc:
            tried.add(token.pk)
            invalidate_token(
                token,
                reason=f"FastPix answered 401 to {exc.method} {exc.url}: {exc.message}",
                by=SYSTEM_ACTOR,
            )
            logger.warning(
                "FastPix rejected token %r (…%s) of %s; marked invalid",
                token.name,
                token.token_id_hint,
                workspace.slug,
            )
            if len(tried) >= MAX_TOKENS_PER_CALL:
                raise
            try:
                token = pick_token(workspace, scope, exclude=tried)
            except NoUsableTokenError:
                raise exc from None  # the 401 says more than "no other token"
            continue
        note_used(token)
        return result


def note_used(token: AccessToken) -> None:
    """Record use without a write per call: only when the stored time is older than the interval."""
    now = timezone.now()
    interval = timedelta(seconds=float(fastpix_settings.LAST_USED_WRITE_INTERVAL))
    if token.last_used_at is None or now - token.last_used_at >= interval:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
