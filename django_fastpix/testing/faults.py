"""Fault injection: latency, error statuses, 429, connection resets and hung responses."""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field

from .routing import RoutePattern

_ids = itertools.count(1)


@dataclass
class Fault:
    """One injected fault; see `FakeFastPix.inject` for the meaning of each field."""

    route: str
    pattern: RoutePattern
    status: int | None = None
    latency: float = 0.0
    reset: bool = False
    hang: bool = False
    retry_after: float | None = None
    nth: int | None = None
    times: int | None = None
    rate: float | None = None
    seed: int | None = None
    id: int = field(default_factory=lambda: next(_ids))
    seen: int = 0
    applied: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    # Each fault draws from its own generator: with a seed, whether the N-th matching request
    # faults depends only on N, not on other faults or on timing.
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 (test data, not cryptographic)

    def exhausted(self) -> bool:
        """Whether the fault can no longer apply."""
        if self.nth is not None:
            return self.seen >= self.nth
        return self.times is not None and self.applied >= self.times


def check_fault(
    *,
    status: int | None,
    latency: float,
    reset: bool,
    hang: bool,
    retry_after: float | None,
    nth: int | None,
    times: int | None,
    rate: float | None,
) -> None:
    """Raise ValueError naming the problem if these `FakeFastPix.inject` arguments don't fit."""
    if sum(bool(x) for x in (status is not None, reset, hang)) > 1:
        raise ValueError("choose one of status, reset and hang")
    if retry_after is not None:
        if status is None:
            raise ValueError("retry_after needs a status (e.g. status=429)")
        if retry_after < 0:
            raise ValueError(f"retry_after must be >= 0 seconds, not {retry_after!r}")
    if status is None and not (reset or hang or latency):
        raise ValueError("a fault needs status, latency, reset or hang")
    if status is not None and not 100 <= status <= 599:
        raise ValueError(f"status must be an HTTP status (100-599), not {status!r}")
    if latency < 0:
        raise ValueError(f"latency must be >= 0 seconds, not {latency!r}")
    if nth is not None and nth < 1:
        raise ValueError(f"nth counts from 1, not {nth!r}")
    if times is not None and times < 1:
        raise ValueError(f"times must be >= 1, not {times!r}")
    if rate is not None:
        if nth is not None:
            raise ValueError("choose one of nth and rate")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate is a probability between 0 and 1, not {rate!r}")


class FaultSet:
    """The active faults; every matching request counts towards each fault's `nth`.

    A probabilistic fault (`rate`) draws for every matching request, whether or not an
    earlier fault already fired; the first fault that fires is the one applied.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Activate a fault."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self, fault: Fault | None = None) -> None:
        """Remove one fault or all; hung requests of removed faults are let go."""
        with self._lock:
            removed = [f for f in self._faults if fault is None or f is fault]
            self._faults = [f for f in self._faults if f not in removed]
        for f in removed:
            f.released.set()

    def release_all(self) -> None:
        """Let go of every hung request (server shutdown) without removing faults."""
        with self._lock:
            faults = list(self._faults)
        for f in faults:
            f.released.set()

    def is_active(self, fault: Fault) -> bool:
        """Whether the fault is still installed."""
        with self._lock:
            return fault in self._faults

    def select(self, method: str, path: str) -> Fault | None:
        """Count the request against every matching fault and return the first that fires."""
        chosen: Fault | None = None
        with self._lock:
            for f in self._faults:
                if not f.pattern.matches(method, path) or f.exhausted():
                    continue
                f.seen += 1
                if f.nth is not None:
                    fires = f.seen == f.nth
                elif f.rate is not None:
                    fires = f.rng.random() < f.rate
                else:
                    fires = True
                if fires and chosen is None:
                    f.applied += 1
                    chosen = f
        return chosen

    def active(self) -> list[Fault]:
        """A snapshot of the installed faults."""
        with self._lock:
            return list(self._faults)
