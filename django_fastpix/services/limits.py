"""Per-workspace limits shared by every process: a 429 pause and a circuit breaker.

A 429 from FastPix pauses the workspace's calls in every process for its ``Retry-After``; a
run of ``CIRCUIT_FAILURE_THRESHOLD`` calls failing with 5xx, a timeout or a connection error
opens the workspace's circuit: calls are refused locally (no request) for
``CIRCUIT_COOLDOWN_SECONDS``, then exactly one probe call is let through (claimed atomically,
so two processes never both probe); its success closes the circuit, its failure reopens it.

The state lives where every worker sees it (``FASTPIX["LIMITS_STORE"]``): rows of
``WorkspaceLimits`` changed by conditional UPDATEs ("database", the default; the service
layer learns whether anything is set in it from the same query that confirms the token, so a
healthy call pays no query of its own, and an ended pause is dropped), or a
shared cache alias ("cache": atomic ``add``/``incr``; Redis or Memcached, never a per-process
cache). A refused call raises ``WorkspaceLimitedError`` (a ``RateLimitedError`` carrying
``retry_after``), which background work treats as transient and reschedules.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any, Protocol

from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..conf import fastpix_settings
from ..exceptions import (
    FastPixAPIError,
    ServerError,
    TransportError,
    WorkspaceLimitedError,
)
from ..models import Workspace, WorkspaceLimits

logger = logging.getLogger(__name__)

STORES = ("database", "cache")
# Pause for a 429 that carries no Retry-After.
DEFAULT_PAUSE = 1.0
CLOSED, OPEN, HALF_OPEN, PROBING = "closed", "open", "half-open", "probing"


@dataclass(frozen=True)
class LimitsState:
    """One workspace's shared limits as last read; ``EMPTY`` when nothing limits it."""

    paused_until: datetime | None = None
    pause_reason: str = ""
    consecutive_failures: int = 0
    last_failure: str = ""
    circuit_opened_at: datetime | None = None
    circuit_retry_at: datetime | None = None
    probe_until: datetime | None = None

    def circuit(self, now: datetime) -> str:
        """closed, open (cooling), half-open (a probe may go) or probing (one is under way)."""
        if self.circuit_opened_at is None:
            return CLOSED
        if self.circuit_retry_at is not None and now < self.circuit_retry_at:
            return OPEN
        if self.probe_until is not None and now < self.probe_until:
            return PROBING
        return HALF_OPEN

    def paused(self, now: datetime) -> bool:
        return self.paused_until is not None and now < self.paused_until

    @property
    def needs_reset(self) -> bool:
        """Whether a success has anything to clear (failures counted or a circuit set)."""
        return bool(self.consecutive_failures) or self.circuit_opened_at is not None


EMPTY = LimitsState()


