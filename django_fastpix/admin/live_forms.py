"""Forms of the live-stream admin pages: a new stream, a new simulcast target."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.debug import sensitive_variables

from ..models import LiveStream, LiveStreamStatus, Workspace
from ..services.live import RESOLUTIONS
from .forms import _write_only

ACCESS_POLICIES = (
    ("public", gettext_lazy("Public (anyone with the playback id can watch)")),
    ("private", gettext_lazy("Private (signed playback tokens only)")),
)


class NewLiveStreamForm(forms.Form):
    """What FastPix creates a live stream with; its stream key is shown once, afterwards."""

    workspace = forms.ModelChoiceField(
        # Naming a workspace needs none of its secrets.
        queryset=Workspace.objects.defer("webhook_secret", "previous_webhook_secret").order_by(
            "name"
        ),
        label=gettext_lazy("Workspace"),
        help_text=gettext_lazy("FastPix creates the stream with a Video token of this workspace."),
    )
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200, required=False)
    access_policy = forms.ChoiceField(
        label=gettext_lazy("Access policy"), choices=ACCESS_POLICIES, initial="public"
    )
    reconnect_window = forms.IntegerField(
        label=gettext_lazy("Reconnect window (seconds)"),
        min_value=60,
        max_value=1800,
        initial=60,
        help_text=gettext_lazy(
            "How long FastPix waits for a dropped encoder to come back before it ends the "
            "broadcast (60 to 1800)."
        ),
    )
    enable_recording = forms.BooleanField(
        label=gettext_lazy("Record the broadcast"),
        required=False,
        initial=True,
        help_text=gettext_lazy("Each broadcast becomes a media (a recording of this stream)."),
    )
    max_resolution = forms.ChoiceField(
        label=gettext_lazy("Maximum resolution"),
        choices=[("", gettext_lazy("FastPix's default")), *((r, r) for r in RESOLUTIONS)],
        required=False,
    )


def _stream_choices() -> Any:
    return (
        LiveStream.objects.exclude(status=LiveStreamStatus.DELETED)
        .defer("stream_key", "srt_secret")
        .select_related("workspace")
        .order_by("-created_at")
    )


class LiveStreamChoiceField(forms.ModelChoiceField):
    """Titles repeat: the workspace and the FastPix id tell the streams apart."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj} · {obj.workspace} · {obj.fastpix_id}"


class SimulcastTargetForm(forms.Form):
    """A platform to restream to: its URL, and its stream key (write-only, stored encrypted)."""

    live_stream = LiveStreamChoiceField(
        queryset=LiveStream.objects.none(), label=gettext_lazy("Live stream")
    )
    url = forms.CharField(
        label=gettext_lazy("RTMP(S) URL"),
        max_length=500,
        help_text=gettext_lazy("The platform's ingest URL, e.g. rtmps://live.example.com/app."),
    )
    stream_key = _write_only(
        gettext_lazy("Stream key"),
        gettext_lazy(
            "The platform's stream key. Stored encrypted and never displayed again, not even "
            "after an error: re-enter it then."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["live_stream"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = _stream_choices()

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        if not url.startswith(("rtmp://", "rtmps://")):
            raise forms.ValidationError(
                gettext("A simulcast URL starts with rtmp:// or rtmps://."), code="scheme"
            )
        return url

    @sensitive_variables()
    def clean_stream_key(self) -> str:
        value: str = self.cleaned_data["stream_key"]
        if "\x00" in value:
            raise forms.ValidationError(
                gettext("The stream key contains a NUL character."), code="null"
            )
        return value
