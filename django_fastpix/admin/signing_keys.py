"""Admin for playback signing keys: create, rotate, revoke and prune through the services.

The private key is never loaded by these pages (deferred), never a field, never in a log
entry. Keys change only through FastPix: "add" is a confirmation page that asks FastPix for a
key, and a row is never deleted here (revoke it; the row keeps the audit trail).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.debug import sensitive_variables

from ..exceptions import EncryptionKeyError, FastPixError
from ..models import AccessToken, SigningKey, SigningKeyStatus, Workspace
from ..scopes import Area, Scope
from ..services.signing_keys import (
    CLOCK_SKEW,
    create_signing_key,
    delete_pending_keys,
    revoke_signing_key,
    rotate_signing_key,
    token_lifetime,
)
from ..services.verify import permission_hint
from .badges import badge
from .bulk import WithoutBulkDelete
from .confirmation import confirmation_page, form_page, submitted_form
from .forms import ConfirmForm
from .permissions import can_manage_signing_keys
from .signing_key_forms import NewSigningKeyForm, RevokeSigningKeyForm
from .text import row_message
from .tokens import actor

FIELDS = (
    "workspace",
    "fastpix_id",
    "status_badge",
    "status_reason",
    "status_changed_at",
    "status_changed_by",
    "created_at",
    "created_by",
    "expires_at",
    "deleted_in_fastpix_at",
)


def failure_message(subject: object, exc: Exception) -> str:
    """``<subject>: <error> <what to do>`` for a service call FastPix or the keys refused."""
    hint = permission_hint(exc)
    return row_message(subject, f"{exc} {hint}".strip())


def no_system_token_hint(workspace: Workspace) -> str:
    """Why a FastPix delete could not even be tried: "" if a System token is stored."""
    if AccessToken.objects.usable_for(workspace, Scope.READ_WRITE, Area.SYSTEM).exists():
        return ""
    return gettext(
        "No active token of workspace “%(workspace)s” is recorded with System read and write: "
        "record it on a token granted it in the FastPix dashboard."
    ) % {"workspace": workspace}


class SigningKeyAdmin(WithoutBulkDelete):
    """Signing keys, visible only to signing-key managers; the private key is never shown."""

    list_display = (
        "workspace",
        "fastpix_id",
        "status_badge",
        "created_at",
        "created_by",
        "expires_at",
        "deleted_in_fastpix_at",
    )
    list_filter = ("workspace", "status")
    search_fields = ("fastpix_id",)
    list_select_related = ("workspace",)
    # Belt and braces: the column is not editable, and no page lists it either.
    exclude = ("private_key",)
    fields = FIELDS
    readonly_fields = FIELDS
    actions = ["rotate_keys", "revoke_keys", "prune_keys"]

    # --- permissions: manage_signing_keys is the whole boundary (see permissions.py) ---

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_manage_signing_keys(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_manage_signing_keys(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # "Add" is the page that asks FastPix for a key, not a form for typing one in.
        return can_manage_signing_keys(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing here is edited by hand: keys change through the actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the row is the audit trail of the key

    def has_manage_signing_keys_permission(self, request: HttpRequest) -> bool:
        """Gate of the actions (``@admin.action(permissions=["manage_signing_keys"])``)."""
        return can_manage_signing_keys(request)

    # --- pages ---

    def get_queryset(self, request: HttpRequest) -> QuerySet[SigningKey]:
        # No page needs the private key: not loading it means never decrypting it here.
        return super().get_queryset(request).defer("private_key")

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, obj: SigningKey) -> SafeString:
        """The status as a coloured badge."""
        return badge(obj.status, obj.get_status_display())

    @sensitive_variables("key")
    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Choose a workspace, confirm, and have FastPix create a key (stored encrypted)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = NewSigningKeyForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            workspace = form.cleaned_data["workspace"]
            try:
                key = create_signing_key(workspace, by=actor(request))
            except (FastPixError, EncryptionKeyError) as exc:
                self.message_user(request, failure_message(workspace, exc), messages.ERROR)
            else:
                self.log_addition(request, key, "Created in FastPix")
                self.message_user(
                    request,
                    gettext(
                        "Created signing key %(key)s for workspace “%(workspace)s”: it signs "
                        "private playback from now on."
                    )
                    % {"key": key.fastpix_id, "workspace": workspace},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(self._changelist_url())
        return form_page(
            self,
            request,
            title=gettext("Create a playback signing key"),
            intro=gettext(
                "FastPix creates a new signing key for the workspace. It signs new private "
                "playback tokens at once; keys already active stay active (use “Rotate” to "
                "replace them)."
            ),
            form=form,
            submit_label=gettext("Create the key in FastPix"),
        )

    def _changelist_url(self) -> str:
        opts = self.model._meta
        return reverse(
            f"admin:{opts.app_label}_{opts.model_name}_changelist", current_app=self.admin_site.name
        )

    # --- actions: parse, call one service per workspace or key, report ---

    @admin.action(
        description=gettext_lazy("Rotate (new key; old keys stay valid until their tokens expire)"),
        permissions=["manage_signing_keys"],
    )
    def rotate_keys(
        self, request: HttpRequest, queryset: QuerySet[SigningKey]
    ) -> TemplateResponse | None:
        """Give each workspace of the selected keys a new key; its active keys retire."""
        workspaces = list(
            Workspace.objects.filter(signing_keys__in=queryset)
            .defer("webhook_secret", "previous_webhook_secret")
            .distinct()
            .order_by("name")
        )
        form = submitted_form(request, ConfirmForm)
        if not (form.is_bound and form.is_valid()):
            overlap = timezone.now() + timedelta(seconds=token_lifetime()) + CLOCK_SKEW
            return confirmation_page(
                self,
                request,
                queryset,
                action="rotate_keys",
                title=gettext("Rotate playback signing keys"),
                intro=ngettext(
                    "FastPix creates a new key for this workspace; it signs new playback tokens "
                    "at once. The workspace's active keys stop signing and stay in FastPix until "
                    "the tokens they signed have expired (about %(until)s), then “Delete "
                    "retired/revoked keys in FastPix now” or `fastpix_signing_keys prune` "
                    "deletes them:",
                    "FastPix creates a new key for each of these %(count)s workspaces; it signs "
                    "new playback tokens at once. Their active keys stop signing and stay in "
                    "FastPix until the tokens they signed have expired (about %(until)s), then "
                    "“Delete retired/revoked keys in FastPix now” or `fastpix_signing_keys "
                    "prune` deletes them:",
                    len(workspaces),
                )
                % {"count": len(workspaces), "until": f"{overlap:%Y-%m-%d %H:%M %Z}"},
                form=form,
                items=[str(workspace) for workspace in workspaces],
                submit_label=gettext("Yes, rotate"),
            )
        for workspace in workspaces:
            self._rotate(request, workspace)
        return None

    def _rotate(self, request: HttpRequest, workspace: Workspace) -> None:
        was_active = list(SigningKey.objects.signing(workspace).defer("private_key"))
        try:
            new_key = rotate_signing_key(workspace, by=actor(request))
        except (FastPixError, EncryptionKeyError) as exc:
            self.message_user(request, failure_message(workspace, exc), messages.ERROR)
            return
        self.log_addition(request, new_key, "Created in FastPix by a rotation")
        retiring = SigningKey.objects.filter(
            pk__in=[key.pk for key in was_active], status=SigningKeyStatus.RETIRING
        ).defer("private_key")
        until = None
        for key in retiring:
            self.log_change(request, key, f"Retiring: replaced by {new_key.fastpix_id}")
            until = key.expires_at
        values = {"workspace": workspace, "key": new_key.fastpix_id}
        if until is None:
            text = gettext("Workspace “%(workspace)s”: new key %(key)s signs new tokens.")
        else:
            values["until"] = f"{until:%Y-%m-%d %H:%M %Z}"
            text = gettext(
                "Workspace “%(workspace)s”: new key %(key)s signs new tokens; the old ones stay "
                "valid in FastPix until %(until)s."
            )
        self.message_user(request, text % values, messages.SUCCESS)

    @admin.action(
        description=gettext_lazy(
            "Revoke (after a leak: deleted in FastPix now, never used again)…"
        ),
        permissions=["manage_signing_keys"],
    )
    def revoke_keys(
        self, request: HttpRequest, queryset: QuerySet[SigningKey]
    ) -> TemplateResponse | None:
        """Withdraw keys at once, after a confirmation page that asks for the reason."""
        form = submitted_form(request, RevokeSigningKeyForm)
        if not (form.is_bound and form.is_valid()):
            keys = list(queryset.select_related("workspace"))
            return confirmation_page(
                self,
                request,
                queryset,
                action="revoke_keys",
                title=gettext("Revoke playback signing keys"),
                intro=ngettext(
                    "This key will sign nothing from the moment you confirm, and is deleted in "
                    "FastPix at once:",
                    "These %(count)s keys will sign nothing from the moment you confirm, and are "
                    "deleted in FastPix at once:",
                    len(keys),
                )
                % {"count": len(keys)},
                warning=gettext(
                    "Revoking is irreversible and immediate: every playback token these keys "
                    "signed stops working, so pages already served stop playing private video. "
                    "For a routine change, rotate instead."
                ),
                form=form,
                items=[self._describe(key) for key in keys],
                submit_label=gettext("Yes, revoke"),
            )
        reason = form.cleaned_data["reason"]
        for key in queryset.select_related("workspace"):
            self._revoke(request, key, reason)
        return None

    def _revoke(self, request: HttpRequest, key: SigningKey, reason: str) -> None:
        if key.status == SigningKeyStatus.REVOKED and key.deleted_in_fastpix_at:
            text = gettext("%(key)s: was already revoked and deleted in FastPix.")
            self.message_user(request, text % {"key": key}, messages.WARNING)
            return
        try:
            revoked = revoke_signing_key(key, by=actor(request), reason=reason)
        except (FastPixError, EncryptionKeyError) as exc:
            self.message_user(request, failure_message(key.fastpix_id, exc), messages.ERROR)
            return
        self.log_change(request, revoked, f"Revoked: {reason}")
        if revoked.deleted_in_fastpix_at:
            text = gettext("%(key)s: revoked and deleted in FastPix.")
            self.message_user(request, text % {"key": revoked.fastpix_id}, messages.SUCCESS)
            return
        text = gettext(
            "%(key)s: revoked here (it signs nothing more), but FastPix could not delete it yet, "
            "so it still accepts tokens signed with it. “Delete retired/revoked keys in FastPix "
            "now” or `fastpix_signing_keys prune` retries; the log has FastPix's answer. %(hint)s"
        )
        values = {"key": revoked.fastpix_id, "hint": no_system_token_hint(key.workspace)}
        self.message_user(request, (text % values).strip(), messages.ERROR)

    @admin.action(
        description=gettext_lazy("Delete retired/revoked keys in FastPix now"),
        permissions=["manage_signing_keys"],
    )
    def prune_keys(
        self, request: HttpRequest, queryset: QuerySet[SigningKey]
    ) -> TemplateResponse | None:
        """Delete in FastPix every key due for it, whichever rows were selected."""
        due = self._due_for_deletion()
        if not due:
            self.message_user(
                request,
                gettext(
                    "No revoked key, and no retiring key past its overlap, is waiting to be "
                    "deleted in FastPix."
                ),
                messages.INFO,
            )
            return None
        form = submitted_form(request, ConfirmForm)
        if not (form.is_bound and form.is_valid()):
            return confirmation_page(
                self,
                request,
                queryset,
                action="prune_keys",
                title=gettext("Delete signing keys in FastPix"),
                intro=gettext(
                    "Every revoked key and every retiring key whose overlap is over is deleted "
                    "in FastPix now, in all workspaces, whichever rows you selected:"
                ),
                form=form,
                items=[self._describe(key) for key in due],
                submit_label=gettext("Yes, delete them in FastPix"),
            )
        deleted, failed = delete_pending_keys()
        for key in SigningKey.objects.filter(
            pk__in=[key.pk for key in due], deleted_in_fastpix_at__isnull=False
        ).defer("private_key"):
            self.log_change(request, key, "Deleted in FastPix")
        if deleted:
            text = ngettext(
                "Deleted %(count)s signing key in FastPix.",
                "Deleted %(count)s signing keys in FastPix.",
                deleted,
            )
            self.message_user(request, text % {"count": deleted}, messages.SUCCESS)
        if failed:
            text = ngettext(
                "%(count)s signing key could not be deleted in FastPix (the log has FastPix's "
                "answer); the next run tries again.",
                "%(count)s signing keys could not be deleted in FastPix (the log has FastPix's "
                "answer); the next run tries again.",
                failed,
            )
            hints = {no_system_token_hint(key.workspace) for key in due} - {""}
            message = " ".join([text % {"count": failed}, *sorted(hints)])
            self.message_user(request, message, messages.ERROR)
        return None

    @staticmethod
    def _due_for_deletion() -> list[SigningKey]:
        now = timezone.now()
        return [
            key
            for key in SigningKey.objects.awaiting_deletion()
            .select_related("workspace")
            .defer("private_key", "workspace__webhook_secret", "workspace__previous_webhook_secret")
            .order_by("workspace__name", "created_at")
            # As delete_pending_keys decides: a retiring key without an end date is due.
            if key.status == SigningKeyStatus.REVOKED or (key.expires_at or now) <= now
        ]

    @staticmethod
    def _describe(key: SigningKey) -> str:
        return f"{key.fastpix_id} · {key.workspace} · {key.get_status_display()}"
