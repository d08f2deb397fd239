"""Admin for stored webhook events: read-only, with a replay action."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy

from ..exceptions import FastPixError
from ..models import WebhookEvent, WebhookOutcome
from ..services.webhooks import replay_event
from .badges import badge
from .text import row_message


class WebhookEventAdmin(admin.ModelAdmin):
    """Every delivery FastPix made, as received; only replay changes anything."""

    list_display = (
        "type",
        "workspace",
        "event_id",
        "object_id",
        "outcome_badge",
        "received_at",
        "deliveries",
    )
    list_filter = ("type", "outcome", "workspace")
    search_fields = ("event_id", "object_id")
    list_select_related = ("workspace",)
    actions = ["replay_events"]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "type",
                    "workspace",
                    "event_id",
                    "object_type",
                    "object_id",
                    "outcome_badge",
                    "deliveries",
                )
            },
        ),
        (gettext_lazy("Dates"), {"fields": ("occurred_at", "received_at", "processed_at")}),
        (gettext_lazy("Payload"), {"fields": ("pretty_payload",)}),
        (
            gettext_lazy("Failure"),
            {"fields": ("error", "traceback"), "classes": ("collapse",)},
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field for _, options in self.fieldsets for field in options["fields"]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WebhookEvent]:
        # The list shows neither; a page of large payloads would be read for nothing.
        return super().get_queryset(request).defer("payload", "traceback")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # events come from FastPix only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a stored delivery is evidence of what FastPix sent

    def has_replay_permission(self, request: HttpRequest) -> bool:
        """Gate of the replay action: the model's change permission."""
        return super().has_change_permission(request)

    @admin.display(description=gettext_lazy("outcome"), ordering="outcome")
    def outcome_badge(self, obj: WebhookEvent) -> SafeString:
        """The processing outcome as a coloured badge."""
        return badge(obj.outcome, obj.get_outcome_display())

    @admin.display(description=gettext_lazy("payload"))
    def pretty_payload(self, obj: WebhookEvent) -> SafeString:
        """The payload as indented JSON."""
        text = json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre class="fastpix-payload">{}</pre>', text)

    @admin.action(description=gettext_lazy("Replay (process again)"), permissions=["replay"])
    def replay_events(self, request: HttpRequest, queryset: QuerySet[WebhookEvent]) -> None:
        """Process stored events again, e.g. after fixing what made them fail."""
        for event in queryset.defer(None):
            try:
                replay_event(event)  # records the outcome on the event
            except FastPixError as exc:
                self.message_user(request, row_message(event, exc), messages.ERROR)
                continue
            if event.outcome == WebhookOutcome.FAILED:
                text = gettext("%(event)s: replay failed (%(error)s)") % {
                    "event": event,
                    "error": event.error,
                }
                self.message_user(request, text, messages.ERROR)
            else:
                text = gettext("%(event)s: replayed (%(outcome)s).") % {
                    "event": event,
                    "outcome": event.get_outcome_display(),
                }
                self.message_user(request, text, messages.SUCCESS)
