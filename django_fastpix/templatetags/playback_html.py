"""Players, posters and playback URLs of a media in every state.

The one implementation behind the ``fastpix`` template tags, ``Media.player()`` and its
sibling methods, and the video widget. Each output comes from a small template under
``django_fastpix/`` that a site may override:

- ``player.html``: the ``<fastpix-player>`` element of a ready media;
- ``player_script.html``: the player's script, once per page;
- ``player_processing.html``, ``player_failed.html``, ``player_unavailable.html``: what
  shows instead while the media is on its way, after it failed, and when there is nothing to
  play (deleted, no playback id, no media, or no token could be signed);
- ``player_live_waiting.html``: a live stream that is not broadcasting (idle, preparing,
  disconnected, disabled), with its state, instead of the player;
- ``poster.html`` and ``poster_placeholder.html``: a thumbnail ``<img>``, or what stands in
  for it.

Nothing here raises for a media's state: a page with videos renders whatever FastPix, the
signing keys or the media are doing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal, cast

from django.http import HttpRequest
from django.template import Context
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from ..conf import fastpix_settings
from ..middleware import RequestPlayback, SigningFailed, current_playback, playback_for_request
from ..models import LiveStream, LiveStreamStatus, Media, MediaStatus, PlaybackId
from ..services.playback import image_url, stream_url
from .player_options import attribute_name, fallback_option, player_attributes

logger = logging.getLogger(__name__)

TEMPLATES = {
    "player": "django_fastpix/player.html",
    "script": "django_fastpix/player_script.html",
    "processing": "django_fastpix/player_processing.html",
    "failed": "django_fastpix/player_failed.html",
    "unavailable": "django_fastpix/player_unavailable.html",
    "live_waiting": "django_fastpix/player_live_waiting.html",
    "poster": "django_fastpix/poster.html",
    "poster_placeholder": "django_fastpix/poster_placeholder.html",
}
# The image URL options a site sets; the token is the app's.
IMAGE_OPTIONS = frozenset({"time", "width", "height", "fit_mode", "format"})
POSTER_OPTIONS = IMAGE_OPTIONS | {"alt", "loading"}
_RENDER_KEY = "django_fastpix.playback"

ImageKind = Literal["thumbnail", "clip"]


# --- which media, which state ---


def resolve(value: Any) -> tuple[Media | None, PlaybackId | None]:
    """The media and playback id to show for a tag's value (a Media, a PlaybackId or None).

    A media's playback id is only looked up once it is ready: nothing else shows one.
    """
    if value is None or value == "":
        return None, None
    if isinstance(value, Media):
        return value, value.playback if value.is_ready else None
    if isinstance(value, PlaybackId):
        return value.media, value
    logger.warning(
        "A fastpix tag was given a %s, not a Media or PlaybackId: showing the fallback.",
        type(value).__name__,
    )
    return None, None


def request_of(context: Context) -> HttpRequest | None:
    """The request a template is rendered for, if it was given one."""
    request = getattr(context, "request", None) or context.get("request")
    return request if isinstance(request, HttpRequest) else None


def state_for_context(context: Context) -> RequestPlayback:
    """The page's playback state: the request's, else the active request's, else the render's."""
    request = request_of(context)
    if request is not None:
        return playback_for_request(request)
    current = current_playback()
    if current is not None:
        return current
    # The render context's root dict: shared by the whole render, includes and all (each
    # included template pushes a fresh top dict of its own).
    root = cast("dict[str, Any]", context.render_context.dicts[0])
    state = root.get(_RENDER_KEY)
    if not isinstance(state, RequestPlayback):
        state = root[_RENDER_KEY] = RequestPlayback()
    return state


def state_for_call(request: HttpRequest | None) -> RequestPlayback:
    """The playback state for a call from Python (``Media.player()``, the widget)."""
    if request is not None:
        return playback_for_request(request)
    return current_playback() or RequestPlayback()


def _render(which: str, context: dict[str, Any]) -> SafeString:
    # Autoescaped by the template; the surrounding whitespace of a template file is not markup.
    return mark_safe(render_to_string(TEMPLATES[which], context).strip())  # noqa: S308


# --- the player ---


def script_html(state: RequestPlayback) -> SafeString:
    """The player script, the first time a page asks; '' afterwards."""
    if state.script_emitted:
        return mark_safe("")
    state.script_emitted = True
    return _render(
        "script",
        {
            "src": fastpix_settings.PLAYER_SCRIPT_URL,
            "integrity": fastpix_settings.PLAYER_SCRIPT_INTEGRITY,
        },
    )


def fallback_html(
    which: str, media: Media | None, *, poster: str = "", error: str = ""
) -> SafeString:
    """A ``processing``, ``failed`` or ``unavailable`` stand-in for the player."""
    return _render(
        which,
        {
            "media": media,
            "title": media.title if media is not None else "",
            "status": media.status if media is not None else "",
            "poster": poster,
            "error": error,
        },
    )


def render_player(value: Any, options: Mapping[str, Any], state: RequestPlayback) -> SafeString:
    """The player of ``value`` with ``options`` (TypeError for unknown ones), or a fallback."""
    if isinstance(value, LiveStream):
        return render_live_player(value, options, state)
    attributes = player_attributes(options)
    given = {attribute_name(name) for name in options}
    media, playback = resolve(value)
    if media is None or media.status == MediaStatus.DELETED:
        return fallback_html("unavailable", media)
    if media.has_failed:
        show_error = bool(fallback_option(options, "show_error"))
        return fallback_html("failed", media, error=media.error if show_error else "")
    if not media.is_ready:
        poster = attributes.get("poster")
        return fallback_html("processing", media, poster=poster if isinstance(poster, str) else "")
    if playback is None:
        return fallback_html("unavailable", media)
    try:
        token = state.token(playback, "media")
        drm_token = state.token(playback, "drm") if playback.access_policy == "drm" else None
    except SigningFailed:
        return fallback_html("unavailable", media)
    element: dict[str, str | bool] = {
        "playback-id": playback.fastpix_id,
        "stream-type": "on-demand",
    }
    if token:
        element["token"] = token
    if drm_token:
        element["drm-token"] = drm_token
    if "title" not in given and media.title:
        element["title"] = media.title
    if "poster" not in given:
        # Signed with the playback token: one media token covers stream and images.
        element["poster"] = image_url(
            playback.fastpix_id,
            "thumbnail",
            time=_seconds(attributes.get("thumbnail-time")),
            token=token,
        )
    element.update(attributes)
    html = _render("player", {"attributes": list(element.items()), "media": media})
    return mark_safe(script_html(state) + html)  # noqa: S308  (both rendered escaped)


def render_live_player(
    stream: LiveStream, options: Mapping[str, Any], state: RequestPlayback
) -> SafeString:
    """The live player while ``stream`` broadcasts; its state, in a stand-in, otherwise."""
    attributes = player_attributes(options)
    playback = stream.playback
    if stream.status == LiveStreamStatus.DELETED or playback is None:
        return fallback_html("unavailable", None)
    if stream.status != LiveStreamStatus.ACTIVE:
        return _render(
            "live_waiting",
            {"stream": stream, "status": stream.status, "title": stream.title},
        )
    try:
        token = state.token(playback, "media")
    except SigningFailed:
        return fallback_html("unavailable", None)
    element: dict[str, str | bool] = {
        "playback-id": playback.fastpix_id,
        "stream-type": "live-stream",
    }
    if token:
        element["token"] = token
    if stream.title:
        element["title"] = stream.title
    element.update(attributes)
    html = _render("player", {"attributes": list(element.items()), "media": None})
    return mark_safe(script_html(state) + html)  # noqa: S308  (both rendered escaped)


def _seconds(value: str | bool | None) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if not 0 <= seconds < float("inf"):  # also NaN
        return None
    return int(seconds) if seconds.is_integer() else seconds


# --- images and streams ---


def _check_image_options(
    kind: ImageKind, options: Mapping[str, Any], allowed: frozenset[str]
) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise TypeError(
            f"Unknown {kind} option(s): {', '.join(unknown)}; known: {', '.join(sorted(allowed))}."
        )
    # The URL builder checks the values: a bad one fails here, before any token is minted.
    image_url("check", kind, **{k: v for k, v in options.items() if k in IMAGE_OPTIONS})


def _playable(value: Any) -> tuple[Media, PlaybackId] | None:
    media, playback = resolve(value)
    if media is None or playback is None or not media.is_ready:
        return None
    return media, playback


def signed_image_url(
    value: Any, kind: ImageKind, options: Mapping[str, Any], state: RequestPlayback
) -> str:
    """A thumbnail or clip URL, signed when private; '' when there is nothing to show yet.

    Unknown options raise TypeError and bad values ValueError (before anything is signed).
    """
    _check_image_options(kind, options, IMAGE_OPTIONS)
    signed = _signed_playback(value, state)
    if signed is None:
        return ""
    return image_url(signed[0].fastpix_id, kind, token=signed[1], **options)


def signed_stream_url(value: Any, state: RequestPlayback) -> str:
    """The .m3u8 URL, signed when private; '' when there is nothing to play yet."""
    signed = _signed_playback(value, state)
    if signed is None:
        return ""
    return stream_url(signed[0].fastpix_id, token=signed[1])


def _signed_playback(value: Any, state: RequestPlayback) -> tuple[PlaybackId, str | None] | None:
    """The playable playback id of ``value`` with its token (None when public); None when
    there is nothing to show yet or it cannot be signed."""
    found = _playable(value)
    if found is None:
        return None
    try:
        return found[1], state.token(found[1], "media")
    except SigningFailed:
        return None


def render_poster(value: Any, options: Mapping[str, Any], state: RequestPlayback) -> SafeString:
    """An ``<img>`` of the thumbnail when ready; a placeholder element otherwise."""
    _check_image_options("thumbnail", options, POSTER_OPTIONS)
    media, _ = resolve(value)
    alt = options.get("alt")
    if alt is None:
        alt = media.title if media is not None else ""
    image_options = {k: v for k, v in options.items() if k in IMAGE_OPTIONS}
    src = signed_image_url(value, "thumbnail", image_options, state)
    if src:
        return _render(
            "poster",
            {
                "src": src,
                "alt": alt,
                "width": options.get("width"),
                "height": options.get("height"),
                "loading": options.get("loading", "lazy"),
            },
        )
    if media is not None and media.has_failed:
        which = "failed"
    elif media is not None and media.is_processing:
        which = "processing"
    else:
        which = "unavailable"
    return _render(
        "poster_placeholder",
        {
            "state": which,
            "alt": alt,
            "width": options.get("width"),
            "height": options.get("height"),
        },
    )
