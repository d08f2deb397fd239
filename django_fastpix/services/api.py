"""Calling FastPix for a workspace: pick the token, sign the call, fail over on a 401."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from datetime import timezone as dt_timezone
from functools import partial
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar

from cryptography.fernet import InvalidToken
from django.conf import settings
from django.db import connections, router
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_variables

from ..client import FastPixClient, Page, Transport, required_permission
from ..client.credentials import Credentials, token_id_problem
from ..client.pagination import MAX_PAGE_SIZE, iter_items, iter_pages
from ..client.transport import rate_limit_observer
from ..conf import DEFAULTS, fastpix_settings
from ..exceptions import (
    AuthenticationError,
    NoUsableTokenError,
    TokenNoLongerUsableError,
    TokenRevokedError,
)
from ..fields import UndecryptableValue, configured_keys, decrypt
from ..models import AccessToken, TokenStatus, Workspace, WorkspaceLimits
from ..scopes import Area, Scope
from . import limits
from .routes import CIPHERTEXTS_ATTR, confirm, remember
from .routes import ROUTE_TTL as ROUTE_TTL
from .routes import ROUTES as _ROUTES  # noqa: F401 (tests clear it as another process would)
from .routes import forget_routes as forget_routes
from .tokens import invalidate_token

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

# One failover: a 401 invalidates the token and the call is retried once with the next one.
MAX_TOKENS_PER_CALL = 2

SYSTEM_ACTOR = "system:fastpix-401"

# The smallest query that answers "which tokens may this workspace use now, and is the
# workspace held (a 429 pause, an open circuit)": the ranking happens in Python over the
# workspace's few active tokens, and the limits row comes along in the same indexed read, so a
# healthy call pays for one query in all. Only table names (from _meta) are formatted in;
# values are parameters.
_TOKEN_COLUMNS = (
    "t.id, t.workspace_id, t.name, t.token_id, t.secret_key, t.token_id_hint, t.scope, "
    "t.status, t.last_used_at, t.last_verified_at, t.data_scope, t.system_scope"
)
_ACTIVE_SQL = (
    f"SELECT {_TOKEN_COLUMNS} FROM {AccessToken._meta.db_table} t "  # noqa: S608
    "WHERE t.workspace_id = %s AND t.status = %s"
)
_ACTIVE_WITH_LIMITS_SQL = (
    f"SELECT {_TOKEN_COLUMNS}, "  # noqa: S608
    "l.paused_until, l.consecutive_failures, l.circuit_opened_at, l.circuit_retry_at, "
    "l.probe_until, l.pause_reason, l.last_failure "
    f"FROM {AccessToken._meta.db_table} t LEFT JOIN {WorkspaceLimits._meta.db_table} l "
    "ON l.workspace_id = t.workspace_id "
    "WHERE t.workspace_id = %s AND t.status = %s"
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
_POSITION = {name: i for i, name in enumerate(_TOKEN_FIELDS)}
# Where each area's level sits in a row of _ACTIVE_SQL.
_AREA_COLUMN = {Area.VIDEO: 6, Area.DATA: 10, Area.SYSTEM: 11}
_LIMITS_COLUMNS = slice(len(_TOKEN_FIELDS), len(_TOKEN_FIELDS) + 7)
_STATUS_SQL = f"SELECT status FROM {AccessToken._meta.db_table} WHERE id = %s"  # noqa: S608
_EPOCH = datetime(1970, 1, 1, tzinfo=dt_timezone.utc)
_ACTIVE = TokenStatus.ACTIVE.value
# The limits read by the last pick_token, kept on the token it returned (not a field).
_LIMITS_ATTR = "_fastpix_limits"
# When note_used next has to look at the clock in earnest (see there).
_USED_DUE_ATTR = "_fastpix_used_due"


class _Prepared(NamedTuple):
    """A stored pair decrypted and checked once per process (per key set and ciphertexts)."""

    token_id: str | UndecryptableValue
    secret_key: str | UndecryptableValue
    problem: str | None
    credentials: Credentials | None


# Keyed by (FIELD_ENCRYPTION_KEY keys, token-id ciphertext, secret ciphertext): a new key, a
# re-encryption or a replaced secret is a new entry, and a wrong key is never served from here.
_PREPARED: dict[tuple[tuple[str, ...], str, str], _Prepared] = {}
_PREPARED_MAX = 256


@sensitive_variables()
def _prepared(token_ct: str, secret_ct: str) -> _Prepared:
    key = (configured_keys(), token_ct, secret_ct)
    found = _PREPARED.get(key)
    if found is not None:
        return found
    token_id = _decrypted(token_ct)
    secret_key = _decrypted(secret_ct)
    problem = None if isinstance(token_id, UndecryptableValue) else token_id_problem(token_id)
    credentials = None
    usable = problem is None and not isinstance(token_id, UndecryptableValue)
    if usable and isinstance(token_id, str) and isinstance(secret_key, str) and secret_key:
        credentials = Credentials(token_id, secret_key)
    found = _Prepared(token_id, secret_key, problem, credentials)
    if len(_PREPARED) >= _PREPARED_MAX:
        _PREPARED.clear()
    _PREPARED[key] = found
    return found


def _limits_with_tokens() -> bool:
    """Whether the limits live in the database, read by the token query itself."""
    return fastpix_settings._user_settings().get("LIMITS_STORE", "database") != "cache"


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
    one plain query (which also reads the workspace's shared limits when they live in the
    database): this runs before every API call, and building the ORM query costs several
    times more than running it (see benchmarks/client_overhead.py).
    """
    allowed = Scope.satisfying(scope)
    with_limits = _limits_with_tokens()
    # The primary, never a read replica: a replica's lag would keep a revoked token usable.
    connection = connections[router.db_for_write(AccessToken)]
    with connection.cursor() as cursor:
        cursor.execute(
            _ACTIVE_WITH_LIMITS_SQL if with_limits else _ACTIVE_SQL, [workspace.pk, _ACTIVE]
        )
        rows = cursor.fetchall()
    column = _AREA_COLUMN[Area(area)]
    candidates = [r for r in rows if r[column] in allowed and not (exclude and r[0] in exclude)]
    if len(candidates) > 1:
        # Least privileged first, then the most recently verified, then the oldest.
        candidates.sort(
            key=lambda r: (
                allowed.index(Scope(r[column])),
                -(_aware(r[9]) or _EPOCH).timestamp(),
                r[0],
            )
        )
    for row in candidates:
        prepared = _prepared(row[3], row[4])
        if prepared.problem:
            # Stored before the one token-id rule existed; fastpix_doctor names it.
            logger.warning("Skipping FastPix token %r (#%s): %s", row[2], row[0], prepared.problem)
            continue
        values = list(row[: len(_TOKEN_FIELDS)])
        values[3] = prepared.token_id
        values[4] = prepared.secret_key
        values[8] = _aware(row[8])
        values[9] = _aware(row[9])
        # from_db takes a partial row in the model's field order, whatever the names' order.
        token = AccessToken.from_db(
            connection.alias, _MODEL_ORDER, [values[_POSITION[name]] for name in _MODEL_ORDER]
        )
        if with_limits:
            setattr(token, _LIMITS_ATTR, limits.state_from_row(row[_LIMITS_COLUMNS]))
        if prepared.credentials is not None:
            setattr(token, "_fastpix_credentials", prepared.credentials)  # noqa: B010
        setattr(token, CIPHERTEXTS_ATTR, (row[3], row[4]))
        return token
    raise NoUsableTokenError(workspace.slug, str(Scope(scope).value), str(Area(area).value))