def aware(value: Any) -> datetime | None:
    """A datetime from a raw row (SQLite: text or naive UTC; PostgreSQL: aware) or epoch."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=dt_timezone.utc)
    if isinstance(value, str):
        value = parse_datetime(value)
        if value is None:
            return None
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt_timezone.utc)
    return value


def state_from_row(row: tuple[Any, ...]) -> LimitsState:
    """The state from the limits columns of the token query (see services.api)."""
    paused, failures, opened, retry_at, probe, pause_reason, last_failure = row
    if paused is None and not failures and opened is None:
        return EMPTY
    return LimitsState(
        paused_until=aware(paused),
        pause_reason=pause_reason or "",
        consecutive_failures=int(failures or 0),
        last_failure=last_failure or "",
        circuit_opened_at=aware(opened),
        circuit_retry_at=aware(retry_at),
        probe_until=aware(probe),
    )


def state_of(row: WorkspaceLimits) -> LimitsState:
    """The state a loaded ``WorkspaceLimits`` row holds."""
    return LimitsState(
        paused_until=row.paused_until,
        pause_reason=row.pause_reason,
        consecutive_failures=row.consecutive_failures,
        last_failure=row.last_failure,
        circuit_opened_at=row.circuit_opened_at,
        circuit_retry_at=row.circuit_retry_at,
        probe_until=row.probe_until,
    )


# --- settings ---


def store_name() -> str:
    """The configured store, validated."""
    name = str(fastpix_settings.LIMITS_STORE)
    if name not in STORES:
        raise ImproperlyConfigured(
            f"FASTPIX['LIMITS_STORE'] is {name!r}; it must be one of {', '.join(STORES)}."
        )
    return name


def threshold() -> int:
    return max(1, int(fastpix_settings.CIRCUIT_FAILURE_THRESHOLD))


def cooldown() -> timedelta:
    return timedelta(seconds=max(0.0, float(fastpix_settings.CIRCUIT_COOLDOWN_SECONDS)))


def probe_lease() -> timedelta:
    """How long a probe's claim holds: one attempt's timeouts, and a second to spare."""
    seconds = float(fastpix_settings.CONNECT_TIMEOUT) + float(fastpix_settings.READ_TIMEOUT)
    return timedelta(seconds=seconds + 1.0)


# --- stores ---


class Store(Protocol):
    """Where the limits of every workspace live; each change is atomic across processes."""

    def read(self, workspace_id: int) -> LimitsState: ...
    def pause(self, workspace_id: int, until: datetime, reason: str) -> None: ...
    def record_failure(self, workspace_id: int, reason: str, now: datetime) -> bool: ...
    def reopen(self, workspace_id: int, reason: str, now: datetime) -> None: ...
    def record_success(self, workspace_id: int) -> None: ...
    def claim_probe(self, workspace_id: int, now: datetime) -> bool: ...
    def release_probe(self, workspace_id: int) -> None: ...
    def clear(self, workspace_id: int) -> None: ...
    def forget_pause(self, workspace_id: int, until: datetime) -> None: ...


class DatabaseStore:
    """Rows of ``WorkspaceLimits`` (created on first need), changed by conditional UPDATEs."""

    def read(self, workspace_id: int) -> LimitsState:
        row = (
            WorkspaceLimits.objects.filter(pk=workspace_id)
            .values_list(
                "paused_until",
                "consecutive_failures",
                "circuit_opened_at",
                "circuit_retry_at",
                "probe_until",
                "pause_reason",
                "last_failure",
            )
            .first()
        )
        return EMPTY if row is None else state_from_row(row)

    def _update(self, workspace_id: int, condition: models.Q | None, **values: Any) -> int:
        """One conditional UPDATE; the row is created first if the workspace has none."""
        values["updated_at"] = timezone.now()
        query = WorkspaceLimits.objects.filter(pk=workspace_id)
        if condition is not None:
            query = query.filter(condition)
        updated = query.update(**values)
        if updated or WorkspaceLimits.objects.filter(pk=workspace_id).exists():
            return updated
        # get_or_create survives a concurrent insert of the same row.
        WorkspaceLimits.objects.get_or_create(pk=workspace_id)
        return query.update(**values)

    def pause(self, workspace_id: int, until: datetime, reason: str) -> None:
        # Never shortens a longer pause another process recorded.
        longer = models.Q(paused_until__isnull=True) | models.Q(paused_until__lt=until)
        self._update(workspace_id, longer, paused_until=until, pause_reason=reason[:255])

    def record_failure(self, workspace_id: int, reason: str, now: datetime) -> bool:
        opens = models.Q(circuit_opened_at__isnull=True, consecutive_failures__gte=threshold() - 1)
        self._update(
            workspace_id,
            None,
            # Every right-hand side reads the row as it was before this UPDATE.
            consecutive_failures=models.F("consecutive_failures") + 1,
            last_failure=reason[:255],
            circuit_opened_at=models.Case(
                models.When(opens, then=models.Value(now)),
                default=models.F("circuit_opened_at"),
            ),
            circuit_retry_at=models.Case(
                models.When(opens, then=models.Value(now + cooldown())),
                default=models.F("circuit_retry_at"),
            ),
        )
        return self.read(workspace_id).circuit_opened_at == now

    def reopen(self, workspace_id: int, reason: str, now: datetime) -> None:
        self._update(
            workspace_id,
            None,
            consecutive_failures=models.F("consecutive_failures") + 1,
            last_failure=reason[:255],
            circuit_opened_at=Coalesce(models.F("circuit_opened_at"), models.Value(now)),
            circuit_retry_at=now + cooldown(),
            probe_until=None,
        )

    def record_success(self, workspace_id: int) -> None:
        WorkspaceLimits.objects.filter(pk=workspace_id).update(
            consecutive_failures=0,
            circuit_opened_at=None,
            circuit_retry_at=None,
            probe_until=None,
            updated_at=timezone.now(),
        )

    def claim_probe(self, workspace_id: int, now: datetime) -> bool:
        # One UPDATE decides: of all processes asking at once, exactly one sees a row changed.
        free = models.Q(probe_until__isnull=True) | models.Q(probe_until__lte=now)
        return bool(
            WorkspaceLimits.objects.filter(
                free,
                pk=workspace_id,
                circuit_opened_at__isnull=False,
                circuit_retry_at__lte=now,
            ).update(probe_until=now + probe_lease(), updated_at=now)
        )

    def release_probe(self, workspace_id: int) -> None:
        WorkspaceLimits.objects.filter(pk=workspace_id).update(probe_until=None)

    def forget_pause(self, workspace_id: int, until: datetime) -> None:
        # Only the pause that was read (and has ended): a newer one has another until.
        WorkspaceLimits.objects.filter(pk=workspace_id, paused_until=until).update(
            paused_until=None, pause_reason="", updated_at=timezone.now()
        )

    def clear(self, workspace_id: int) -> None:
        WorkspaceLimits.objects.filter(pk=workspace_id).update(
            paused_until=None,
            pause_reason="",
            consecutive_failures=0,
            last_failure="",
            circuit_opened_at=None,
            circuit_retry_at=None,
            probe_until=None,
            updated_at=timezone.now(),
        )


class CacheStore:
    """Keys of a shared cache alias: ``add`` claims and opens, ``incr`` counts (both atomic
    on Redis and Memcached)."""

    PREFIX = "django_fastpix:limits"

    def __init__(self, alias: str) -> None:
        self.cache = caches[alias]

    def _keys(self, workspace_id: int) -> dict[str, str]:
        base = f"{self.PREFIX}:{workspace_id}:"
        return {name: base + name for name in ("pause", "failures", "circuit", "probe", "last")}

    def read(self, workspace_id: int) -> LimitsState:
        keys = self._keys(workspace_id)
        got = self.cache.get_many(list(keys.values()))
        pause = got.get(keys["pause"])
        circuit = got.get(keys["circuit"])
        failures = got.get(keys["failures"]) or 0
        probe = got.get(keys["probe"])
        if pause is None and circuit is None and not failures:
            return EMPTY
        return LimitsState(
            paused_until=aware(pause[0]) if pause else None,
            pause_reason=pause[1] if pause else "",
            consecutive_failures=int(failures),
            last_failure=got.get(keys["last"]) or "",
            circuit_opened_at=aware(circuit[0]) if circuit else None,
            circuit_retry_at=aware(circuit[1]) if circuit else None,
            probe_until=aware(probe),
        )

    def pause(self, workspace_id: int, until: datetime, reason: str) -> None:
        key = self._keys(workspace_id)["pause"]
        current = self.cache.get(key)
        if current and current[0] >= until.timestamp():
            return
        ttl = max(1, math.ceil((until - timezone.now()).total_seconds()) + 1)
        self.cache.set(key, (until.timestamp(), reason[:255]), ttl)

    def _count(self, workspace_id: int, reason: str) -> int:
        keys = self._keys(workspace_id)
        self.cache.add(keys["failures"], 0, None)
        try:
            count = int(self.cache.incr(keys["failures"]))
        except ValueError:  # evicted between add and incr
            self.cache.add(keys["failures"], 1, None)
            count = 1
        self.cache.set(keys["last"], reason[:255], None)
        return count

    def record_failure(self, workspace_id: int, reason: str, now: datetime) -> bool:
        if self._count(workspace_id, reason) < threshold():
            return False
        opened = (now.timestamp(), (now + cooldown()).timestamp())
        return bool(self.cache.add(self._keys(workspace_id)["circuit"], opened, None))

    def reopen(self, workspace_id: int, reason: str, now: datetime) -> None:
        keys = self._keys(workspace_id)
        self._count(workspace_id, reason)
        circuit = self.cache.get(keys["circuit"])
        opened = circuit[0] if circuit else now.timestamp()
        self.cache.set(keys["circuit"], (opened, (now + cooldown()).timestamp()), None)
        self.cache.delete(keys["probe"])

    def record_success(self, workspace_id: int) -> None:
        keys = self._keys(workspace_id)
        self.cache.delete_many([keys["failures"], keys["circuit"], keys["probe"]])

    def claim_probe(self, workspace_id: int, now: datetime) -> bool:
        keys = self._keys(workspace_id)
        circuit = self.cache.get(keys["circuit"])
        if not circuit or circuit[1] > now.timestamp():
            return False
        lease = probe_lease()
        return bool(
            self.cache.add(
                keys["probe"], (now + lease).timestamp(), math.ceil(lease.total_seconds()) + 1
            )
        )

    def release_probe(self, workspace_id: int) -> None:
        self.cache.delete(self._keys(workspace_id)["probe"])

    def forget_pause(self, workspace_id: int, until: datetime) -> None:
        pass  # the pause key expires by itself

    def clear(self, workspace_id: int) -> None:
        self.cache.delete_many(list(self._keys(workspace_id).values()))


def store() -> Store:
    """The store ``FASTPIX["LIMITS_STORE"]`` names."""
    if store_name() == "cache":
        return CacheStore(str(fastpix_settings.LIMITS_CACHE))
    return DatabaseStore()


# --- the gate around every call ---


def admit(workspace: Workspace, state: LimitsState, now: datetime | None = None) -> bool:
    """Raise ``WorkspaceLimitedError`` if ``state`` holds the call; True if it is the probe.

    A pause that has ended is dropped from the store on the way (see ``_forget_pause``).
    """
    now = now or timezone.now()
    if state.paused(now):
        assert state.paused_until is not None
        wait = (state.paused_until - now).total_seconds()
        raise WorkspaceLimitedError(workspace.slug, "paused", wait, state.pause_reason)
    if state.paused_until is not None:
        _forget_pause(workspace, state.paused_until)
    phase = state.circuit(now)
    if phase == CLOSED:
        return False
    if phase == HALF_OPEN and store().claim_probe(workspace.pk, now):
        logger.info("FastPix circuit of %s half-open: this call is the probe", workspace.slug)
        return True
    if phase == OPEN:
        assert state.circuit_retry_at is not None
        wait = (state.circuit_retry_at - now).total_seconds()
    else:  # another process holds the probe
        wait = max(1.0, ((state.probe_until or now) - now).total_seconds())
    detail = f"{state.consecutive_failures} failures in a row, last: {state.last_failure}"
    raise WorkspaceLimitedError(
        workspace.slug, "circuit open" if phase == OPEN else "probing", wait, detail
    )


def _forget_pause(workspace: Workspace, until: datetime) -> None:
    """Drop a pause that has ended, so that the workspace's calls stop reading the whole row.

    The service layer's per-call query only says whether anything is set in the limits row;
    an ended pause left in it would cost every later call a second read.
    """
    target = store()
    if not isinstance(target, DatabaseStore):
        return  # a cached pause expires by itself
    try:
        with transaction.atomic():  # a savepoint, as in note_rate_limited
            target.forget_pause(workspace.pk, until)
    except Exception:  # never the call's own outcome
        logger.exception("Could not drop the ended FastPix pause of %s", workspace.slug)


def is_failure(exc: BaseException) -> bool:
    """Whether ``exc`` says FastPix is unwell: 5xx, a timeout, a connection error."""
    return isinstance(exc, (ServerError, TransportError))


def note_rate_limited(workspace: Workspace, retry_after: float | None, reason: str) -> None:
    """A 429 arrived: pause the workspace in every process (Retry-After, capped)."""
    wait = DEFAULT_PAUSE if retry_after is None else retry_after
    wait = min(wait, float(fastpix_settings.RATE_LIMIT_PAUSE_MAX))
    if wait <= 0:
        return
    until = timezone.now() + timedelta(seconds=wait)
    try:
        # A savepoint: a failed write must not abort a transaction the caller holds.
        with transaction.atomic():
            store().pause(workspace.pk, until, reason)
    except Exception:  # the database or the cache: never the call's own outcome
        logger.exception("Could not record the FastPix pause of %s", workspace.slug)
        return
    logger.warning(
        "FastPix rate-limited %s (%s): its calls pause in every process until %s",
        workspace.slug,
        reason,
        until.isoformat(),
    )


def note_outcome(
    workspace: Workspace, state: LimitsState, probing: bool, exc: BaseException | None
) -> None:
    """Count a call's outcome: failures open or reopen the circuit, an answer closes it."""
    answered = exc is None or (isinstance(exc, FastPixAPIError) and not is_failure(exc))
    if answered and not (probing or state.needs_reset):
        return  # the healthy call: nothing to write, not even a savepoint
    try:
        with transaction.atomic():  # a savepoint, as in note_rate_limited
            _record_outcome(workspace, state, probing, exc)
    except Exception:  # the database or the cache: never replaces the call's own outcome
        logger.exception("Could not record the FastPix call outcome of %s", workspace.slug)


