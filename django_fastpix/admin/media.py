"""Admin for media: a read-only mirror of FastPix, with actions that call the media services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy, ngettext

from ..exceptions import FastPixError
from ..models import Media, MediaStatus, PlaybackId
from ..services.media import delete_remote_media, refresh_media, retry_media_creation
from .badges import badge
from .bulk import WithoutBulkDelete
from .confirmation import confirmation_page, submitted_form
from .forms import ConfirmForm
from .text import row_message

RETRYABLE = (MediaStatus.FAILED, MediaStatus.PENDING)


class PlaybackIdInline(admin.TabularInline):
    """A media's playback ids, as FastPix reported them."""

    model = PlaybackId
    extra = 0
    can_delete = False
    fields = ("fastpix_id", "access_policy", "stream_link", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("stream"))
    def stream_link(self, obj: PlaybackId) -> SafeString | str:
        """The HLS URL of a public playback id."""
        if obj.access_policy != "public":
            return gettext("signed playback only")
        return format_html('<a href="{0}" rel="noopener noreferrer">{0}</a>', obj.stream_url)


class MediaAdmin(WithoutBulkDelete):
    """Media as FastPix reported them; changes happen in FastPix, through the actions."""

    list_display = (
        "display_title",
        "workspace",
        "status_badge",
        "fastpix_id",
        "duration",
        "created_at",
        "preview",
    )
    list_filter = ("status", "workspace")
    search_fields = ("title", "fastpix_id")
    list_select_related = ("workspace",)
    inlines = [PlaybackIdInline]
    actions = ["refresh_from_fastpix", "retry_creation", "delete_remotely"]
    fieldsets = (
        (None, {"fields": ("title", "workspace", "status_badge", "fastpix_id", "reference")}),
        (
            gettext_lazy("Source"),
            {"fields": ("source_url", "upload_id", "content_type", "object_id")},
        ),
        (
            gettext_lazy("FastPix details"),
            {
                "fields": (
                    "access_policy",
                    "duration",
                    "aspect_ratio",
                    "max_resolution",
                    "source_resolution",
                    "metadata",
                    "error",
                )
            },
        ),
        (
            gettext_lazy("Dates"),
            {"fields": ("created_at", "updated_at", "last_synced_at", "last_event_at")},
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field for _, options in self.fieldsets for field in options["fields"]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Media]:
        # One query for the playback ids of the whole page, however many rows it has.
        return super().get_queryset(request).prefetch_related("playback_ids")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # media are created by the site's saves and uploads, through services

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a local edit would not reach FastPix; the actions do

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Deleting the row alone would orphan the FastPix media: only rows with nothing left
        # in FastPix go. "Delete remotely" is the way for the others.
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or not obj.fastpix_id or obj.status == MediaStatus.DELETED)

    def has_sync_permission(self, request: HttpRequest) -> bool:
        """Gate of the actions: the model's change permission (the form itself is read-only)."""
        return super().has_change_permission(request)

    @admin.display(description=gettext_lazy("title"), ordering="title")
    def display_title(self, obj: Media) -> str:
        """The title, or what identifies an untitled media."""
        return str(obj)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, obj: Media) -> SafeString:
        """The status as a coloured badge."""
        return badge(obj.status, obj.get_status_display())

    @admin.display(description=gettext_lazy("preview"))
    def preview(self, obj: Media) -> SafeString | str:
        """A thumbnail linking to the stream, once the media is ready."""
        if obj.status != MediaStatus.READY:
            return "—"
        # .all() reads the prefetched list; .filter() here would query once per row.
        public = [p for p in obj.playback_ids.all() if p.access_policy == "public"]
        if not public:
            return gettext("signed playback only") if obj.playback_ids.all() else "—"
        playback = public[0]
        return format_html(
            '<a href="{}" rel="noopener noreferrer"><img src="{}" alt="{}" '
            'loading="lazy" width="96"></a>',
            playback.stream_url,
            playback.thumbnail_url,
            gettext("thumbnail"),
        )

    # --- actions: parse, call one service per row, report ---

    def _run(
        self, request: HttpRequest, media: Media, service: Callable[[Media], Media], done: str
    ) -> None:
        """Call ``service`` on one row; ``done`` is a translated text with ``%(media)s`` and
        ``%(status)s`` placeholders."""
        try:
            updated = service(media)
        except FastPixError as exc:
            self.message_user(request, row_message(media, exc), messages.ERROR)
            return
        status = updated.get_status_display()
        self.message_user(request, done % {"media": media, "status": status}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Refresh from FastPix"), permissions=["sync"])
    def refresh_from_fastpix(self, request: HttpRequest, queryset: QuerySet[Media]) -> None:
        """Read each media from FastPix and update the local row."""
        done = gettext("%(media)s: refreshed (status: %(status)s).")
        for media in queryset:
            self._run(request, media, refresh_media, done)

    @admin.action(description=gettext_lazy("Retry creation in FastPix"), permissions=["sync"])
    def retry_creation(self, request: HttpRequest, queryset: QuerySet[Media]) -> None:
        """Create again the media that failed or never got created."""
        done = gettext("%(media)s: creation retried (status: %(status)s).")
        for media in queryset:
            if media.status not in RETRYABLE:
                text = gettext(
                    "%(media)s: %(status)s, only failed or pending media are retried."
                ) % {"media": media, "status": media.get_status_display()}
                self.message_user(request, text, messages.WARNING)
                continue
            self._run(request, media, retry_media_creation, done)

    @admin.action(description=gettext_lazy("Delete in FastPix…"), permissions=["sync"])
    def delete_remotely(
        self, request: HttpRequest, queryset: QuerySet[Media]
    ) -> TemplateResponse | None:
        """Delete media in FastPix after a confirmation page; the rows stay, marked deleted."""
        form = submitted_form(request, ConfirmForm)
        if not (form.is_bound and form.is_valid()):
            no_id = gettext("no FastPix id")
            items = [f"{m} · {m.workspace} · {m.fastpix_id or no_id}" for m in queryset]
            count = len(items)
            return confirmation_page(
                self,
                request,
                queryset,
                action="delete_remotely",
                title=gettext("Delete media in FastPix"),
                intro=ngettext(
                    "This media will be deleted in FastPix, with its renditions and playback ids:",
                    "These %(count)s media will be deleted in FastPix, with their renditions "
                    "and playback ids:",
                    count,
                )
                % {"count": count},
                warning=ngettext(
                    "This cannot be undone: players using it stop working.",
                    "This cannot be undone: players using them stop working.",
                    count,
                ),
                form=form,
                items=items,
                submit_label=gettext("Yes, delete in FastPix"),
            )
        done = gettext("%(media)s: deleted in FastPix (status: %(status)s).")
        for media in queryset:
            if media.status == MediaStatus.DELETED:
                text = gettext("%(media)s: already deleted.") % {"media": media}
                self.message_user(request, text, messages.WARNING)
                continue
            self._run(request, media, delete_remote_media, done)
        return None
