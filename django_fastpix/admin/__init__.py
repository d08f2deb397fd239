"""The FastPix admin: registered on the default site when django.contrib.admin autodiscovers."""

from __future__ import annotations

from django.contrib import admin

from ..models import AccessToken, Media, SigningKey, WebhookEvent, Workspace
from .media import MediaAdmin, PlaybackIdInline
from .signing_keys import SigningKeyAdmin
from .tokens import AccessTokenAdmin
from .webhooks import WebhookEventAdmin
from .workspaces import WorkspaceAdmin

admin.site.register(Workspace, WorkspaceAdmin)
admin.site.register(AccessToken, AccessTokenAdmin)
admin.site.register(SigningKey, SigningKeyAdmin)
admin.site.register(Media, MediaAdmin)
admin.site.register(WebhookEvent, WebhookEventAdmin)

__all__ = [
    "AccessTokenAdmin",
    "MediaAdmin",
    "PlaybackIdInline",
    "SigningKeyAdmin",
    "WebhookEventAdmin",
    "WorkspaceAdmin",
]
