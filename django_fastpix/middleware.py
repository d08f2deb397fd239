"""Per-request playback state, and cache headers for pages that carry playback tokens.

A private video's page holds a JWT that expires (FASTPIX["PLAYBACK_TOKEN_LIFETIME"]). Served
from a cache after that, the page plays nothing; served from a shared cache, it hands one
visitor's token to everyone. So a response whose rendering minted a token is marked
``Cache-Control: private, no-store, max-age=0`` by ``PlaybackCacheMiddleware`` (or, view by
view, the ``fastpix_playback_page`` decorator). Pages with public videos only are left alone:
they stay cacheable.

Django's own cache leaves such a response out: ``UpdateCacheMiddleware.process_response``
returns without storing any response whose Cache-Control contains ``private``, ``no-cache``
or ``no-store`` (read in Django 5.2's ``django/middleware/cache.py``; ``cache_page`` runs the
same code), and ``max-age=0`` alone would also stop it unless a page timeout is forced. The
header must be set before UpdateCacheMiddleware sees the response, by a middleware listed
after it::

    MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",     # first, as Django requires
        ...
        "django_fastpix.middleware.PlaybackCacheMiddleware",  # anywhere after UpdateCache
        "django.middleware.cache.FetchFromCacheMiddleware",  # last, as Django requires
    ]

and, with ``cache_page``, the decorator goes below it: ``@cache_page(60)`` then
``@fastpix_playback_page``. ``Vary`` is not touched.

Streaming responses rendered after the view returns cannot be marked: render players into
ordinary (or template) responses.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control

from .services.playback import Audience, PlaybackSigner, is_private

if TYPE_CHECKING:
    from .services.playback import Signable

logger = logging.getLogger(__name__)

# Set on a request once a token was minted for it; the middleware and decorator read it.
MINTED_ATTRIBUTE = "_fastpix_tokens_minted"
_STATE_ATTRIBUTE = "_fastpix_playback"

V = TypeVar("V", bound=Callable[..., Any])


class SigningFailed(Exception):
    """A playback token could not be minted (already logged): render the fallback."""


class RequestPlayback:
    """The playback work of one request (or one render without a request).

    One ``PlaybackSigner`` (each workspace's signing key read once however many videos the
    page shows), tokens reused when a media appears twice (player and poster), a workspace
    whose key failed not tried again for the rest of the page (a FastPix outage costs one
    attempt, not one per video), and whether the player script was emitted yet.
    """

    def __init__(self, request: HttpRequest | None = None) -> None:
        self.request = request
        self.signer = PlaybackSigner()
        self.script_emitted = False
        self.minted = False
        self._tokens: dict[tuple[str, str], str | None] = {}
        self._failed: set[int] = set()

    def token(self, playback: Signable, audience: Audience = "media") -> str | None:
        """The token ``playback`` needs (None when public); SigningFailed if none can be had."""
        if not is_private(playback):
            return None
        cache_key = (playback.fastpix_id, audience)
        if cache_key in self._tokens:
            return self._tokens[cache_key]
        workspace_id = playback.workspace_id
        if workspace_id in self._failed:
            raise SigningFailed(f"no signing key for workspace #{workspace_id}")
        try:
            token = self.signer.token(playback, audience=audience)
        except Exception as exc:
            # Whatever stops signing (no key and on-demand creation off, FastPix unreachable
            # while creating one, an undecryptable key, the database): the page still renders.
            self._failed.add(workspace_id)
            logger.error(
                "Could not sign playback id %s (workspace #%s): %s: %s. Its players "
                "and images show the fallback; `manage.py fastpix_doctor` checks signing keys.",
                playback.fastpix_id,
                workspace_id,
                type(exc).__name__,
                exc,
                exc_info=True,
            )
            raise SigningFailed(str(exc)) from exc
        self._tokens[cache_key] = token
        if token is not None:
            self.minted = True
            if self.request is not None:
                setattr(self.request, MINTED_ATTRIBUTE, True)
        return token


_current: ContextVar[RequestPlayback | None] = ContextVar("fastpix_playback", default=None)


def playback_for_request(request: HttpRequest) -> RequestPlayback:
    """The request's playback state, made on first use and kept on the request."""
    state = getattr(request, _STATE_ATTRIBUTE, None)
    if not isinstance(state, RequestPlayback):
        state = RequestPlayback(request)
        setattr(request, _STATE_ATTRIBUTE, state)
    return state


def current_playback() -> RequestPlayback | None:
    """The state of the request being handled, when the middleware or decorator is active:
    how players rendered without a request (``Media.player()``, Jinja2) still mark it."""
    return _current.get()


def tokens_minted(request: HttpRequest) -> bool:
    """Whether a playback token was minted while handling ``request``."""
    if getattr(request, MINTED_ATTRIBUTE, False):
        return True
    state = getattr(request, _STATE_ATTRIBUTE, None)
    return isinstance(state, RequestPlayback) and state.minted


def keep_out_of_caches(response: HttpResponseBase) -> HttpResponseBase:
    """Mark ``response`` private, not to be stored, already stale."""
    patch_cache_control(response, private=True, no_store=True, max_age=0)
    return response


def _protect(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    if tokens_minted(request):
        keep_out_of_caches(response)
    return response


def _protect_after_render(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    # A TemplateResponse renders after the view (and a decorator) returned: look then.
    if getattr(response, "is_rendered", True) is False:
        response.add_post_render_callback(  # type: ignore[attr-defined]
            lambda rendered: _protect(request, rendered)
        )
        return response
    return _protect(request, response)


@contextlib.contextmanager
def _active(request: HttpRequest) -> Iterator[RequestPlayback]:
    state = playback_for_request(request)
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)


class PlaybackCacheMiddleware:
    """Responses whose rendering minted a playback token get ``Cache-Control: private,
    no-store, max-age=0``; others are untouched. Place it after UpdateCacheMiddleware."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.async_mode:
            return self.__acall__(request)
        with _active(request):
            response = self.get_response(request)
        return _protect(request, response)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        with _active(request):
            response = await self.get_response(request)
        return _protect(request, response)


def fastpix_playback_page(view: V) -> V:
    """``PlaybackCacheMiddleware`` for one view: its response is kept out of caches when it
    carries a playback token. Goes below ``@cache_page`` (applied before it)."""
    if iscoroutinefunction(view):

        @wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            with _active(request):
                response = await view(request, *args, **kwargs)
            return _protect_after_render(request, response)

        return cast(V, async_wrapper)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        with _active(request):
            response = view(request, *args, **kwargs)
        return _protect_after_render(request, response)

    return cast(V, wrapper)
