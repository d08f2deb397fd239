"""Calling FastPix for a workspace: pick the token, sign the call, fail over on a 401."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from functools import partial
from typing import Any, Concatenate, ParamSpec, TypeVar

from cryptography.fernet import InvalidToken
from django.db import connections, router
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_variables

from ..client import FastPixClient, Page, Transport, required_permission
from ..client.credentials import token_id_problem
from ..client.pagination import MAX_PAGE_SIZE, iter_items, iter_pages
from ..conf import fastpix_settings
from ..exceptions import (
    AuthenticationError,
    NoUsableTokenError,
    TokenNoLongerUsableError,
    TokenRevokedError,
)
from ..fields import UndecryptableValue, decrypt
from ..models import AccessToken, TokenStatus, Workspace
from ..scopes import Area, Scope
from .tokens import invalidate_token

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

# One failover: a 401 invalidates the token and the call is retried once with the next one.
MAX_TOKENS_PER_CALL = 2

SYSTEM_ACTOR = "system:fastpix-401"

# The smallest query that answers "which tokens may this workspace use now": the ranking
# happens in Python over the workspace's few active tokens. Only the table name (from _meta)
# is formatted in; values are parameters.
_ACTIVE_SQL = (
    "SELECT id, workspace_id, name, token_id, secret_key, token_id_hint, scope, status, "  # noqa: S608
    "last_used_at, last_verified_at, data_scope, system_scope "
    f"FROM {AccessToken._meta.db_table} "
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
    "data_scope",
    "system_scope",
]
_MODEL_ORDER = [f.attname for f in AccessToken._meta.concrete_fields if f.attname in _TOKEN_FIELDS]
# Where each area's level sits in a row of _ACTIVE_SQL.
_AREA_COLUMN = {Area.VIDEO: 6, Area.DATA: 10, Area.SYSTEM: 11}
_STATUS_SQL = f"SELECT status FROM {AccessToken._meta.db_table} WHERE id = %s"  # noqa: S608
_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)


@sensitive_variables()
def pick_token(
    workspace: Workspace,
    scope: Scope | str,
    *,
    area: Area | str = Area.VIDEO,
    exclude: set[int] | None = None,
) -> AccessToken:
    """The least-privileged active token of ``workspace`` allowed a ``scope`` call in ``area``.

    Read from the database on every call, so a token revoked or invalidated by any process is
    not used once that change has committed. The same rules and order as ``usable_for``, but
    one plain query: this runs before every API call, and building the ORM query costs several
    times more than running it (see benchmarks/client_overhead.py).
    """
    allowed = Scope.satisfying(scope)
    # The primary, never a read replica: a replica's lag would keep a revoked token usable.
    connection = connections[router.db_for_write(AccessToken)]
    with connection.cursor() as cursor:
        cursor.execute(_ACTIVE_SQL, [workspace.pk, TokenStatus.ACTIVE.value])
        rows = cursor.fetchall()
    column = _AREA_COLUMN[Area(area)]
    candidates = [r for r in rows if r[column] in allowed and not (exclude and r[0] in exclude)]
    # Least privileged first, then the most recently verified, then the oldest.
    candidates.sort(
        key=lambda r: (
            allowed.index(Scope(r[column])),
            -(_aware(r[9]) or _EPOCH).timestamp(),
            r[0],
        )
    )
    for row in candidates:
        token_id = _decrypted(row[3])
        problem = None if isinstance(token_id, UndecryptableValue) else token_id_problem(token_id)
        if problem:
            # Stored before the one token-id rule existed; fastpix_doctor names it.
            logger.warning("Skipping FastPix token %r (#%s): %s", row[2], row[0], problem)
            continue
        values = dict(zip(_TOKEN_FIELDS, row, strict=True))
        values.update(
            token_id=token_id,
            secret_key=_decrypted(row[4]),
            last_used_at=_aware(row[8]),
            last_verified_at=_aware(row[9]),
        )
        # from_db takes a partial row in the model's field order, whatever the names' order.
        return AccessToken.from_db(
            connection.alias, _TOKEN_FIELDS, [values[name] for name in _MODEL_ORDER]
        )
    raise NoUsableTokenError(workspace.slug, str(Scope(scope).value), str(Area(area).value))


def ensure_still_usable(token: AccessToken) -> None:
    """Raise if ``token`` stopped being active since it was picked (revoked, invalid, gone).

    One primary-key read; the transport runs it before every retry, so a revoke committed
    in any process stops the next resend.
    """
    connection = connections[router.db_for_write(AccessToken)]
    with connection.cursor() as cursor:
        cursor.execute(_STATUS_SQL, [token.pk])
        row = cursor.fetchone()
    status = row[0] if row else None
    if status != TokenStatus.ACTIVE.value:
        raise TokenNoLongerUsableError(
            f"FastPix token {token.name!r} (…{token.token_id_hint}) is "
            f"{status or 'deleted'} now; its retries stop."
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


def call(
    workspace: Workspace,
    method: Callable[Concatenate[FastPixClient, P], R],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> R:
    """Run a ``FastPixClient`` method for ``workspace`` with a fitting token; its result.

    ``call(workspace, FastPixClient.create_media, url, access_policy="private")`` returns
    what ``create_media`` returns, and mypy checks the arguments against its signature. The
    method's declared scope decides which tokens qualify. A 401 marks the token invalid
    (recorded, ``token_invalidated`` sent after commit) and the call is retried once with the
    next usable token; a token revoked or invalidated by anyone during the call's retries is
    dropped the same way. A 403, timeouts and 5xx leave every token as it is. Iterating
    methods (``iter_*``) are refused: use ``pages`` or ``items``, which pick a token per page.
    """
    name = _client_method_name(method)
    area, scope = required_permission(method)
    transport = Transport.from_settings()
    tried: set[int] = set()
    token = pick_token(workspace, scope, area=area)
    while True:
        client = FastPixClient(
            token.credentials(),
            transport=transport,
            before_resend=partial(ensure_still_usable, token),
        )
        try:
            result = method(client, *args, **kwargs)
        except TokenNoLongerUsableError as exc:
            tried.add(token.pk)
            logger.warning("%s", exc)
            try:
                token = pick_token(workspace, scope, area=area, exclude=tried)
            except NoUsableTokenError:
                raise exc from None
            continue
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
                "FastPix rejected token %r (…%s) of %s in %s; marked invalid",
                token.name,
                token.token_id_hint,
                workspace.slug,
                name,
            )
            if len(tried) >= MAX_TOKENS_PER_CALL:
                raise
            try:
                token = pick_token(workspace, scope, area=area, exclude=tried)
            except NoUsableTokenError:
                raise exc from None  # the 401 says more than "no other token"
            continue
        note_used(token)
        return result


def _client_method_name(method: Callable[..., Any]) -> str:
    """The name of ``method`` if it is one of FastPixClient's API methods; else TypeError."""
    name = getattr(method, "__name__", "")
    if getattr(FastPixClient, name, None) is not method:
        raise TypeError(
            f"{method!r} is not a FastPixClient method: pass one, e.g. FastPixClient.get_media."
        )
    if name.startswith("iter_"):
        raise TypeError(
            f"{name} would keep one token for a whole iteration; use "
            "django_fastpix.services.api.pages() or items() instead."
        )
    return name


