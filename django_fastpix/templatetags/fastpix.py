"""``{% load fastpix %}``: players, posters and playback URLs for FastPix media.

``value`` is a ``Media`` (``lesson.video``), a ``PlaybackId`` or None::

    {% fastpix_player_script %}                       in <head>, optional (see below)
    {% fastpix_player lesson.video autoplay=True muted=True start_time=30 accent_color="#f60" %}
    {% fastpix_poster lesson.video width=320 alt=lesson.title %}
    {% fastpix_thumbnail_url lesson.video time=12 width=640 format="webp" as thumb %}
    {% fastpix_clip_url lesson.video width=320 format="gif" %}
    {% fastpix_stream_url lesson.video %}

- ``fastpix_player``: a ``<fastpix-player>`` for a ready media, with a ``token`` when the
  playback id is private (plus ``drm-token`` for DRM), the media's ``title`` and its
  thumbnail as ``poster`` unless given. Options are the player's attributes in Python
  spelling (see ``player_options``); ``show_error=True`` shows a failed media's reason.
  Otherwise a placeholder (processing), a failed notice, or "video unavailable".
- The player script comes with the first player of a page (a request, or one render when
  there is none). ``{% fastpix_player_script %}`` places it earlier (in <head>): players
  after it do not repeat it.
- URL tags return a URL signed when private, and an empty string when the media has no
  playback id or is not ready (its images do not exist before): test with ``as var``.
- Tokens are minted per request from one signer kept on the request: a page of fifty
  private videos reads each workspace's signing key once. A page that minted one is marked
  for ``PlaybackCacheMiddleware``. Unknown options are TemplateSyntaxErrors when the
  template compiles; values that are literals are checked then too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django import template
from django.template.base import FilterExpression, Parser, Token, Variable, kwarg_re, token_kwargs
from django.utils.html import conditional_escape

from ..services.playback import image_url
from .playback_html import (
    IMAGE_OPTIONS,
    POSTER_OPTIONS,
    ImageKind,
    render_player,
    render_poster,
    script_html,
    signed_image_url,
    signed_stream_url,
    state_for_context,
)
from .player_options import describe_known, unknown_options

logger = logging.getLogger(__name__)

register = template.Library()

Options = dict[str, FilterExpression]


def _parse(
    parser: Parser, token: Token, *, allowed: frozenset[str] | None, as_var: bool
) -> tuple[FilterExpression, Options, str | None]:
    """``tag value name=expr ... [as var]``; ``allowed`` None: the player's options."""
    bits = token.split_contents()
    tag, rest = bits[0], bits[1:]
    target = None
    if as_var and len(rest) >= 2 and rest[-2] == "as":
        target, rest = rest[-1], rest[:-2]
    if not rest or kwarg_re.match(rest[0])[1]:  # type: ignore[index]
        raise template.TemplateSyntaxError(
            f"{{% {tag} %}} needs the video first: {{% {tag} lesson.video ... %}}"
        )
    value = parser.compile_filter(rest[0])
    options: Options = {}
    for bit in rest[1:]:
        parsed = token_kwargs([bit], parser)
        if not parsed:
            raise template.TemplateSyntaxError(
                f"{{% {tag} %}}: {bit!r} is not an option: write name=value."
            )
        name, expression = parsed.popitem()
        if name in options:
            raise template.TemplateSyntaxError(f"{{% {tag} %}}: option {name!r} given twice.")
        options[name] = expression
    if allowed is None:
        unknown = unknown_options(options)
        known = describe_known()
    else:
        unknown = sorted(set(options) - allowed)
        known = ", ".join(sorted(allowed))
    if unknown:
        raise template.TemplateSyntaxError(
            f"{{% {tag} %}}: unknown option(s) {', '.join(unknown)}. Known: {known}."
        )
    return value, options, target


def _literals(options: Options) -> dict[str, Any]:
    """The options whose value is known when the template compiles (no variable, no filter)."""
    known: dict[str, Any] = {}
    for name, expression in options.items():
        if expression.filters:
            continue
        var = expression.var
        if not isinstance(var, Variable):
            known[name] = var  # a quoted string
        elif var.literal is not None:
            known[name] = var.literal  # a number
    return known


def _check_image_literals(tag: str, kind: ImageKind, options: Options) -> None:
    literals = {k: v for k, v in _literals(options).items() if k in IMAGE_OPTIONS}
    try:
        image_url("check", kind, **literals)
    except ValueError as exc:
        raise template.TemplateSyntaxError(f"{{% {tag} %}}: {exc}") from None


