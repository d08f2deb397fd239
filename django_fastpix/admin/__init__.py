"""The FastPix admin: registered on the default site when django.contrib.admin autodiscovers."""

from __future__ import annotations

from django.contrib import admin

from ..models import (
    AccessToken,
    LiveStream,
    Media,
    SigningKey,
    SimulcastTarget,
    Upload,
    WebhookEvent,
    Workspace,
)
from .live import LiveStreamAdmin, SimulcastTargetAdmin, SimulcastTargetInline
from .media import MediaAdmin, PlaybackIdInline
from .signing_keys import SigningKeyAdmin
from .tokens import AccessTokenAdmin
from .uploads import UploadAdmin
from .webhooks import WebhookEventAdmin
from .workspaces import WorkspaceAdmin

admin.site.register(Workspace, WorkspaceAdmin)
admin.site.register(AccessToken, AccessTokenAdmin)
admin.site.register(SigningKey, SigningKeyAdmin)
admin.site.register(Media, MediaAdmin)
admin.site.register(WebhookEvent, WebhookEventAdmin)
admin.site.register(Upload, UploadAdmin)
admin.site.register(LiveStream, LiveStreamAdmin)
admin.site.register(SimulcastTarget, SimulcastTargetAdmin)

__all__ = [
    "AccessTokenAdmin",
    "LiveStreamAdmin",
    "MediaAdmin",
    "PlaybackIdInline",
    "SigningKeyAdmin",
    "SimulcastTargetAdmin",
    "SimulcastTargetInline",
    "UploadAdmin",
    "WebhookEventAdmin",
    "WorkspaceAdmin",
]
