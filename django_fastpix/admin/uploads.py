"""Admin for browser uploads: a read-only record of where each file went, cancel and sweep.

Rows are made by the upload view and finished by FastPix's events; nothing here edits them.
The signed upload URL is not stored, so no page can show it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy, ngettext

from ..exceptions import FastPixError
from ..models import Upload, UploadStatus
from ..services.uploads import cancel_upload, sweep_uploads
from .badges import badge
from .bulk import WithoutBulkDelete
from .confirmation import confirmation_page, submitted_form
from .forms import ConfirmForm
from .text import row_message
from .tokens import actor

FIELDS = (
    "workspace",
    "fastpix_id",
    "status_badge",
    "error",
    "media_link",
    "target_link",
    "field_name",
    "access_policy",
    "filename",
    "size",
    "created_by",
    "created_at",
    "expires_at",
    "finished_at",
)


class UploadAdmin(WithoutBulkDelete):
    """Uploads as the site recorded them; cancel waiting ones, sweep stale ones."""

    list_display = (
        "workspace",
        "fastpix_id",
        "status_badge",
        "media_link",
        "target_link",
        "filename",
        "size_display",
        "created_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "workspace")
    search_fields = ("fastpix_id", "filename")
    list_select_related = ("workspace", "media", "created_by", "content_type")
    fields = FIELDS
    readonly_fields = FIELDS
    actions = ["cancel_uploads", "sweep_stale_uploads"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Upload]:
        # One query for the targets of a whole page.
        return super().get_queryset(request).prefetch_related("target")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # uploads are started by the browser, through the upload view

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the actions change them (through FastPix)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a row is the record of what was uploaded where

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        """Gate of the actions: the model's change permission (the form itself is read-only)."""
        return super().has_change_permission(request)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, obj: Upload) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description=gettext_lazy("media"), ordering="media")
    def media_link(self, obj: Upload) -> SafeString | str:
        if obj.media is None:
            return "—"
        url = reverse(
            "admin:django_fastpix_media_change",
            args=[obj.media.pk],
            current_app=self.admin_site.name,
        )
        return format_html('<a href="{}">{}</a>', url, obj.media)

    @admin.display(description=gettext_lazy("size"), ordering="size")
    def size_display(self, obj: Upload) -> str:
        return filesizeformat(obj.size) if obj.size is not None else "—"

    @admin.display(description=gettext_lazy("for"))
    def target_link(self, obj: Upload) -> SafeString | str:
        """The site object the video is for (a link when the admin has it)."""
        if not obj.content_type_id:
            return "—"
        target = obj.target
        if target is None:
            return gettext("%(type)s %(id)s (gone)") % {
                "type": obj.content_type,
                "id": obj.object_id,
            }
        label = f"{target}.{obj.field_name}" if obj.field_name else str(target)
        opts = target._meta
        try:
            url = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=[target.pk],
                current_app=self.admin_site.name,
            )
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.action(description=gettext_lazy("Cancel selected uploads…"), permissions=["cancel"])
    def cancel_uploads(
        self, request: HttpRequest, queryset: QuerySet[Upload]
    ) -> TemplateResponse | None:
        """Cancel waiting uploads in FastPix (their URLs stop accepting the file), then here."""
        waiting = queryset.filter(status=UploadStatus.WAITING).select_related("workspace")
        form = submitted_form(request, ConfirmForm)
        if not (form.is_bound and form.is_valid()):
            items = [f"{u.fastpix_id} · {u.workspace} · {u.filename or '—'}" for u in waiting]
            if not items:
                self.message_user(
                    request, gettext("None of the selected uploads is waiting."), messages.INFO
                )
                return None
            return confirmation_page(
                self,
                request,
                queryset,
                action="cancel_uploads",
                title=gettext("Cancel uploads"),
                intro=ngettext(
                    "This waiting upload is cancelled in FastPix; a file still being sent to it "
                    "is refused:",
                    "These %(count)s waiting uploads are cancelled in FastPix; files still being "
                    "sent to them are refused:",
                    len(items),
                )
                % {"count": len(items)},
                form=form,
                items=items,
                submit_label=gettext("Yes, cancel them"),
            )
        skipped = queryset.exclude(status=UploadStatus.WAITING).count()
        if skipped:
            text = ngettext(
                "%(count)s selected upload was not waiting: left as it is.",
                "%(count)s selected uploads were not waiting: left as they are.",
                skipped,
            )
            self.message_user(request, text % {"count": skipped}, messages.WARNING)
        for upload in waiting:
            try:
                cancel_upload(upload, by=actor(request))
            except FastPixError as exc:
                self.message_user(request, row_message(upload.fastpix_id, exc), messages.ERROR)
                continue
            self.log_change(request, upload, "Cancelled in FastPix")
            text = gettext("%(upload)s: cancelled.") % {"upload": upload.fastpix_id}
            self.message_user(request, text, messages.SUCCESS)
        return None

    @admin.action(description=gettext_lazy("Sweep stale uploads"), permissions=["cancel"])
    def sweep_stale_uploads(self, request: HttpRequest, queryset: QuerySet[Upload]) -> None:
        """Link uploads whose media arrived unnoticed; time out expired ones (all rows)."""
        result = sweep_uploads()
        text = gettext(
            "Swept all uploads: %(linked)s linked to their media, %(timed_out)s timed out."
        )
        values = {"linked": result.linked, "timed_out": result.timed_out}
        self.message_user(request, text % values, messages.SUCCESS)
