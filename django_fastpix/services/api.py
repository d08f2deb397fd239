"""Calling FastPix for a workspace: pick the token, sign the call, fail over on a 401."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from cryptography.fernet import InvalidToken
from django.db import connections, router
from django.utils import timezone
from django.utils.dateparse import parse_datetime
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

# The smallest query that answers "which tokens may this workspace use now": the ranking
# happens in Python over the workspace's few active tokens. Only the table name (from _meta)
# is formatted in; values are parameters.
_ACTIVE_SQL = (
    "SELECT id, workspace_id, name, token_id, secret_key, token_id_hint, scope, status, "  # noqa: S608
    f"last_used_at, last_verified_at FROM {AccessToken._meta.db_table} "
    "WHERE workspace_id = %s AND status = %s"
)
_TOKEN_FIELDS = [
    "id",
    "workspace_id",
    "name",
    "token_id",
    "secret_key",
    "token_id_hint",
    "scope",
    "status",
    "last_used_at",
    "last_verified_at",
]
_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


@sensitive_variables()
def pick_token(
    workspace: Workspace, scope: Scope | str, *, exclude: set[int] | None = None
) -> AccessToken:
    """The least-privileged active token of ``workspace`` that may make a ``scope`` call.

    Read from the database on every call, so a token revoked or invalidated by any process is
    not used once that change has committed. The same rules and order as ``usable_for``, but
    one plain query: this runs before every API call, and building the ORM query costs several
    times more than running it (see benchmarks/client_overhead.py).
    """
    allowed = Scope.satisfying(scope)
    connection = connections[router.db_for_read(AccessToken)]
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_SQL, [workspace.pk, TokenStatus.ACTIVE.value])
        rows = cursor.fetchall()
    candidates = [r for r in rows if r[6] in allowed and not (exclude and r[0] in exclude)]
    if not candidates:
        raise NoUsableTokenError(workspace.slug, str(Scope(scope).value))
    # Least privileged first, then the most recently verified, then the oldest.
    row = min(
        candidates,
        key=lambda r: (allowed.index(Scope(r[6])), -(_aware(r[9]) or _EPOCH).timestamp(), r[0]),
    )
    return AccessToken.from_db(
        connection.alias,
        _TOKEN_FIELDS,
        [
            *row[:3],
            _decrypted(row[3]),
            _decrypted(row[4]),
            *row[5:8],
            _aware(row[8]),
            _aware(row[9]),
        ],
    )


def _aware(value: Any) -> datetime | None:
    # Raw rows: SQLite may hand back text or naive UTC datetimes, PostgreSQL aware ones.
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
        if value is None:
            return None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


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
    now = timezone.now()
    interval = timedelta(seconds=float(fastpix_settings.LAST_USED_WRITE_INTERVAL))
    if token.last_used_at is None or now - token.last_used_at >= interval:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
