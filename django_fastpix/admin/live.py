"""Admin for live streams and their simulcast targets, through the live services.

A stream key lets anyone holding it broadcast as the site. These pages never load it (deferred)
except in the two responses that show it: the one right after "add" created the stream, and
the audited "Reveal stream key" page. Both render it once, are marked ``no-store``, and put it
in no message, session or history entry. Simulcast keys are typed once (write-only) and never
shown at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from ..exceptions import EncryptionKeyError, FastPixError
from ..models import LiveStream, LiveStreamStatus, SimulcastTarget
from ..services.live import (
    REVEAL_PERMISSION,
    add_simulcast_target,
    create_live_stream,
    delete_live_stream,
    disable_live_stream,
    enable_live_stream,
    finish_live_stream,
    ingest_urls,
    live_viewer_count,
    refresh_live_stream,
    remove_simulcast_target,
    reveal_stream_key,
    set_simulcast_enabled,
)
from .badges import badge
from .bulk import WithoutBulkDelete
from .confirmation import confirmation_page, form_page, submitted_form
from .forms import ConfirmForm
from .live_forms import NewLiveStreamForm, SimulcastTargetForm
from .text import row_message
from .tokens import actor

KEY_TEMPLATE = "admin/django_fastpix/livestream/stream_key.html"
# Never loaded by a page that does not show them.
STREAM_SECRETS = ("stream_key", "srt_secret")


def hint(value: str) -> str:
    """``…abcd`` for the last four characters of a secret ("—" if none is stored)."""
    return f"…{value}" if value else "—"


def admin_change_url(obj: Any, site_name: str) -> str:
    opts = obj._meta
    return reverse(
        f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk], current_app=site_name
    )


def can_reveal_stream_keys(request: HttpRequest) -> bool:
    """Staff holding ``django_fastpix.reveal_stream_key`` (superusers hold every permission)."""
    user = request.user
    return bool(user.is_active and user.is_staff and user.has_perm(REVEAL_PERMISSION))


def key_page(
    request: HttpRequest, modeladmin: admin.ModelAdmin[Any], context: dict[str, Any]
) -> TemplateResponse:
    """The one response that shows a stream key: never cached, never repeated."""
    opts = modeladmin.model._meta
    request.current_app = modeladmin.admin_site.name
    response = TemplateResponse(
        request,
        KEY_TEMPLATE,
        {
            **modeladmin.admin_site.each_context(request),
            "opts": opts,
            "app_label": opts.app_label,
            "subtitle": None,
            "ingest": ingest_urls(),
            **context,
        },
    )
    add_never_cache_headers(response)
    response["Pragma"] = "no-cache"
    return response


class SimulcastTargetInline(admin.TabularInline):
    """The stream's simulcast targets, read-only (managed on the simulcast target pages)."""

    model = SimulcastTarget
    extra = 0
    can_delete = False
    fields = ("url", "key_hint", "is_enabled", "status", "created_at")
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[SimulcastTarget]:
        return super().get_queryset(request).defer("stream_key")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("stream key"))
    def key_hint(self, obj: SimulcastTarget) -> str:
        return hint(obj.stream_key_hint)


