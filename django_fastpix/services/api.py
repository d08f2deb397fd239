"""Calling FastPix for a workspace: pick the token, sign the call, fail over on a 401."""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta
from typing import Any

from cryptography.fernet import InvalidToken
from django.db import connections, router
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ..client import FastPixClient, Transport, required_scope
from ..conf import fastpix_settings
from ..exceptions import AuthenticationError, NoUsableTokenError, TokenRevokedError
from ..fields import UndecryptableValue, decrypt
from ..models import AccessToken, TokenStatus, Workspace
from ..scopes import Scope
from .tokens import invalidate_token

logger = logging.getLogger(__name__)

# One failover: a 401 invalidates the token and the call is retried once with the next one.
MAX_TOKENS_PER_CALL = 2

SYSTEM_ACTOR = "system:fastpix-401"

# Only the table name (from _meta) and placeholders are formatted in; values are parameters.
_USABLE_SQL = (
    "SELECT id, workspace_id, name, token_id, secret_key, token_id_hint, scope, status, "  # noqa: S608
    "CASE WHEN last_used_at IS NULL OR last_used_at < %s THEN 1 ELSE 0 END "
    f"FROM {AccessToken._meta.db_table} "
    "WHERE workspace_id = %s AND status = %s AND scope IN ({scopes}) "
    # Least privileged first, then the most recently verified, then the oldest.
    "ORDER BY CASE scope {ranks} END, last_verified_at IS NULL, last_verified_at DESC, id"
)
_USABLE_FIELDS = [
    "id",
    "workspace_id",
    "name",
    "token_id",
    "secret_key",
    "token_id_hint",
    "scope",
    "status",
]


@sensitive_variables()
def pick_token(
    workspace: Workspace, scope: Scope | str, *, exclude: set[int] | None = None
) -> AccessToken:
    """The least-privileged active token of ``workspace`` that may make a ``scope`` call.

    Read from the database on every call, so a token revoked or invalidated by any process is
    not used once that change has committed. The same rules as ``usable_for``, in plain SQL:
    this runs before every API call, and building the ORM query costs several times more than
    running it (see benchmarks/client_overhead.py).
    """
    allowed = Scope.satisfying(scope)
    connection = connections[router.db_for_read(AccessToken)]
    cutoff = timezone.now() - timedelta(seconds=float(fastpix_settings.LAST_USED_WRITE_INTERVAL))
    sql = _USABLE_SQL.format(
        scopes=", ".join(["%s"] * len(allowed)),
        ranks=" ".join("WHEN %s THEN %s" for _ in allowed),
    )
    params: list[Any] = [
        connection.ops.adapt_datetimefield_value(cutoff),
        workspace.pk,
        TokenStatus.ACTIVE.value,
        *(s.value for s in allowed),
    ]
    for rank, allowed_scope in enumerate(allowed):
        params += [allowed_scope.value, rank]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for row in rows:
        if exclude and row[0] in exclude:
            continue
        token = AccessToken.from_db(
            connection.alias,
            _USABLE_FIELDS,
            [*row[:3], _decrypted(row[3]), _decrypted(row[4]), *row[5:8]],
        )
        token._needs_last_used = bool(row[8])  # type: ignore[attr-defined]
        return token
    raise NoUsableTokenError(workspace.slug, str(Scope(scope).value))


@sensitive_variables()
def _decrypted(ciphertext: str) -> str | UndecryptableValue:
    # As EncryptedTextField.from_db_value would: a wrong key fails closed at credentials().
    try:
        return decrypt(ciphertext)
    except InvalidToken:
        return UndecryptableValue(ciphertext)


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
            # Revoked meanwhile (the leak case): it stays revoked, and the failover goes on.
            with contextlib.suppress(TokenRevokedError):
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
    if getattr(token, "_needs_last_used", True):
        now = timezone.now()
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        token._needs_last_used = False  # type: ignore[attr-defined]
