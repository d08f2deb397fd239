"""The per-process route: which token a (workspace, area, scope) call goes out with.

``services.api.call`` ranks a workspace's tokens once (``pick_token``) and keeps the winner here
for ``ROUTE_TTL`` seconds. Revocation does not wait for that: every call confirms the route in
one indexed primary-key read (``confirm``) that returns the token's status, its level in the
call's area, its workspace and its stored ciphertexts, compared here in Python, and whether
its workspace's limits row holds anything. Any difference drops the route and the call ranks
afresh. Only a preference can lag by ``ROUTE_TTL``: a less-privileged token added by another
process is preferred once the route runs out (at once in the process that added it: the token
signals and saves clear the routes).
"""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple

from django.db import connections, router
from django.db.models.signals import post_delete, post_save

from .. import signals
from ..models import AccessToken, TokenStatus, Workspace, WorkspaceLimits
from ..scopes import AREA_FIELDS, Area, Scope
from . import limits

# How long a process keeps the token it ranked first before ranking again (see above: only a
# preference can lag by this much, never a revoke).
ROUTE_TTL = 5.0

# The ciphertexts the last pick_token read for a token, so that its route can be confirmed.
CIPHERTEXTS_ATTR = "_fastpix_ciphertexts"

_ACTIVE = TokenStatus.ACTIVE.value
_TOKENS = AccessToken._meta.db_table

# Whether the workspace's limits row holds anything (a pause, failures counted, a circuit set):
# NULL without a row. Only then is the whole row read (and an ended pause dropped from it, see
# limits.admit). A scalar subquery on the limits' primary key: PostgreSQL plans it in about
# half the time of a join, and the ciphertexts come back as columns to compare here rather
# than going out as parameters. Only table and column names (from _meta and AREA_FIELDS) are
# formatted in here; the two primary keys are added by _sql.
_HELD = (
    "(SELECT l.paused_until IS NOT NULL OR l.circuit_opened_at IS NOT NULL "  # noqa: S608
    f"OR l.consecutive_failures > 0 FROM {WorkspaceLimits._meta.db_table} l "
    "WHERE l.workspace_id = %s)"
)
_CONFIRM_SQL = {
    (area, with_limits): (
        f"SELECT t.status, t.{column}, t.workspace_id, t.token_id, t.secret_key"  # noqa: S608
        f"{', ' + _HELD if with_limits else ''} FROM {_TOKENS} t WHERE t.id = %s"
    )
    for area, column in AREA_FIELDS.items()
    for with_limits in (True, False)
}


def _sql(
    area: Area, with_limits: bool, keys: tuple[Any, ...]
) -> tuple[str, tuple[Any, ...] | None]:
    """The confirming query of one route and its parameters.

    Integer keys (the default auto fields) are written into the text as literals: the query
    is built once per route, and a query without parameters skips the driver's parameter
    handling (about 5 µs a call on PostgreSQL and on SQLite). Anything else stays a parameter.
    """
    sql = _CONFIRM_SQL[area, with_limits]
    if all(type(key) is int for key in keys):
        return sql % keys, None
    return sql, keys


class Route(NamedTuple):
    token: AccessToken
    token_ct: str
    secret_ct: str
    # The levels that satisfy the call's scope, as plain strings (what the row holds).
    allowed: frozenset[str]
    with_limits: bool
    sql: str
    params: tuple[Any, ...] | None
    expires: float


ROUTES: dict[tuple[int, Area, Scope], Route] = {}
_LOCK = threading.Lock()


def forget_routes(**_: Any) -> None:
    """Drop every cached route (a token was added, verified, invalidated, revoked, saved)."""
    with _LOCK:
        ROUTES.clear()


for _signal in (
    signals.token_added,
    signals.token_verified,
    signals.token_invalidated,
    signals.token_revoked,
):
    _signal.connect(forget_routes, weak=False, dispatch_uid=f"fastpix-routes-{id(_signal)}")
post_save.connect(forget_routes, sender=AccessToken, weak=False, dispatch_uid="fastpix-routes-save")
post_delete.connect(
    forget_routes, sender=AccessToken, weak=False, dispatch_uid="fastpix-routes-delete"
)


def confirm(
    workspace: Workspace, area: Area, scope: Scope, with_limits: bool
) -> tuple[AccessToken, limits.LimitsState | None] | None:
    """The cached route's token if one indexed read confirms it, and the limits read with it.

    None when there is no live route or the row changed in any way that matters (status,
    level, workspace, either ciphertext: a revoke, an invalidation, a key rotation or a
    replaced secret committed by any process); the route is dropped then.
    """
    key = (workspace.pk, area, scope)
    route = ROUTES.get(key)
    if route is None or route.expires < time.monotonic() or route.with_limits is not with_limits:
        return None
    # The primary, never a read replica: a replica's lag would keep a revoked token usable.
    with connections[router.db_for_write(AccessToken)].cursor() as cursor:
        cursor.execute(route.sql, route.params)
        row = cursor.fetchone()
    if (
        row is None
        or row[0] != _ACTIVE
        or row[1] not in route.allowed
        or row[2] != workspace.pk
        or row[3] != route.token_ct
        or row[4] != route.secret_ct
    ):
        with _LOCK:
            if ROUTES.get(key) is route:
                del ROUTES[key]
        return None
    if not with_limits:
        return route.token, None
    if not row[5]:  # no limits row, or nothing set in it
        return route.token, limits.EMPTY
    return route.token, limits.read(workspace)  # held, counting or an old pause: the whole row


def remember(
    workspace: Workspace, area: Area, scope: Scope, token: AccessToken, with_limits: bool
) -> None:
    """Keep ``token`` (just returned by ``pick_token``) as the route of these calls."""
    ciphertexts = getattr(token, CIPHERTEXTS_ATTR, None)
    if ciphertexts is None:  # not from pick_token's query (a test's stand-in)
        return
    sql, params = _sql(area, with_limits, (workspace.pk, token.pk) if with_limits else (token.pk,))
    route = Route(
        token,
        ciphertexts[0],
        ciphertexts[1],
        frozenset(level.value for level in Scope.satisfying(scope)),
        with_limits,
        sql,
        params,
        time.monotonic() + ROUTE_TTL,
    )
    with _LOCK:
        ROUTES[(workspace.pk, area, scope)] = route
