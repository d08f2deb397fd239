"""``VideoField``: a site model's video, as a link to a FastPix ``Media``.

    class Lesson(models.Model):
        video = VideoField()          # lesson.video is a Media (or None)

    Lesson.objects.filter(video__status="ready")
    Lesson.objects.select_related("video").prefetch_related("video__playback_ids")
    {% fastpix_player lesson.video %}   or   lesson.video.player(request=request)

A ``ForeignKey`` to ``django_fastpix.Media`` with the defaults a video wants: optional, set
to NULL when the media row is deleted, no reverse accessor on ``Media``. A MEDIA_SOURCES
entry with ``"video_field": "video"`` points it at the media made from the object's URL; a
site may also assign any media itself. Its form field is a select with a preview of the
current video (``VideoWidget``).

Importing this module also connects ``Media.player()`` and the other playback methods of
the models to their implementation (see ``models.media.PlaybackSurface``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from django import forms
from django.db import models
from django.http import HttpRequest
from django.utils.safestring import SafeString

from .models.media import Media, PlaybackId, connect_playback
from .services.playback import image_url, stream_url
from .templatetags.playback_html import (
    render_player,
    signed_image_url,
    signed_stream_url,
    state_for_call,
)
from .widgets import VideoChoiceField, VideoWidget

MEDIA_MODEL = "django_fastpix.Media"
# What VideoField() means; deconstruct() leaves these out so migrations stay short.
_DEFAULTS: dict[str, Any] = {"null": True, "blank": True, "related_name": "+"}


class VideoField(models.ForeignKey):
    """A link to the FastPix ``Media`` that is this object's video (NULL: none yet)."""

    description = "A FastPix video"

    def __init__(
        self,
        to: Any = MEDIA_MODEL,
        on_delete: Any = models.SET_NULL,
        **kwargs: Any,
    ) -> None:
        for name, default in _DEFAULTS.items():
            kwargs.setdefault(name, default)
        super().__init__(to, on_delete, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        # Field.deconstruct() omits values equal to Field's defaults (null=False...), which
        # are not ours: state each explicitly, then drop those equal to VideoField's.
        kwargs["null"] = self.null
        kwargs["blank"] = self.blank
        kwargs["related_name"] = self.remote_field.related_name
        for key, default in _DEFAULTS.items():
            if kwargs.get(key) == default:
                del kwargs[key]
        if kwargs.get("on_delete") is models.SET_NULL:
            del kwargs["on_delete"]
        if str(kwargs.get("to", "")).lower() == MEDIA_MODEL.lower():
            del kwargs["to"]
        return name, path, args, kwargs

    def formfield(self, **kwargs: Any) -> forms.Field | None:
        # setdefault: the admin's raw_id_fields and autocomplete_fields keep their widgets.
        kwargs.setdefault("form_class", VideoChoiceField)
        kwargs.setdefault("widget", VideoWidget)
        return super().formfield(**kwargs)


class MediaPlayback:
    """The implementation behind ``Media.player()``, ``thumbnail_url()``, ``clip_url()``,
    ``stream_url()`` and ``PlaybackId.stream_url`` / ``thumbnail_url``."""

    def player(
        self, media: Media, options: Mapping[str, Any], request: HttpRequest | None
    ) -> SafeString:
        return render_player(media, options, state_for_call(request))

    def image_url(
        self,
        media: Media,
        kind: Literal["thumbnail", "clip"],
        options: Mapping[str, Any],
        request: HttpRequest | None,
    ) -> str:
        return signed_image_url(media, kind, options, state_for_call(request))

    def stream_url(self, media: Media, request: HttpRequest | None) -> str:
        return signed_stream_url(media, state_for_call(request))

    def playback_url(self, playback: PlaybackId, kind: Literal["stream", "thumbnail"]) -> str:
        if kind == "stream":
            return stream_url(playback.fastpix_id)
        return image_url(playback.fastpix_id, "thumbnail", format="png")


connect_playback(MediaPlayback())
