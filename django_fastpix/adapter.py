"""The adapter: site-specific media creation behaviour without forking the app.

Subclass ``FastPixAdapter``, override what your site decides differently, and name the class
in ``FASTPIX["ADAPTER"]`` (a dotted path). Every method has the app's default behaviour, so a
subclass overrides only what it needs::

    class LessonAdapter(FastPixAdapter):
        def should_create(self, source, instance):
            return instance.published

        def create_options(self, media):
            return {"max_resolution": "1080p"}
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from django.db import models
from django.utils.module_loading import import_string

from .conf import fastpix_settings
from .models import Media, Workspace
from .sources import MediaSource

logger = logging.getLogger(__name__)


class FastPixAdapter:
    """Decides, for a saved source object, whether and how its FastPix media is created."""

    def should_create(self, source: MediaSource, instance: models.Model) -> bool:
        """Whether this save (with a new or changed URL) makes a media at all."""
        return True

    def workspace_for(self, source: MediaSource, instance: models.Model) -> Workspace | str:
        """The workspace (or its slug) the media belongs to; default: the source's option."""
        chosen = source.workspace(instance) if callable(source.workspace) else source.workspace
        return chosen if isinstance(chosen, Workspace) else str(chosen)

    def title_for(self, source: MediaSource, instance: models.Model) -> str:
        """The media's title in FastPix; default: the source's ``title`` option."""
        return source.title_of(instance)

    def metadata_for(self, source: MediaSource, instance: models.Model) -> dict[str, str]:
        """FastPix metadata for the media (the app adds its reference key)."""
        return source.metadata_of(instance)

    def access_policy_for(self, source: MediaSource, instance: models.Model) -> str:
        """``"public"`` or ``"private"``; default: the source's ``access_policy`` option."""
        return source.access_policy_of(instance)

    def create_options(self, media: Media) -> dict[str, Any]:
        """Extra keyword arguments for ``FastPixClient.create_media`` (e.g. ``max_resolution``)."""
        return {}

    def creation_failed(self, media: Media, reason: str) -> None:
        """Called once when a media's creation has failed for good (after commit)."""


def get_adapter() -> FastPixAdapter:
    """An instance of the class named by ``FASTPIX["ADAPTER"]``."""
    return _adapter_class(str(fastpix_settings.ADAPTER))()


@cache
def _adapter_class(path: str) -> type[FastPixAdapter]:
    adapter = import_string(path)
    if not (isinstance(adapter, type) and issubclass(adapter, FastPixAdapter)):
        raise TypeError(f"FASTPIX['ADAPTER'] = {path!r} is not a FastPixAdapter subclass.")
    return adapter