def _record_outcome(
    workspace: Workspace, state: LimitsState, probing: bool, exc: BaseException | None
) -> None:
    if exc is None or (isinstance(exc, FastPixAPIError) and not is_failure(exc)):
        # FastPix answered (2xx, or a 4xx/429 about the request): it is up.
        if probing or state.needs_reset:
            store().record_success(workspace.pk)
            if state.circuit_opened_at is not None:
                logger.warning("FastPix circuit of %s closed", workspace.slug)
    elif is_failure(exc):
        reason = f"{type(exc).__name__}: {exc}"
        now = timezone.now()
        if probing:
            store().reopen(workspace.pk, reason, now)
            logger.warning("FastPix circuit of %s reopened: %s", workspace.slug, reason)
        elif store().record_failure(workspace.pk, reason, now):
            logger.warning(
                "FastPix circuit of %s opened after %d failed calls in a row (%s); "
                "calls are refused until %s",
                workspace.slug,
                threshold(),
                reason,
                (now + cooldown()).isoformat(),
            )
    elif probing:
        store().release_probe(workspace.pk)  # the probe never reached FastPix


def read(workspace: Workspace | int) -> LimitsState:
    """The workspace's shared limits now (for the admin and fastpix_doctor)."""
    pk = workspace.pk if isinstance(workspace, Workspace) else workspace
    return store().read(pk)


