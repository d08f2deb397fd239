"""A browser-upload widget for a ``VideoField``: the file goes straight to FastPix.

    class LessonForm(forms.ModelForm):
        class Meta:
            model = Lesson
            fields = ["title", "video"]
            widgets = {"video": UploadWidget(workspace="prod")}

    form = LessonForm(instance=lesson)
    bind_upload_widget(form, "video", workspace="prod")   # fills lesson.video after upload

The widget renders the field's value (a media pk) in a hidden input, a file input, a
progress bar, pause/resume/cancel buttons and a status line; ``upload.js`` (and the vendored
``@fastpix/resumable-uploads``) do the rest in the browser: they ask the upload view for a
signed FastPix URL with the widget's signed context, send the file there, wait for the media
and put its pk in the hidden input. Without JavaScript the field keeps its current value.

The signed context names the workspace, the access policy and, when bound to a saved object,
the object and field that receive the media even if the form is never submitted. The context
is rendered per form, so a page's forms cannot upload into another workspace or object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from .conf import fastpix_settings
from .models import Workspace
from .services.uploads import upload_context
from .widgets import VideoWidget

logger = logging.getLogger(__name__)

UPLOAD_SCRIPT = "django_fastpix/upload.js"
VENDORED_UPLOADER = "django_fastpix/vendor/resumable-uploads/uploads.js"
DEFAULT_ACCEPT = "video/*,audio/*"

WorkspaceSpec = Workspace | str | Callable[[Any], Workspace | str | None] | None


def uploader_script_url() -> str:
    """FASTPIX["UPLOAD_SCRIPT_URL"], or the vendored @fastpix/resumable-uploads (static)."""
    return fastpix_settings.UPLOAD_SCRIPT_URL or VENDORED_UPLOADER


def _resolve_workspace(spec: WorkspaceSpec, instance: Any) -> Workspace | None:
    if callable(spec) and not isinstance(spec, Workspace):
        spec = spec(instance)
    if spec is None or isinstance(spec, Workspace):
        return spec
    workspace = Workspace.objects.filter(slug=str(spec)).first()
    if workspace is None:
        raise ImproperlyConfigured(f"UploadWidget: no FastPix workspace with slug {spec!r}.")
    return workspace


class UploadWidget(forms.Widget):
    """The value is a media pk, carried in a hidden input; the rest is the upload UI.

    Not ``is_hidden`` (the admin would hide the whole row), though its input is hidden.

    ``workspace``: a ``Workspace``, its slug, or ``callable(instance)`` returning either (None:
    uploads unavailable for this object). ``target`` / ``field_name``: the saved object and its
    ``VideoField`` the media is written to when it arrives (``bind_upload_widget`` sets them).
    ``access_policy``: "public" or "private". ``preview_options``: as ``VideoWidget``'s.
    ``include_scripts``: render the two ``<script src>`` tags in the widget itself (they are
    also in the widget's ``media``; ``upload.js`` runs once however often it is included).
    """

    template_name = "django_fastpix/widgets/upload.html"

    def __init__(
        self,
        attrs: dict[str, Any] | None = None,
        *,
        workspace: WorkspaceSpec = None,
        target: models.Model | None = None,
        field_name: str = "",
        access_policy: str = "public",
        accept: str = DEFAULT_ACCEPT,
        preview_options: Mapping[str, Any] | None = None,
        include_scripts: bool = True,
    ) -> None:
        super().__init__(attrs)
        self.workspace = workspace
        self.target = target
        # The form's object, saved or not: what a callable ``workspace`` is given.
        self.instance: Any = target
        self.field_name = field_name
        self.access_policy = access_policy
        self.accept = accept
        self.preview_options = dict(preview_options or {})
        self.include_scripts = include_scripts
        # Set by ModelChoiceField (VideoField's form field) like on any choice widget: the
        # preview only shows a media among the field's choices.
        self.choices: Any = ()

    @property
    def media(self) -> forms.Media:
        return forms.Media(js=[uploader_script_url(), UPLOAD_SCRIPT])

    def script_urls(self) -> list[str]:
        media = self.media
        return [media.absolute_path(path) for path in (uploader_script_url(), UPLOAD_SCRIPT)]

    def use_required_attribute(self, initial: Any) -> bool:
        return False  # the value is a hidden input; the field's validation still applies

    def id_for_label(self, id_: str) -> str:
        return f"{id_}_file" if id_ else id_

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, (list, tuple)):
            value = value[0] if value else None
        if isinstance(value, models.Model):
            value = value.pk
        return None if value in (None, "") else str(value)

    def signed_context(self) -> str:
        """The signed upload context for this widget's workspace and target ('' if none)."""
        target = self.target if self.target is not None and self.target.pk is not None else None
        workspace = _resolve_workspace(self.workspace, self.instance)
        if workspace is None:
            return ""
        return upload_context(
            workspace,
            target=target,
            field_name=self.field_name if target is not None else "",
            access_policy=self.access_policy,
        )

    def preview(self, value: Any) -> SafeString:
        """The current media's player or fallback, as ``VideoWidget`` shows it."""
        if value in (None, ""):
            return mark_safe("")
        video = VideoWidget(preview_options=self.preview_options)
        video.choices = self.choices
        return video.preview(value)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        if self.workspace is None:
            raise ImproperlyConfigured(
                f"UploadWidget for {name!r} has no workspace: pass UploadWidget(workspace=...) "
                "or call bind_upload_widget(form, field, workspace=...)."
            )
        signed = self.signed_context()
        widget["upload_context"] = signed
        widget["bound"] = bool(signed and self.field_name and self.target is not None)
        widget["create_url"] = reverse("django_fastpix:upload-create")
        widget["unavailable"] = "" if signed else gettext("Uploads are not available here yet.")
        widget["file_id"] = self.id_for_label(widget["attrs"].get("id", ""))
        widget["accept"] = self.accept
        widget["csrf_cookie_name"] = settings.CSRF_COOKIE_NAME
        widget["preview"] = self.preview(value)
        widget["include_scripts"] = self.include_scripts
        widget["scripts"] = self.script_urls()
        return context


def bind_upload_widget(
    form: forms.BaseForm,
    field_name: str,
    *,
    workspace: WorkspaceSpec,
    target: models.Model | None = None,
    access_policy: str | None = None,
    **widget_options: Any,
) -> UploadWidget:
    """Give ``form[field_name]`` an ``UploadWidget`` that knows its workspace and object.

    ``target`` defaults to ``form.instance`` when that is saved (a ModelForm editing an
    object): the upload then fills the object's field by itself when FastPix reports the
    media, also if the form is never submitted. A widget the field already has keeps its
    other options (``access_policy`` stays unless given); ``widget_options`` go to a new one.
    """
    field = form.fields[field_name]
    instance = getattr(form, "instance", None)
    if target is None and isinstance(instance, models.Model) and instance.pk is not None:
        target = instance
    widget = field.widget
    if not isinstance(widget, UploadWidget):
        widget = UploadWidget(attrs=dict(field.widget.attrs), **widget_options)
        widget.choices = getattr(field, "choices", ())
        field.widget = widget
    widget.workspace = workspace
    widget.target = target
    widget.instance = target if target is not None else instance
    widget.field_name = field_name if target is not None else ""
    if access_policy is not None:
        widget.access_policy = access_policy
    return widget