@sensitive_variables()
def _credentials(token: AccessToken) -> Credentials:
    """The token's pair: prepared by pick_token, else decrypted (fails closed) now."""
    prepared = getattr(token, "_fastpix_credentials", None)
    if isinstance(prepared, Credentials):
        return prepared
    return token.credentials()


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
    name, area, scope = _described(method)
    # One read (and validation) of settings.FASTPIX for the whole call.
    configured = _configured()
    with_limits = configured.with_limits
    confirmed = confirm(workspace, area, scope, with_limits)
    if confirmed is not None:
        token, state = confirmed
    else:
        token = pick_token(workspace, scope, area=area)
        state = getattr(token, _LIMITS_ATTR, None)
        remember(workspace, area, scope, token, with_limits)
    if state is None:  # the limits live in the cache (or a pick that did not read them)
        state = limits.read(workspace)
    # Refused here, before any request, while the workspace is paused or its circuit open.
    probing = limits.admit(workspace, state) if state is not limits.EMPTY else False
    observed = rate_limit_observer.set(partial(limits.note_rate_limited, workspace))
    outcome: BaseException | None = None
    try:
        return _call_with_failover(
            workspace,
            method,
            name,
            area,
            scope,
            configured.transport,
            token,
            args,
            kwargs,
            configured.last_used_interval,
        )
    except BaseException as exc:
        outcome = exc
        raise
    finally:
        rate_limit_observer.reset(observed)
        if outcome is not None or probing or state.needs_reset:
            limits.note_outcome(workspace, state, probing, outcome)