def clear(workspace: Workspace, *, by: str) -> None:
    """Lift a pause and close the circuit (an operator's decision)."""
    store().clear(workspace.pk)
    logger.warning("FastPix pause and circuit of %s cleared by %s", workspace.slug, by)


def describe(state: LimitsState, now: datetime | None = None) -> str:
    """One line for operators: "calls flow", "paused until …", "circuit open since …"."""
    now = now or timezone.now()
    parts = []
    if state.paused(now):
        assert state.paused_until is not None
        parts.append(
            f"paused until {state.paused_until:%Y-%m-%d %H:%M:%S %Z} ({state.pause_reason})"
        )
    phase = state.circuit(now)
    if phase != CLOSED:
        assert state.circuit_opened_at is not None
        since = f"{state.circuit_opened_at:%Y-%m-%d %H:%M:%S %Z}"
        if phase == OPEN:
            assert state.circuit_retry_at is not None
            parts.append(
                f"circuit open since {since}, probe at {state.circuit_retry_at:%H:%M:%S %Z}"
            )
        elif phase == PROBING:
            parts.append(f"circuit half-open since {since}: a probe call is under way")
        else:
            parts.append(f"circuit half-open since {since}: the next call is the probe")
        if state.last_failure:
            parts.append(f"last failure: {state.last_failure}")
    elif state.consecutive_failures:
        parts.append(f"{state.consecutive_failures} failed call(s) in a row")
    return "; ".join(parts) or "calls flow"