def pages(
    workspace: Workspace,
    method: Callable[Concatenate[FastPixClient, int, int, P], Page[T]],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> Iterator[Page[T]]:
    """Each page (``MAX_PAGE_SIZE`` items, FastPix's maximum) of a list method, e.g. ``list_media``.

    Every page is its own ``call``: the token is picked per page, so a revoke committed
    while a caller works through the pages stops the next page, and a 401 on a page fails
    over like any call. Arguments after ``limit`` and ``offset`` follow the method
    (``pages(ws, FastPixClient.list_media, "asc")``).
    """

    def fetch(limit: int, offset: int) -> Page[T]:
        return call(workspace, method, limit, offset, *args, **kwargs)

    yield from iter_pages(fetch, MAX_PAGE_SIZE)


def items(
    workspace: Workspace,
    method: Callable[Concatenate[FastPixClient, int, int, P], Page[T]],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> Iterator[T]:
    """The items of ``pages(...)``, each once even if a new item shifted a later page."""
    yield from iter_items(pages(workspace, method, *args, **kwargs))


def note_used(token: AccessToken) -> None:
    """Record use without a write per call: only when the stored time is older than the interval."""
    now = timezone.now()
    interval = timedelta(seconds=float(fastpix_settings.LAST_USED_WRITE_INTERVAL))
    if token.last_used_at is None or now - token.last_used_at >= interval:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
