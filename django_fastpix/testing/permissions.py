"""Access-token permissions as FastPix grants them: a level per product area.

FastPix's dashboard grants each token "Video: read / read and write", "Data: read" and
"System" separately. Video covers on-demand media, uploads, playback ids and live streams;
System covers the playback signing keys; Data (analytics) has no endpoint in the fake but is
kept so a token's grant can be stated in full. A token with Video read+write and nothing else
is the common case, and exactly the one that must not be used to create a signing key.

The fake is self-contained (it imports nothing from the app it stands in for), so the area
and level names are restated here rather than shared with ``django_fastpix.scopes``.
"""

from __future__ import annotations

VIDEO = "video"
SYSTEM = "system"
DATA = "data"
AREAS = (VIDEO, SYSTEM, DATA)

NONE = "none"
READ = "read"
READ_WRITE = "read_write"
LEVELS = (NONE, READ, READ_WRITE)

# `write` is how people say it on a command line; it never meant write-only.
_ALIASES = {"write": READ_WRITE}
_LABELS = {READ: "read", READ_WRITE: "read+write"}
_SIGNING_KEYS = "/iam/signing-keys"


def check_level(level: str, what: str) -> str:
    """``level`` if it is one of LEVELS, else ValueError naming ``what``."""
    if level not in LEVELS:
        raise ValueError(f"{what} must be one of {', '.join(LEVELS)}, not {level!r}")
    return str(level)


def parse_area_list(text: str) -> dict[str, str]:
    """``"video=read_write,system=read_write,data=read"`` as a full area -> level map.

    Areas not listed get "none": a grant is written out, never assumed.
    """
    scopes = dict.fromkeys(AREAS, NONE)
    seen: set[str] = set()
    for item in text.split(","):
        area, sep, level = item.strip().partition("=")
        area, level = area.strip(), level.strip()
        if not sep or not area or not level:
            raise ValueError(f"expected AREA=LEVEL in {text!r}, got {item.strip()!r}")
        if area not in AREAS:
            raise ValueError(f"area must be one of {', '.join(AREAS)}, not {area!r}")
        if area in seen:
            raise ValueError(f"area {area!r} is given twice in {text!r}")
        seen.add(area)
        scopes[area] = check_level(_ALIASES.get(level, level), f"the {area} level")
    return scopes


def describe(scopes: dict[str, str]) -> str:
    """The canonical comma list, e.g. ``video=read_write,system=none,data=read``."""
    return ",".join(f"{area}={scopes.get(area, NONE)}" for area in AREAS)


def normalise_scope(text: str) -> str:
    """A command line's SCOPE in the form `FakeFastPix.add_token` takes as ``scope``.

    ``read``, ``read_write`` and ``write`` stay video levels (``write`` becomes
    ``read_write``); a comma list of ``AREA=LEVEL`` becomes its canonical `describe` form.
    """
    if "=" in text:
        return describe(parse_area_list(text))
    text = _ALIASES.get(text, text)
    if text not in (READ, READ_WRITE):
        raise ValueError(
            "SCOPE must be read, read_write, write or a list like "
            f"video=read_write,system=read_write,data=read, not {text!r}"
        )
    return text


def token_scopes(scope: str, *, system: str = NONE, data: str = NONE) -> dict[str, str]:
    """The area -> level map of `FakeFastPix.add_token`'s arguments (ValueError if invalid).

    ``scope`` is the video level, or a comma list naming every area (then ``system`` and
    ``data`` must be left at "none": one grant, stated once).
    """
    if "=" in scope:
        if system != NONE or data != NONE:
            raise ValueError("give the areas either in scope's AREA=LEVEL list or as keywords")
        return parse_area_list(scope)
    return {
        VIDEO: check_level(scope, "scope (the video level)"),
        SYSTEM: check_level(system, "system"),
        DATA: check_level(data, "data"),
    }


def area_of(rel_path: str) -> str:
    """The area an API route (path relative to /v1) belongs to."""
    if rel_path == _SIGNING_KEYS or rel_path.startswith(_SIGNING_KEYS + "/"):
        return SYSTEM
    return VIDEO


def allows(scopes: dict[str, str], area: str, write: bool) -> bool:
    """Whether the levels granted allow a read (or a write) in ``area``."""
    level = scopes.get(area, NONE)
    return level == READ_WRITE or (level == READ and not write)


def needed(area: str, write: bool) -> str:
    """What a refused call needed, for the 403's description: ``System read+write``."""
    return f"{area.capitalize()} {_LABELS[READ_WRITE if write else READ]}"