def _resolve(options: Options, context: template.Context) -> dict[str, Any]:
    return {name: expression.resolve(context) for name, expression in options.items()}


class _ElementNode(template.Node):
    """A tag rendering one element for a media; a bad value never fails the page."""

    tag = ""
    renderer: Callable[..., str]

    def __init__(self, value: FilterExpression, options: Options) -> None:
        self.value = value
        self.options = options

    def render(self, context: template.Context) -> str:
        state = state_for_context(context)
        options = _resolve(self.options, context)
        render = type(self).renderer
        try:
            return render(self.value.resolve(context), options, state)
        except (ValueError, TypeError) as exc:
            # A value only known at render time: the page renders, the log says what was wrong.
            logger.error("{%% %s %%}: %s", self.tag, exc)
            return render(None, {}, state)


class PlayerNode(_ElementNode):
    tag = "fastpix_player"
    renderer = staticmethod(render_player)


class PlayerScriptNode(template.Node):
    def render(self, context: template.Context) -> str:
        return script_html(state_for_context(context))


class PosterNode(_ElementNode):
    tag = "fastpix_poster"
    renderer = staticmethod(render_poster)


class UrlNode(template.Node):
    def __init__(
        self,
        tag: str,
        kind: ImageKind | None,
        value: FilterExpression,
        options: Options,
        target: str | None,
    ) -> None:
        self.tag = tag
        self.kind = kind
        self.value = value
        self.options = options
        self.target = target

    def url(self, context: template.Context) -> str:
        state = state_for_context(context)
        value = self.value.resolve(context)
        if self.kind is None:
            return signed_stream_url(value, state)
        try:
            return signed_image_url(value, self.kind, _resolve(self.options, context), state)
        except (ValueError, TypeError) as exc:  # a value only known at render time
            logger.error("{%% %s %%}: %s", self.tag, exc)
            return ""

    def render(self, context: template.Context) -> str:
        url = self.url(context)
        if self.target is not None:
            context[self.target] = url
            return ""
        return str(conditional_escape(url)) if context.autoescape else url


@register.tag
def fastpix_player(parser: Parser, token: Token) -> PlayerNode:
    """``{% fastpix_player value [option=value ...] %}``: the player, or its fallback."""
    value, options, _ = _parse(parser, token, allowed=None, as_var=False)
    return PlayerNode(value, options)


@register.tag
def fastpix_player_script(parser: Parser, token: Token) -> PlayerScriptNode:
    """``{% fastpix_player_script %}``: the player's script, unless this page has it already."""
    if len(token.split_contents()) != 1:
        raise template.TemplateSyntaxError("{% fastpix_player_script %} takes no arguments.")
    return PlayerScriptNode()


@register.tag
def fastpix_poster(parser: Parser, token: Token) -> PosterNode:
    """``{% fastpix_poster value [width= height= time= fit_mode= format= alt= loading=] %}``."""
    value, options, _ = _parse(parser, token, allowed=POSTER_OPTIONS, as_var=False)
    _check_image_literals("fastpix_poster", "thumbnail", options)
    return PosterNode(value, options)


def _image_tag(tag: str, kind: ImageKind, parser: Parser, token: Token) -> UrlNode:
    value, options, target = _parse(parser, token, allowed=IMAGE_OPTIONS, as_var=True)
    _check_image_literals(tag, kind, options)
    return UrlNode(tag, kind, value, options, target)


@register.tag
def fastpix_thumbnail_url(parser: Parser, token: Token) -> UrlNode:
    """``{% fastpix_thumbnail_url value [time= width= height= fit_mode= format=] [as v] %}``."""
    return _image_tag("fastpix_thumbnail_url", "thumbnail", parser, token)


@register.tag
def fastpix_clip_url(parser: Parser, token: Token) -> UrlNode:
    """``{% fastpix_clip_url value [...] [as v] %}``: an animated gif (or ``format="webp"``)."""
    return _image_tag("fastpix_clip_url", "clip", parser, token)


@register.tag
def fastpix_stream_url(parser: Parser, token: Token) -> UrlNode:
    """``{% fastpix_stream_url value [as v] %}``: the .m3u8 URL, for a site's own player."""
    value, options, target = _parse(parser, token, allowed=frozenset(), as_var=True)
    return UrlNode("fastpix_stream_url", None, value, options, target)
