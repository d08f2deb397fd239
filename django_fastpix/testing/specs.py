"""The command line's fault specs and webhook retry schedules, parsed with errors that say why.

A fault spec is ``ROUTE:OPTIONS``: a route pattern as for `FakeFastPix.inject` (``"POST
/on-demand"``, ``"GET /on-demand/{mediaId}"``, ``"/live/*"``, ``"*"``), a colon, then
comma-separated options, each ``name=value`` or a bare word:

* ``status=503`` (or just ``503``): answer that status with FastPix's error envelope;
* ``retry_after=30``: with a status, the Retry-After header (429 gets 1 s by default);
* ``reset`` / ``hang``: cut the connection with RST / never answer;
* ``latency=0.5`` (also ``500ms``, ``2s``, ``1m``): wait first, alone or before a status;
* ``rate=0.2`` and ``seed=1``: fault each matching request with that probability, repeatably;
* ``times=3``: at most three faults; ``nth=2``: only the second matching request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .faults import check_fault

METHODS = frozenset({"*", "GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"})
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)?$")
_INT_OPTIONS = ("status", "seed", "times", "nth")
_FLOAT_OPTIONS = ("rate",)
_DURATION_OPTIONS = ("latency", "retry_after")
_FLAG_OPTIONS = ("reset", "hang")
OPTIONS = (*_INT_OPTIONS, *_FLOAT_OPTIONS, *_DURATION_OPTIONS, *_FLAG_OPTIONS)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SpecError(ValueError):
    """A malformed spec; the message names the part at fault."""


@dataclass(frozen=True)
class FaultSpec:
    """A parsed ``--fault``: the route and the keyword arguments of `FakeFastPix.inject`."""

    text: str
    route: str
    options: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """The spec in canonical form, e.g. ``POST /on-demand: status=503 rate=0.2 seed=1``."""
        parts = [k if v is True else f"{k}={v}" for k, v in self.options.items()]
        return f"{self.route}: {' '.join(parts)}"


def parse_duration(text: str, what: str) -> float:
    """Seconds from ``"0.5"``, ``"500ms"``, ``"30s"``, ``"2m"`` or ``"1h"``."""
    found = _DURATION.match(text.strip().lower())
    if found is None:
        raise SpecError(f"{what} {text!r} is not a duration (e.g. 0.5, 500ms, 30s, 2m, 1h)")
    return float(found.group(1)) * _UNITS[found.group(2) or "s"]


def _route(text: str, spec: str) -> str:
    route = text.strip()
    if not route:
        raise SpecError(f"{spec!r}: the route before ':' is empty (e.g. 'POST /on-demand')")
    method, _, path = route.partition(" ")
    if not path.strip():
        method, path = ("*", route) if route.startswith("/") or route == "*" else (route, "*")
    if method.upper() not in METHODS:
        raise SpecError(
            f"{spec!r}: unknown method {method!r} in route {route!r} "
            f"(one of {', '.join(sorted(METHODS))})"
        )
    path = path.strip()
    if not (path.startswith("/") or path.startswith("*")) or " " in path:
        raise SpecError(f"{spec!r}: path {path!r} must start with '/' (or be '*')")
    return route


def _value(name: str, raw: str, spec: str) -> Any:
    try:
        if name in _INT_OPTIONS:
            return int(raw)
        if name in _FLOAT_OPTIONS:
            return float(raw)
        if name in _DURATION_OPTIONS:
            return parse_duration(raw, name)
    except SpecError as exc:
        raise SpecError(f"{spec!r}: {exc}") from None
    except ValueError:
        kind = "an integer" if name in _INT_OPTIONS else "a number"
        raise SpecError(f"{spec!r}: {name}={raw!r} is not {kind}") from None
    lowered = raw.lower()
    if lowered in _TRUE or lowered in _FALSE:
        return lowered in _TRUE
    raise SpecError(f"{spec!r}: {name}={raw!r} is not true or false")


def parse_fault(spec: str) -> FaultSpec:
    """Parse ``ROUTE:OPTIONS`` (see the module docs); raises SpecError naming the bad part."""
    route_text, sep, options_text = spec.rpartition(":")
    if not sep:
        raise SpecError(f"{spec!r}: expected ROUTE:OPTIONS, e.g. 'POST /on-demand:status=503'")
    route = _route(route_text, spec)
    options: dict[str, Any] = {}
    for item in options_text.split(","):
        item = item.strip()
        if not item:
            raise SpecError(f"{spec!r}: empty option (after ':' and between commas)")
        name, eq, raw = item.partition("=")
        name = name.strip().lower().replace("-", "_")
        if not eq:
            if name in _FLAG_OPTIONS:
                name, raw = name, "true"
            elif name.isdigit():
                name, raw = "status", name
            else:
                raise SpecError(
                    f"{spec!r}: option {item!r} needs a value (name=value), except the words "
                    "reset and hang and a bare status code"
                )
        if name not in OPTIONS:
            raise SpecError(f"{spec!r}: unknown option {name!r} (one of {', '.join(OPTIONS)})")
        if name in options:
            raise SpecError(f"{spec!r}: option {name!r} given twice")
        options[name] = _value(name, raw.strip(), spec)
    try:
        check_fault(
            status=options.get("status"),
            latency=options.get("latency", 0.0),
            reset=options.get("reset", False),
            hang=options.get("hang", False),
            retry_after=options.get("retry_after"),
            nth=options.get("nth"),
            times=options.get("times"),
            rate=options.get("rate"),
        )
    except ValueError as exc:
        raise SpecError(f"{spec!r}: {exc}") from None
    return FaultSpec(spec, route, options)


def parse_schedule(text: str) -> tuple[float, ...]:
    """Retry delays from ``"5,30,120"`` or ``"5s,30s,2m,1h"``; ``"none"`` (or ``""``) = no retry."""
    if text.strip().lower() in ("", "none"):
        return ()
    delays = []
    for n, item in enumerate(text.split(","), start=1):
        if not item.strip():
            raise SpecError(f"{text!r}: retry {n} is empty")
        try:
            delays.append(parse_duration(item, f"retry {n}"))
        except SpecError as exc:
            raise SpecError(f"{text!r}: {exc}") from None
    return tuple(delays)


def parse_time_scale(text: str) -> float:
    """A positive factor such as ``0.001``."""
    try:
        value = float(text)
    except ValueError:
        raise SpecError(f"time scale {text!r} is not a number (e.g. 0.001)") from None
    if not value > 0 or value != value or value == float("inf"):
        raise SpecError(f"time scale must be a finite number > 0, not {text!r}")
    return value


def describe_schedule(delays: tuple[float, ...], time_scale: float) -> str:
    """``"5s, 30s, 2m … (11 attempts over 23.7 h)"`` plus the scale when it is not 1."""
    if not delays:
        return "no retries (1 attempt)"

    def fmt(seconds: float) -> str:
        for unit, size in (("h", 3600.0), ("m", 60.0)):
            if seconds >= size and (seconds / size).is_integer():
                return f"{int(seconds / size)}{unit}"
        return f"{seconds:g}s"

    total = sum(delays)
    span = f"{total / 3600:.1f} h" if total >= 3600 else f"{total:g} s"
    out = f"{', '.join(fmt(d) for d in delays)} ({len(delays) + 1} attempts over {span})"
    if time_scale != 1:
        out += f", time scale {time_scale:g} (real span {total * time_scale:.3g} s)"
    return out
