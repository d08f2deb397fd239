"""LimitsState phases and the operator's line (no database)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from django_fastpix.exceptions import RateLimitedError, WorkspaceLimitedError
from django_fastpix.services.limits import (
    CLOSED,
    EMPTY,
    HALF_OPEN,
    OPEN,
    PROBING,
    LimitsState,
    aware,
    describe,
    state_from_row,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def test_phases() -> None:
    opened = LimitsState(
        consecutive_failures=5,
        circuit_opened_at=NOW - timedelta(seconds=40),
        circuit_retry_at=NOW + timedelta(seconds=10),
    )
    assert EMPTY.circuit(NOW) == CLOSED and not EMPTY.paused(NOW)
    assert opened.circuit(NOW) == OPEN
    assert opened.circuit(NOW + timedelta(seconds=11)) == HALF_OPEN
    probing = LimitsState(
        circuit_opened_at=NOW, circuit_retry_at=NOW, probe_until=NOW + timedelta(seconds=5)
    )
    assert probing.circuit(NOW + timedelta(seconds=1)) == PROBING
    assert probing.circuit(NOW + timedelta(seconds=6)) == HALF_OPEN  # the prober died


def test_describe() -> None:
    assert describe(EMPTY, NOW) == "calls flow"
    paused = LimitsState(paused_until=NOW + timedelta(seconds=30), pause_reason="HTTP 429 on GET x")
    assert describe(paused, NOW).startswith("paused until 2026-01-01 12:00:30")
    opened = LimitsState(
        circuit_opened_at=NOW, circuit_retry_at=NOW + timedelta(seconds=30), last_failure="boom"
    )
    assert "circuit open since 2026-01-01 12:00:00" in describe(opened, NOW)
    assert "half-open" in describe(opened, NOW + timedelta(seconds=31))


def test_rows_from_sqlite_and_postgresql() -> None:
    assert state_from_row((None, 0, None, None, None, None, None)) is EMPTY
    state = state_from_row(("2026-01-01 12:00:00", 2, None, None, None, "r", "f"))
    assert state.paused_until == NOW and state.consecutive_failures == 2
    assert aware(datetime(2026, 1, 1, 12)) == NOW


def test_the_refusal_is_a_rate_limit_with_its_wait() -> None:
    error = WorkspaceLimitedError("prod", "paused", 12.5, "HTTP 429 on GET /v1/on-demand")
    assert isinstance(error, RateLimitedError) and error.retry_after == 12.5
    assert "no request was made" in str(error) and "'prod'" in str(error)
