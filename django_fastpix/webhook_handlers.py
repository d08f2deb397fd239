"""Per-event-type webhook handlers: site code that reacts to FastPix events.

::

    from django_fastpix.webhook_handlers import fastpix_webhook

    @fastpix_webhook("video.media.ready")
    def publish_lesson(event, media):
        ...

A handler runs for every stored delivery of its event types (``"*"``: all), after the app has
applied the event, inside the same transaction: if a handler raises, the event's changes are
rolled back, its failure (with traceback) is recorded on the event like any processing
failure, FastPix is answered 500 and delivers it again. So a handler must be idempotent: a
redelivery, a replay from the admin or a retry after a failure runs it again. ``media`` is the
local ``Media`` row a media event applied to (``None`` for other events).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)

ALL_EVENTS = "*"

_handlers: dict[str, list[Handler]] = {}


def fastpix_webhook(*event_types: str) -> Callable[[H], H]:
    """Register the decorated ``handler(event, media)`` for these event types."""
    if not event_types or not all(isinstance(t, str) and t.strip() for t in event_types):
        raise TypeError('fastpix_webhook needs event types, e.g. "video.media.ready".')

    def register(handler: H) -> H:
        for event_type in event_types:
            registered = _handlers.setdefault(event_type.strip(), [])
            if handler not in registered:  # a module imported twice registers once
                registered.append(handler)
        return handler

    return register


def handlers_for(event_type: str) -> list[Handler]:
    """The handlers to run for ``event_type``, in registration order (``"*"`` ones last)."""
    return [*_handlers.get(event_type, []), *_handlers.get(ALL_EVENTS, [])]


def unregister(handler: Handler) -> None:
    """Remove ``handler`` from every event type (for tests and reloading)."""
    for registered in _handlers.values():
        while handler in registered:
            registered.remove(handler)
