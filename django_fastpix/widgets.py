"""The form side of ``VideoField``: a media select that previews the current video.

In a site model's admin change form the video shows where it is chosen: the player when the
media is ready, a processing placeholder (with ``preview_options={"poster": url}``, that
image) while it is on its way, a failed or unavailable notice otherwise. The preview is of the
saved value: choosing another media in the select shows it after saving.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.safestring import SafeString, mark_safe

from .models import Media
from .templatetags.playback_html import render_player, state_for_call


class VideoChoiceField(forms.ModelChoiceField):
    """Media choices labelled with their status, so a processing or failed one is obvious."""

    def label_from_instance(self, obj: Any) -> str:
        status = getattr(obj, "get_status_display", None)
        return f"{obj} ({status()})" if callable(status) else str(obj)


class VideoWidget(forms.Select):
    """A select of media followed by a preview of the selected (saved) one."""

    template_name = "django_fastpix/widgets/video.html"

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        choices: Any = (),
        *,
        preview_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(attrs, choices)
        # Player options for the preview (e.g. {"show_error": True} for staff-only forms).
        self.preview_options = dict(preview_options or {})

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["preview"] = self.preview(value)
        return context

    def preview(self, value: Any) -> SafeString:
        """The player or fallback of the media ``value`` names; '' when none is chosen."""
        media = self._chosen(value)
        if media is None:
            return mark_safe("")
        return render_player(media, self.preview_options, state_for_call(None))

    def _chosen(self, value: Any) -> Media | None:
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if isinstance(value, Media):
            return value
        if value in (None, ""):
            return None
        try:
            pk = Media._meta.pk.to_python(value)
        except ValidationError:
            return None
        # Only among the field's choices (its queryset and limit_choices_to): a re-shown form
        # carries whatever id was posted, and must not preview (sign) any other media.
        queryset = getattr(self.choices, "queryset", None)
        if queryset is None or queryset.model is not Media:
            queryset = Media.objects.none()
        return (
            queryset.select_related("workspace")
            .prefetch_related("playback_ids")
            .filter(pk=pk)
            .first()
        )