class LiveStreamAdmin(WithoutBulkDelete):
    """Live streams as FastPix reported them; they change in FastPix, through the actions."""

    list_display = (
        "display_title",
        "workspace",
        "status_badge",
        "fastpix_id",
        "key_hint",
        "access_policy",
        "enable_recording",
        "created_at",
    )
    list_filter = ("status", "workspace", "access_policy")
    search_fields = ("title", "fastpix_id")
    list_select_related = ("workspace",)
    exclude = STREAM_SECRETS
    inlines = [SimulcastTargetInline]
    change_form_template = "admin/django_fastpix/livestream/change_form.html"
    actions = [
        "refresh_streams",
        "show_viewer_count",
        "enable_streams",
        "disable_streams",
        "finish_streams",
        "delete_streams",
    ]
    fieldsets = (
        (None, {"fields": ("title", "workspace", "status_badge", "fastpix_id", "key_hint")}),
        (gettext_lazy("Broadcasting"), {"fields": ("ingest", "playback", "recordings")}),
        (
            gettext_lazy("Settings"),
            {
                "fields": (
                    "access_policy",
                    "reconnect_window",
                    "enable_recording",
                    "max_resolution",
                )
            },
        ),
        (
            gettext_lazy("Audit"),
            {
                "fields": (
                    "key_revealed_at",
                    "key_revealed_by",
                    "created_by",
                    "created_at",
                    "updated_at",
                    "status_changed_at",
                    "last_event_at",
                )
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [field for _, options in self.fieldsets for field in options["fields"]]

    def get_queryset(self, request: HttpRequest) -> QuerySet[LiveStream]:
        # No list or detail page needs the secrets: not loading them means never decrypting.
        return super().get_queryset(request).defer(*STREAM_SECRETS)

    # --- permissions ---

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a local edit would not reach FastPix; the actions do

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # "Delete in FastPix" keeps the row (marked deleted) and its history

    def has_control_permission(self, request: HttpRequest) -> bool:
        """Gate of the actions: the model's change permission (the form itself is read-only)."""
        return super().has_change_permission(request)

    # --- columns and fields ---

    @admin.display(description=gettext_lazy("title"), ordering="title")
    def display_title(self, obj: LiveStream) -> str:
        return str(obj)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, obj: LiveStream) -> SafeString:
        return badge(obj.status, obj.get_status_display())

    @admin.display(description=gettext_lazy("stream key"))
    def key_hint(self, obj: LiveStream) -> str:
        return hint(obj.stream_key_hint)

    @admin.display(description=gettext_lazy("ingest URLs"))
    def ingest(self, obj: LiveStream) -> SafeString:
        urls = ingest_urls()
        return format_html(
            "RTMPS: <code>{}</code><br>SRT: <code>{}</code>", urls["rtmps"], urls["srt"]
        )

    @admin.display(description=gettext_lazy("playback ids"))
    def playback(self, obj: LiveStream) -> SafeString | str:
        rows = [
            (entry.get("id"), entry.get("accessPolicy") or "public")
            for entry in obj.playback_ids or []
            if isinstance(entry, dict) and entry.get("id")
        ]
        if not rows:
            return "—"
        return format_html_join(mark_safe("<br>"), "<code>{}</code> ({})", rows)

    @admin.display(description=gettext_lazy("recordings"))
    def recordings(self, obj: LiveStream) -> SafeString | str:
        media = list(obj.recordings.order_by("-created_at"))
        if not media:
            return "—"
        site = self.admin_site.name
        return format_html_join(
            mark_safe("<br>"),
            '<a href="{}">{}</a> ({})',
            ((admin_change_url(m, site), m, m.get_status_display()) for m in media),
        )

    # --- pages ---

    def get_urls(self) -> list[URLPattern]:
        opts = self.model._meta
        name = f"{opts.app_label}_{opts.model_name}_reveal_key"
        return [
            path(
                "<path:object_id>/reveal-key/",
                self.admin_site.admin_view(self.reveal_key_view),
                name=name,
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        opts = self.model._meta
        site = self.admin_site.name
        context = dict(extra_context or {})
        if can_reveal_stream_keys(request):
            context["fastpix_reveal_url"] = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_reveal_key",
                args=[object_id],
                current_app=site,
            )
        if self.admin_site.is_registered(SimulcastTarget):
            target_admin = self.admin_site.get_model_admin(SimulcastTarget)
            if target_admin.has_add_permission(request):
                add = reverse("admin:django_fastpix_simulcasttarget_add", current_app=site)
                context["fastpix_add_simulcast_url"] = f"{add}?live_stream={object_id}"
        return super().change_view(request, object_id, form_url, extra_context=context)

    @sensitive_variables("stream")
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Have FastPix create a stream, then show its key once (this response only)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = NewLiveStreamForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            data = form.cleaned_data
            workspace = data["workspace"]
            try:
                stream = create_live_stream(
                    workspace,
                    title=data["title"],
                    access_policy=data["access_policy"],
                    reconnect_window=data["reconnect_window"],
                    enable_recording=data["enable_recording"],
                    max_resolution=data["max_resolution"] or None,
                    by=actor(request),
                )
            except (FastPixError, EncryptionKeyError) as exc:
                self.message_user(request, row_message(workspace, exc), messages.ERROR)
            else:
                self.log_addition(request, stream, "Created in FastPix")
                return key_page(
                    request,
                    self,
                    {
                        "title": gettext("Live stream created"),
                        "stream": stream,
                        # The values create_live_stream holds in memory: shown here, once.
                        "stream_key": stream.stream_key,
                        "srt_secret": stream.srt_secret,
                        "change_url": admin_change_url(stream, self.admin_site.name),
                    },
                )
        return form_page(
            self,
            request,
            title=gettext("Create a live stream"),
            intro=gettext(
                "FastPix creates the stream. Its stream key is shown once, on the next page: "
                "copy it into the encoder then."
            ),
            form=form,
            submit_label=gettext("Create the stream in FastPix"),
        )

    @sensitive_variables("key")
    def reveal_key_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Confirm, then show the stream key once; every reveal is recorded by the service."""
        if not can_reveal_stream_keys(request):
            raise PermissionDenied
        stream = get_object_or_404(self.get_queryset(request), pk=object_id)
        change_url = admin_change_url(stream, self.admin_site.name)
        form = submitted_form(request, ConfirmForm)
        if not (form.is_bound and form.is_valid()):
            return form_page(
                self,
                request,
                title=gettext("Reveal the stream key"),
                intro=gettext(
                    "The stream key of “%(stream)s” (%(id)s) is shown on the next page, once."
                )
                % {"stream": stream, "id": stream.fastpix_id},
                warning=gettext(
                    "Anyone holding the key can broadcast as this site. The reveal is recorded "
                    "with your name. FastPix cannot reset a key: after a leak, create a new "
                    "stream and delete this one."
                ),
                form=form,
                submit_label=gettext("Yes, show the key"),
            )
        try:
            key = reveal_stream_key(stream, request.user)
        except EncryptionKeyError as exc:
            self.message_user(request, row_message(stream, exc), messages.ERROR)
            return HttpResponseRedirect(change_url)
        return key_page(
            request,
            self,
            {
                "title": gettext("Stream key of “%(stream)s”") % {"stream": stream},
                "stream": stream,
                "stream_key": key,
                "srt_secret": stream.srt_secret_value(),
                "revealed": True,
                "change_url": change_url,
            },
        )

    # --- actions: parse, call one service per stream, report ---

    def _run(
        self,
        request: HttpRequest,
        queryset: QuerySet[LiveStream],
        service: Callable[..., LiveStream],
        done: str,
        logged: str,
    ) -> None:
        """Call ``service`` on each row; ``done`` has ``%(stream)s`` and ``%(status)s``."""
        for stream in queryset.select_related("workspace"):
            try:
                service(stream, by=actor(request))
            except FastPixError as exc:
                self.message_user(request, row_message(stream, exc), messages.ERROR)
                continue
            self.log_change(request, stream, logged)
            values = {"stream": stream, "status": stream.get_status_display()}
            self.message_user(request, done % values, messages.SUCCESS)

    def _confirm(
        self,
        request: HttpRequest,
        queryset: QuerySet[LiveStream],
        *,
        action: str,
        title: str,
        intro: str,
        submit_label: str,
        warning: str = "",
    ) -> TemplateResponse | None:
        """The confirmation page, or None once it was confirmed."""
        form = submitted_form(request, ConfirmForm)
        if form.is_bound and form.is_valid():
            return None
        items = [
            f"{s} · {s.workspace} · {s.fastpix_id} · {s.get_status_display()}"
            for s in queryset.select_related("workspace")
        ]
        return confirmation_page(
            self,
            request,
            queryset,
            action=action,
            title=title,
            intro=intro,
            warning=warning,
            form=form,
            items=items,
            submit_label=submit_label,
        )

    @admin.action(description=gettext_lazy("Refresh from FastPix"), permissions=["control"])
    def refresh_streams(self, request: HttpRequest, queryset: QuerySet[LiveStream]) -> None:
        """Read each stream from FastPix and store its state and playback ids."""
        for stream in queryset.select_related("workspace"):
            try:
                refresh_live_stream(stream)
            except FastPixError as exc:
                self.message_user(request, row_message(stream, exc), messages.ERROR)
                continue
            text = gettext("%(stream)s: refreshed (status: %(status)s).")
            values = {"stream": stream, "status": stream.get_status_display()}
            self.message_user(request, text % values, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Show the viewer count"), permissions=["control"])
    def show_viewer_count(self, request: HttpRequest, queryset: QuerySet[LiveStream]) -> None:
        """Ask FastPix how many people watch each stream now (nothing is stored)."""
        for stream in queryset.select_related("workspace"):
            try:
                count = live_viewer_count(stream)
            except FastPixError as exc:
                self.message_user(request, row_message(stream, exc), messages.ERROR)
                continue
            text = ngettext(
                "%(stream)s: %(count)s viewer now.", "%(stream)s: %(count)s viewers now.", count
            )
            self.message_user(request, text % {"stream": stream, "count": count}, messages.INFO)

    @admin.action(
        description=gettext_lazy("Enable (accept an encoder again)…"), permissions=["control"]
    )
    def enable_streams(
        self, request: HttpRequest, queryset: QuerySet[LiveStream]
    ) -> TemplateResponse | None:
        page = self._confirm(
            request,
            queryset,
            action="enable_streams",
            title=gettext("Enable live streams"),
            intro=gettext("These streams accept an encoder again from the moment you confirm:"),
            submit_label=gettext("Yes, enable"),
        )
        if page is None:
            done = gettext("%(stream)s: enabled (status: %(status)s).")
            self._run(request, queryset, enable_live_stream, done, "Enabled in FastPix")
        return page

    @admin.action(description=gettext_lazy("Disable (refuse encoders)…"), permissions=["control"])
    def disable_streams(
        self, request: HttpRequest, queryset: QuerySet[LiveStream]
    ) -> TemplateResponse | None:
        page = self._confirm(
            request,
            queryset,
            action="disable_streams",
            title=gettext("Disable live streams"),
            intro=gettext("These streams refuse every encoder from the moment you confirm:"),
            warning=gettext("A broadcast in progress on them ends at once."),
            submit_label=gettext("Yes, disable"),
        )
        if page is None:
            done = gettext("%(stream)s: disabled (status: %(status)s).")
            self._run(request, queryset, disable_live_stream, done, "Disabled in FastPix")
        return page

    @admin.action(description=gettext_lazy("Finish the broadcast now…"), permissions=["control"])
    def finish_streams(
        self, request: HttpRequest, queryset: QuerySet[LiveStream]
    ) -> TemplateResponse | None:
        page = self._confirm(
            request,
            queryset,
            action="finish_streams",
            title=gettext("Finish live broadcasts"),
            intro=gettext(
                "The broadcasts of these streams end now; their recordings start processing:"
            ),
            warning=gettext("Viewers see the broadcast end."),
            submit_label=gettext("Yes, finish"),
        )
        if page is None:
            done = gettext("%(stream)s: finished (status: %(status)s).")
            self._run(request, queryset, finish_live_stream, done, "Finished in FastPix")
        return page

    @admin.action(description=gettext_lazy("Delete in FastPix…"), permissions=["control"])
    def delete_streams(
        self, request: HttpRequest, queryset: QuerySet[LiveStream]
    ) -> TemplateResponse | None:
        page = self._confirm(
            request,
            queryset,
            action="delete_streams",
            title=gettext("Delete live streams in FastPix"),
            intro=gettext(
                "These streams are deleted in FastPix; the rows stay here, marked deleted:"
            ),
            warning=gettext(
                "This cannot be undone: their stream keys stop working and they can never "
                "broadcast again. Recordings already made stay."
            ),
            submit_label=gettext("Yes, delete in FastPix"),
        )
        if page is None:
            deletable = queryset.exclude(status=LiveStreamStatus.DELETED)
            for stream in queryset.filter(status=LiveStreamStatus.DELETED):
                text = gettext("%(stream)s: already deleted.") % {"stream": stream}
                self.message_user(request, text, messages.WARNING)
            done = gettext("%(stream)s: deleted in FastPix.")
            self._run(request, deletable, delete_live_stream, done, "Deleted in FastPix")
        return page


class SimulcastTargetAdmin(WithoutBulkDelete):
    """Where streams are restreamed to; the platform's key is typed once and never shown."""

    list_display = (
        "url",
        "live_stream",
        "key_hint",
        "enabled_badge",
        "status",
        "fastpix_id",
        "created_at",
    )
    list_filter = ("is_enabled", "live_stream__workspace")
    search_fields = ("url", "fastpix_id", "live_stream__title", "live_stream__fastpix_id")
    list_select_related = ("live_stream", "live_stream__workspace")
    exclude = ("stream_key",)
    fields = (
        "live_stream",
        "url",
        "key_hint",
        "enabled_badge",
        "status",
        "fastpix_id",
        "created_at",
    )
    readonly_fields = fields
    actions = ["enable_targets", "disable_targets", "remove_targets"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[SimulcastTarget]:
        return (
            super()
            .get_queryset(request)
            .defer("stream_key", *(f"live_stream__{name}" for name in STREAM_SECRETS))
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # targets change in FastPix, through the actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # "Remove" removes it in FastPix first

    def has_control_permission(self, request: HttpRequest) -> bool:
        """Gate of enable/disable: the model's change permission."""
        return super().has_change_permission(request)

    def has_remove_permission(self, request: HttpRequest) -> bool:
        """Gate of remove: the model's delete permission."""
        return super().has_delete_permission(request)

    @admin.display(description=gettext_lazy("stream key"))
    def key_hint(self, obj: SimulcastTarget) -> str:
        return hint(obj.stream_key_hint)

    @admin.display(description=gettext_lazy("enabled"), ordering="is_enabled")
    def enabled_badge(self, obj: SimulcastTarget) -> SafeString:
        if obj.is_enabled:
            return badge("active", gettext("Enabled"))
        return badge("retired", gettext("Disabled"))

    @method_decorator(sensitive_post_parameters("stream_key"))
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Restream a live stream to a platform: its URL and key (the key is write-only)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        initial = {"live_stream": request.GET.get("live_stream")}
        form = SimulcastTargetForm(
            request.POST if request.method == "POST" else None, initial=initial
        )
        if form.is_bound and form.is_valid():
            target = self._add(request, form.cleaned_data)
            if target is not None:
                site = self.admin_site.name
                return HttpResponseRedirect(admin_change_url(target.live_stream, site))
        return form_page(
            self,
            request,
            title=gettext("Add a simulcast target"),
            intro=gettext(
                "FastPix restreams the live stream to this platform (FastPix accepts new "
                "targets while the stream is idle)."
            ),
            form=form,
            submit_label=gettext("Add the target in FastPix"),
        )

    @sensitive_variables("data")
    def _add(self, request: HttpRequest, data: dict[str, Any]) -> SimulcastTarget | None:
        stream: LiveStream = data["live_stream"]
        try:
            target = add_simulcast_target(
                stream, url=data["url"], stream_key=data["stream_key"], by=actor(request)
            )
        except (FastPixError, EncryptionKeyError) as exc:
            self.message_user(request, row_message(stream, exc), messages.ERROR)
            return None
        self.log_addition(request, target, "Added in FastPix")
        text = gettext("%(stream)s: now restreamed to %(url)s (key …%(hint)s).")
        values = {"stream": stream, "url": target.url, "hint": target.stream_key_hint}
        self.message_user(request, text % values, messages.SUCCESS)
        return target

    # --- actions ---

    def _confirm(
        self,
        request: HttpRequest,
        queryset: QuerySet[SimulcastTarget],
        *,
        action: str,
        title: str,
        intro: str,
        submit_label: str,
        warning: str = "",
    ) -> TemplateResponse | None:
        form = submitted_form(request, ConfirmForm)
        if form.is_bound and form.is_valid():
            return None
        return confirmation_page(
            self,
            request,
            queryset,
            action=action,
            title=title,
            intro=intro,
            warning=warning,
            form=form,
            items=[f"{t.url} · {t.live_stream}" for t in queryset.select_related("live_stream")],
            submit_label=submit_label,
        )

    def _set_enabled(
        self, request: HttpRequest, queryset: QuerySet[SimulcastTarget], enabled: bool
    ) -> None:
        for target in queryset.select_related("live_stream__workspace"):
            try:
                set_simulcast_enabled(target, enabled)
            except FastPixError as exc:
                self.message_user(request, row_message(target, exc), messages.ERROR)
                continue
            self.log_change(request, target, "Enabled" if enabled else "Disabled")
            done = gettext("%(target)s: enabled.")
            if not enabled:
                done = gettext("%(target)s: disabled.")
            self.message_user(request, done % {"target": target}, messages.SUCCESS)

    @admin.action(description=gettext_lazy("Enable"), permissions=["control"])
    def enable_targets(self, request: HttpRequest, queryset: QuerySet[SimulcastTarget]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description=gettext_lazy("Disable…"), permissions=["control"])
    def disable_targets(
        self, request: HttpRequest, queryset: QuerySet[SimulcastTarget]
    ) -> TemplateResponse | None:
        page = self._confirm(
            request,
            queryset,
            action="disable_targets",
            title=gettext("Disable simulcast targets"),
            intro=gettext("FastPix stops restreaming to these targets:"),
            submit_label=gettext("Yes, disable"),
        )
        if page is None:
            self._set_enabled(request, queryset, False)
        return page

    @admin.action(description=gettext_lazy("Remove in FastPix…"), permissions=["remove"])
    def remove_targets(
        self, request: HttpRequest, queryset: QuerySet[SimulcastTarget]
    ) -> TemplateResponse | None:
        page = self._confirm(
            request,
            queryset,
            action="remove_targets",
            title=gettext("Remove simulcast targets"),
            intro=gettext("These targets are removed in FastPix, and here with their keys:"),
            warning=gettext("To restream there again, add the target anew with its key."),
            submit_label=gettext("Yes, remove"),
        )
        if page is not None:
            return page
        stream_admin = (
            self.admin_site.get_model_admin(LiveStream)
            if self.admin_site.is_registered(LiveStream)
            else None
        )
        for target in queryset.select_related("live_stream__workspace"):
            stream, url = target.live_stream, target.url
            try:
                remove_simulcast_target(target)
            except FastPixError as exc:
                self.message_user(request, row_message(target, exc), messages.ERROR)
                continue
            if stream_admin is not None:
                stream_admin.log_change(request, stream, f"Removed simulcast target {url}")
            text = gettext("%(stream)s: no longer restreamed to %(url)s.")
            self.message_user(request, text % {"stream": stream, "url": url}, messages.SUCCESS)
        return None
