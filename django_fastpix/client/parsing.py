"""Tolerant parsers for the value forms the FastPix API is known to send (see API.md)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?"
    r"\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?$"
)


def first(data: Mapping[str, Any], *keys: str) -> Any:
    """The value of the first of ``keys`` present and not None (camelCase, then legacy names)."""
    for key in keys:
        value = data.get(key)
        if value is not None:
            return value
    return None


def to_str(value: Any) -> str | None:
    """A string, or None for missing/empty values; numbers are converted."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None


def to_int(value: Any) -> int | None:
    """An int from an int, an integral float or a digit string; anything else is None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return None


def to_bool(value: Any) -> bool | None:
    """A bool from a bool or the strings "true"/"false"; anything else is None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def to_dict(value: Any) -> dict[str, Any]:
    """A shallow copy of a JSON object, or an empty dict for anything else."""
    return dict(value) if isinstance(value, dict) else {}


def parse_duration(value: Any) -> float | None:
    """Seconds from a number, a numeric string, or "HH:MM:SS" / "MM:SS" with fractions."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        seconds = float(value)
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    parts = text.split(":")
    if len(parts) > 3:
        return None
    total = 0.0
    for index, part in enumerate(parts):
        is_last = index == len(parts) - 1
        # Hours and minutes are whole numbers; only the seconds part may carry a fraction.
        if not re.fullmatch(r"\d+(?:\.\d*)?" if is_last else r"\d+", part.strip()):
            return None
        total = total * 60 + float(part)
    return total if math.isfinite(total) else None


def parse_timestamp(value: Any) -> datetime | None:
    """An aware datetime from ISO-8601 (Z, offset or none: UTC assumed) or epoch seconds/ms."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        # Millisecond epochs are 13 digits; a seconds epoch that large is far in the future.
        seconds = value / 1000 if abs(value) > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    match = _TIMESTAMP.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    microsecond = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        tz = _zone(zone)
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            microsecond,
            tzinfo=tz,
        )
    except ValueError:
        return None


def _zone(zone: str | None) -> timezone:
    if zone is None or zone in ("Z", "z", "UTC"):
        return timezone.utc
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_mp4_support(value: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Enabled MP4 options and rendition objects from either known ``mp4Support`` form.

    The spec sends a string ("capped_4k", "audioOnly,capped_4k", "none"); the Python SDK
    models a list of ``{type, status, ext, width, height}`` objects. Both are accepted.
    """
    options: list[str] = []
    renditions: list[dict[str, Any]] = []
    items: list[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        items = [value]
    else:
        items = []
    for item in items:
        if isinstance(item, dict):
            renditions.append(item)
            name = to_str(first(item, "type", "name"))
        else:
            name = to_str(item)
        name = name.strip() if name else None
        if name and name.lower() != "none" and name not in options:
            options.append(name)
    return options, renditions