def _call_with_failover(
    workspace: Workspace,
    method: Callable[..., R],
    name: str,
    area: Area,
    scope: Scope,
    transport: Transport,
    token: AccessToken,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    last_used_interval: float,
) -> R:
    """The body of ``call``: the request with ``token``, failing over on a 401 or a revoke."""
    tried: set[int] = set()
    while True:
        client = FastPixClient(
            _credentials(token),
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
        note_used(token, last_used_interval)
        return result


class _Configured(NamedTuple):
    """What a call needs from settings.FASTPIX, worked out once per distinct value."""

    source: Any  # settings.FASTPIX as read (compared by identity)
    snapshot: dict[str, Any]  # its items then (compared by value: an in-place change shows)
    transport: Transport
    with_limits: bool
    last_used_interval: float


_NOT_SET: dict[str, Any] = {}
_CONFIGURED: _Configured | None = None


def _configured() -> _Configured:
    """settings.FASTPIX read (and validated) for this call.

    It is read on every call, as everywhere in the app; only the validation and the values
    derived from it are reused while it is the same dict with the same items.
    """
    global _CONFIGURED
    source = getattr(settings, "FASTPIX", None) or _NOT_SET
    known = _CONFIGURED
    if known is not None and source is known.source and source == known.snapshot:
        return known
    configured = fastpix_settings._user_settings()  # raises for unknown keys
    known = _Configured(
        source,
        dict(configured),
        Transport.from_settings(configured),
        configured.get("LIMITS_STORE", DEFAULTS["LIMITS_STORE"]) != "cache",
        float(configured.get("LAST_USED_WRITE_INTERVAL", DEFAULTS["LAST_USED_WRITE_INTERVAL"])),
    )
    _CONFIGURED = known
    return known


# The area and level of each FastPixClient method passed to call(), by name, once checked.
_DESCRIBED: dict[str, tuple[Callable[..., Any], Area, Scope]] = {}


def _described(method: Callable[..., Any]) -> tuple[str, Area, Scope]:
    """``method``'s name, area and level; the errors of _client_method_name otherwise."""
    name = getattr(method, "__name__", None)
    if isinstance(name, str):
        known = _DESCRIBED.get(name)
        # Still the class's own attribute: a method patched away since is checked again.
        if known is not None and known[0] is method and getattr(FastPixClient, name) is method:
            return name, known[1], known[2]
    name = _client_method_name(method)
    area, scope = required_permission(method)
    _DESCRIBED[name] = (method, area, scope)
    return name, area, scope


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


def note_used(token: AccessToken, interval: float | None = None) -> None:
    """Record use without a write per call: only when the stored time is older than the interval.

    ``interval``: FASTPIX["LAST_USED_WRITE_INTERVAL"] if the caller has read it.
    """
    seconds = float(fastpix_settings.LAST_USED_WRITE_INTERVAL if interval is None else interval)
    # The epoch second from which a write is due, kept on the token with the stored time and
    # the interval it was worked out for (a route's token serves many calls).
    due = getattr(token, _USED_DUE_ATTR, None)
    if (
        due is not None
        and due[0] is token.last_used_at
        and due[1] == seconds
        and time.time() < due[2]
    ):
        return
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= seconds:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    stamp = token.last_used_at
    setattr(token, _USED_DUE_ATTR, (stamp, seconds, stamp.timestamp() + seconds))
