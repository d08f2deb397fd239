"""Request counts of the fake, by token and by route, for labs and load tests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .server import RequestRecord

NO_TOKEN = "-"
HINT_MAX_LENGTH = 4


def token_hint(token_id: str) -> str:
    """The end of a token id that may be printed: at most 4 characters, at most a quarter.

    The same rule as the app's own logs (`client.credentials.token_id_hint`), restated here
    because the fake imports nothing from the client.
    """
    shown = min(HINT_MAX_LENGTH, len(token_id) // 4)
    return "…" + token_id[len(token_id) - shown :]


@dataclass
class RequestCounts:
    """How many requests the fake received, by token, by route, and by both."""

    total: int = 0
    by_token: dict[str, int] = field(default_factory=dict)
    by_route: dict[str, int] = field(default_factory=dict)
    by_token_route: dict[str, dict[str, int]] = field(default_factory=dict)
    faulted_by_route: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "total": self.total,
            "by_token": dict(self.by_token),
            "by_route": dict(self.by_route),
            "by_token_route": {k: dict(v) for k, v in self.by_token_route.items()},
            "faulted_by_route": dict(self.faulted_by_route),
        }

    def lines(self) -> list[str]:
        """A human summary, one line per token and per faulted route."""
        out = [f"requests: {self.total}"]
        for token, count in self.by_token.items():
            routes = ", ".join(f"{r} {n}" for r, n in self.by_token_route[token].items())
            who = "no token" if token == NO_TOKEN else f"token {token}"
            out.append(f"  {who}: {count} ({routes})")
        for route, count in self.faulted_by_route.items():
            out.append(f"  faulted {route}: {count}")
        return out


def count_requests(records: Iterable[RequestRecord], *, hints: bool = True) -> RequestCounts:
    """Count `records`; tokens by hint (or full id with `hints=False`), busiest first."""
    from .server import route_label

    by_token: Counter[str] = Counter()
    by_route: Counter[str] = Counter()
    faulted: Counter[str] = Counter()
    pairs: dict[str, Counter[str]] = {}
    total = 0
    for record in records:
        total += 1
        if record.token_id is None:
            token = NO_TOKEN
        else:
            token = token_hint(record.token_id) if hints else record.token_id
        route = route_label(record.method, record.path)
        by_token[token] += 1
        by_route[route] += 1
        pairs.setdefault(token, Counter())[route] += 1
        if record.fault is not None:
            faulted[route] += 1
    return RequestCounts(
        total=total,
        by_token=dict(by_token.most_common()),
        by_route=dict(by_route.most_common()),
        by_token_route={t: dict(c.most_common()) for t, c in pairs.items()},
        faulted_by_route=dict(faulted.most_common()),
    )
