"""Admin for workspaces: the webhook URL to paste into FastPix, a write-only webhook secret."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Length
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from ..models import TokenStatus, Workspace, WorkspaceLimits
from ..services import limits
from ..services.webhooks import rotate_webhook_secret
from .forms import WorkspaceForm

WEBHOOK_URL_NAME = "django_fastpix:webhook"


def webhook_url(request: HttpRequest, workspace: Workspace) -> str | None:
    """The absolute URL FastPix should deliver this workspace's events to; None if not routed."""
    try:
        path = reverse(WEBHOOK_URL_NAME, kwargs={"workspace": workspace.slug})
    except NoReverseMatch:
        return None
    return request.build_absolute_uri(path)


class WorkspaceAdmin(admin.ModelAdmin):
    """Workspaces with their token counts; secrets are write-only."""

    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, *args: Any, **kwargs: Any) -> Any:
        # Error reports (DEBUG pages, admin mails) must not carry the secrets typed here.
        return super().changeform_view(*args, **kwargs)

    form = WorkspaceForm
    list_display = (
        "name",
        "slug",
        "environment",
        "fastpix_workspace_id",
        "active_tokens",
        "invalid_tokens",
        "revoked_tokens",
        "webhook_secret_set",
        "call_limits",
    )
    actions = ("clear_call_limits",)
    list_filter = ("environment",)
    search_fields = ("name", "slug", "fastpix_workspace_id")
    prepopulated_fields = {"slug": ("name",)}
    fieldsets = (
        (None, {"fields": ("name", "slug", "environment", "fastpix_workspace_id")}),
        (
            gettext_lazy("Webhook"),
            {"fields": ("new_webhook_secret", "webhook_secret_rotated_at")},
        ),
        (gettext_lazy("FastPix calls"), {"fields": ("call_limits",)}),
        (gettext_lazy("Dates"), {"fields": ("created_at", "updated_at")}),
    )
    readonly_fields = ("webhook_secret_rotated_at", "call_limits", "created_at", "updated_at")
    change_form_template = "admin/django_fastpix/workspace/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workspace]:
        # One grouped query for every row's counts, instead of three per row.
        return (
            super()
            .get_queryset(request)
            .defer("webhook_secret", "previous_webhook_secret")
            .select_related("limits")
            .annotate(
                active_count=Count("tokens", filter=Q(tokens__status=TokenStatus.ACTIVE)),
                invalid_count=Count("tokens", filter=Q(tokens__status=TokenStatus.INVALID)),
                revoked_count=Count("tokens", filter=Q(tokens__status=TokenStatus.REVOKED)),
                # The ciphertext's length says whether a secret is set without decrypting it.
                webhook_secret_length=Length("webhook_secret"),
            )
        )

    @admin.display(description=gettext_lazy("active tokens"), ordering="active_count")
    def active_tokens(self, obj: Any) -> int:
        """Active tokens in the workspace."""
        return int(obj.active_count)

    @admin.display(description=gettext_lazy("invalid tokens"), ordering="invalid_count")
    def invalid_tokens(self, obj: Any) -> int:
        """Invalid tokens in the workspace."""
        return int(obj.invalid_count)

    @admin.display(description=gettext_lazy("revoked tokens"), ordering="revoked_count")
    def revoked_tokens(self, obj: Any) -> int:
        """Revoked tokens in the workspace."""
        return int(obj.revoked_count)

    @admin.display(description=gettext_lazy("webhook secret set"), boolean=True)
    def webhook_secret_set(self, obj: Any) -> bool:
        """Whether a webhook secret is set."""
        return bool(obj.webhook_secret_length)

    @admin.display(description=gettext_lazy("FastPix calls"))
    def call_limits(self, obj: Workspace) -> str:
        """Whether the workspace's calls flow, are paused after a 429, or its circuit is open."""
        if obj.pk is None:
            return "-"
        if limits.store_name() == "database":
            # Joined by get_queryset: no query per row.
            try:
                row = obj.limits
            except WorkspaceLimits.DoesNotExist:
                return limits.describe(limits.EMPTY)
            return limits.describe(limits.state_of(row))
        return limits.describe(limits.read(obj))

    @admin.action(description=gettext_lazy("Clear pause and close circuit"), permissions=["change"])
    def clear_call_limits(self, request: HttpRequest, queryset: QuerySet[Workspace]) -> None:
        """Let calls flow again now (after FastPix confirmed the incident is over)."""
        user = getattr(request.user, "get_username", lambda: "")() or "unknown"
        for workspace in queryset:
            limits.clear(workspace, by=f"admin:{user}")
            self.message_user(
                request,
                gettext("%(workspace)s: pause cleared and circuit closed.")
                % {"workspace": workspace},
                messages.SUCCESS,
            )

    @sensitive_variables("secret")
    def save_model(self, request: HttpRequest, obj: Workspace, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # sensitive_variables: a failed rotation is mailed to ADMINS with this frame's locals.
        secret = form.cleaned_data.get("new_webhook_secret")
        if secret:
            # After the row is saved: the service writes only the secret columns.
            rotate_webhook_secret(obj, secret)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        workspace = self.get_object(request, object_id)
        if workspace is not None:
            context["fastpix_webhook_url"] = webhook_url(request, workspace)
            context["fastpix_webhook_routed"] = context["fastpix_webhook_url"] is not None
        return super().change_view(request, object_id, form_url, context)
