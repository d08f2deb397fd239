"""Options of ``{% fastpix_player %}`` and ``Media.player()``: Python names to attributes.

``autoplay=True`` becomes the bare attribute ``auto-play``, ``start_time=30`` becomes
``start-time="30"``, ``metadata_video_title="…"`` becomes ``metadata-video-title="…"``; False
and None leave an attribute out. Names are checked when a template compiles, so a typo is a
TemplateSyntaxError on the developer's screen, not an attribute the player silently ignores.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# <fastpix-player> attributes a site may set (API.md §3 and the player's README). The
# playback-id, stream-type, token and drm-token attributes are the app's own to set.
PLAYER_ATTRIBUTES = frozenset(
    {
        # playback
        "auto-play",
        "muted",
        "loop",
        "start-time",
        "preload",
        "playback-rates",
        "default-playback-rate",
        "crossorigin",
        "custom-domain",
        # images
        "poster",
        "placeholder",
        "thumbnail-time",
        "enable-advanced-spritesheet",
        # tracks
        "default-audio-track",
        "default-subtitle-track",
        "disable-hidden-captions",
        # display
        "title",
        "accent-color",
        "primary-color",
        "secondary-color",
        "id",
    }
)
# Spellings a Python or template author reaches for first.
ALIASES = {"autoplay": "auto-play", "cross_origin": "crossorigin"}
# Options of the fallbacks, not attributes of the player.
FALLBACK_OPTIONS = frozenset({"show_error"})
# Analytics metadata: metadata_video_title -> metadata-video-title.
_METADATA = re.compile(r"^metadata(?:_[a-z0-9]+)+$")


def attribute_name(option: str) -> str | None:
    """The player attribute an option sets; None for a fallback option or an unknown name."""
    key = option.lower().replace("-", "_")
    if key in ALIASES:
        return ALIASES[key]
    if _METADATA.match(key):
        return key.replace("_", "-")
    name = key.replace("_", "-")
    return name if name in PLAYER_ATTRIBUTES else None


def unknown_options(options: Iterable[str]) -> list[str]:
    """The names among ``options`` that are neither player attributes nor fallback options."""
    return [
        name
        for name in options
        if name.lower().replace("-", "_") not in FALLBACK_OPTIONS and attribute_name(name) is None
    ]


def describe_known() -> str:
    """The accepted option names, for error messages."""
    names = sorted({a.replace("-", "_") for a in PLAYER_ATTRIBUTES} | set(ALIASES))
    return ", ".join([*names, "metadata_*", *sorted(FALLBACK_OPTIONS)])


def attribute_value(value: Any) -> str | bool | None:
    """True: a bare attribute; False or None: left out; a list: space-separated values."""
    if value is None or value is False:
        return None
    if value is True:
        return True
    if isinstance(value, (list, tuple)):
        return " ".join(str(item) for item in value)
    return str(value)


def player_attributes(options: Mapping[str, Any]) -> dict[str, str | bool]:
    """Attribute name -> value for every option that sets one (fallback options skipped).

    Raises TypeError naming unknown options.
    """
    unknown = unknown_options(options)
    if unknown:
        raise TypeError(
            f"Unknown fastpix player option(s): {', '.join(unknown)}. Known: {describe_known()}."
        )
    attributes: dict[str, str | bool] = {}
    for option, raw in options.items():
        name = attribute_name(option)
        value = attribute_value(raw)
        if name is not None and value is not None:
            attributes[name] = value
    return attributes


def fallback_option(options: Mapping[str, Any], name: str) -> Any:
    """A fallback option's value, whatever spelling (``show_error``, ``show-error``) was used."""
    for option, value in options.items():
        if option.lower().replace("-", "_") == name:
            return value
    return None
