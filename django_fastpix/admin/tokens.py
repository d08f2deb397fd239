"""Admin for FastPix access tokens: write-only credentials, audited status actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.utils.safestring import SafeString
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from ..exceptions import EncryptionKeyError, FastPixError, TokenError
from ..models import AccessToken, TokenStatus
from ..services.tokens import add_token, invalidate_token, revoke_token
from ..services.verify import NOT_PROBED, verify_token
from .badges import badge
from .bulk import WithoutBulkDelete
from .confirmation import confirmation_page, submitted_form
from .forms import (
    PERMISSION_FIELDS,
    PERMISSIONS_DESCRIPTION,
    ReasonForm,
    TokenAddForm,
    TokenChangeForm,
)
from .permissions import can_manage_tokens
from .text import row_message

ACTOR_MAX_LENGTH = AccessToken._meta.get_field("status_changed_by").max_length or 150

STATUS_FIELDS = (
    "status_badge",
    "status_reason",
    "status_changed_at",
    "status_changed_by",
    "last_used_at",
    "last_verified_at",
    "created_at",
)


def actor(request: HttpRequest) -> str:
    """How the audit columns name an admin user."""
    # Cut to the column: a 150-character username plus the prefix would not fit.
    return f"admin:{request.user.get_username()}"[:ACTOR_MAX_LENGTH]


def _is_revoked(obj: AccessToken | None) -> bool:
    return obj is not None and obj.status == TokenStatus.REVOKED


class AccessTokenAdmin(WithoutBulkDelete):
    """Tokens, visible only to token managers; the id and secret are entered once, never shown."""

    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, *args: Any, **kwargs: Any) -> Any:
        # Error reports (DEBUG pages, admin mails) must not carry the secrets typed here.
        return super().changeform_view(*args, **kwargs)

    list_display = (
        "name",
        "workspace",
        "permissions",
        "status_badge",
        "token_id_hint",
        "last_used_at",
        "last_verified_at",
    )
    # System: which tokens can manage playback signing keys.
    list_filter = ("workspace", "status", "scope", "system_scope")
    # Never the encrypted columns: they cannot be searched (and must not be).
    search_fields = ("name", "token_id_hint")
    list_select_related = ("workspace",)
    actions = ["verify_tokens", "revoke_tokens", "invalidate_tokens"]

    permissions_fieldset = (
        gettext_lazy("Permissions"),
        {"fields": PERMISSION_FIELDS, "description": PERMISSIONS_DESCRIPTION},
    )
    add_fieldsets = (
        (None, {"fields": ("workspace", "name")}),
        permissions_fieldset,
        (
            gettext_lazy("Credentials"),
            {
                "fields": ("token_id", "secret_key", "save_unverified"),
                "description": gettext_lazy(
                    "Stored encrypted. Only the end of the token id (at most its last four "
                    "characters, fewer for a short id) is ever shown again."
                ),
            },
        ),
    )
    change_fieldsets = (
        (None, {"fields": ("name", "workspace", "token_id_hint")}),
        permissions_fieldset,
        (gettext_lazy("Status"), {"fields": STATUS_FIELDS}),
    )

    # --- permissions: manage_tokens is the whole boundary (see permissions.py) ---

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_manage_tokens(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_manage_tokens(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can_manage_tokens(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Revoked rows are read-only: the audit trail of a leak stays as it was written.
        return can_manage_tokens(request) and not _is_revoked(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_manage_tokens(request) and not _is_revoked(obj)

    def has_manage_tokens_permission(self, request: HttpRequest) -> bool:
        """Gate of the token actions (``@admin.action(permissions=["manage_tokens"])``)."""
        return can_manage_tokens(request)

    # --- pages ---

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessToken]:
        # No page needs the credentials: not loading them means not decrypting 100 of them
        # per list page, and a save from these pages cannot touch the encrypted columns.
        return super().get_queryset(request).defer("token_id", "secret_key")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fieldsets if obj is None else self.change_fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ()
        return ("workspace", "token_id_hint", *STATUS_FIELDS)

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        kwargs["form"] = TokenAddForm if obj is None else TokenChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    @sensitive_variables()
    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        if change:
            return super().save_form(request, form, change)
        # A new token goes through the service, which encrypts and derives hint and digest.
        assert isinstance(form, TokenAddForm)
        data = form.cleaned_data
        token = add_token(
            workspace=data["workspace"],
            name=data["name"],
            token_id=data["token_id"],
            secret_key=data["secret_key"],
            scope=data["scope"],
            data_scope=data["data_scope"],
            system_scope=data["system_scope"],
            verified=form.verified,
        )
        if form.unverifiable:
            # NOT_PROBED comes from the verify service (untranslated, like other errors).
            self.message_user(request, row_message(token, NOT_PROBED), messages.WARNING)
        return token

    def save_model(self, request: HttpRequest, obj: AccessToken, form: Any, change: bool) -> None:
        if change:
            # Only the name and the recorded permissions are editable; writing just them cannot
            # undo a concurrent status change (and the model refuses a save once revoked).
            obj.save(update_fields=["name", *PERMISSION_FIELDS])

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:  # an added token was saved by the service: the form has no save_m2m
            super().save_related(request, form, formsets, change)

    @admin.display(description=gettext_lazy("permissions"))
    def permissions(self, obj: AccessToken) -> str:
        """What the token was granted, per area."""
        return obj.permissions_label

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, obj: AccessToken) -> SafeString:
        """The status as a coloured badge."""
        return badge(obj.status, obj.get_status_display())

    # --- actions: parse, call one service per row, report ---

    @admin.action(description=gettext_lazy("Verify with FastPix"), permissions=["manage_tokens"])
    def verify_tokens(self, request: HttpRequest, queryset: QuerySet[AccessToken]) -> None:
        """Ask FastPix about each token; a success is the only way back to active."""
        for token in queryset.defer(None):
            if token.status == TokenStatus.REVOKED:
                self.message_user(
                    request,
                    gettext("%(token)s: revoked, not verified.") % {"token": token},
                    messages.WARNING,
                )
                continue
            try:
                result = verify_token(token, by=actor(request))
            except (FastPixError, EncryptionKeyError) as exc:
                self.message_user(request, row_message(token, exc), messages.ERROR)
                continue
            # result.detail comes from the verify service (untranslated, like other errors).
            values = {"token": token, "detail": result.detail}
            if result.unverifiable:
                self.message_user(request, row_message(token, result.detail), messages.WARNING)
            elif result.ok and result.reactivated:
                text = gettext("%(token)s: %(detail)s It is active again.") % values
                self.message_user(request, text, messages.SUCCESS)
            elif result.ok:
                self.message_user(request, row_message(token, result.detail), messages.SUCCESS)
            elif result.invalidated:
                text = gettext("%(token)s: %(detail)s Marked invalid.") % values
                self.message_user(request, text, messages.ERROR)
            else:
                self.message_user(request, row_message(token, result.detail), messages.WARNING)

    @admin.action(description=gettext_lazy("Revoke (irreversible)…"), permissions=["manage_tokens"])
    def revoke_tokens(
        self, request: HttpRequest, queryset: QuerySet[AccessToken]
    ) -> TemplateResponse | None:
        """Revoke tokens for good after a confirmation page that asks for the reason."""
        form = submitted_form(request, ReasonForm)
        if not (form.is_bound and form.is_valid()):
            items = [self._describe(token) for token in queryset]
            count = len(items)
            return confirmation_page(
                self,
                request,
                queryset,
                action="revoke_tokens",
                title=gettext("Revoke access tokens"),
                intro=ngettext(
                    "This token will never be used again, by any process, from the moment you "
                    "confirm:",
                    "These %(count)s tokens will never be used again, by any process, from the "
                    "moment you confirm:",
                    count,
                )
                % {"count": count},
                warning=gettext(
                    "Revoking is irreversible. Also delete the token in the FastPix dashboard "
                    "if it leaked."
                ),
                form=form,
                items=items,
                submit_label=gettext("Yes, revoke"),
            )
        self._change_each(
            request,
            queryset,
            revoke_token,
            form.cleaned_data["reason"],
            logged="Revoked",
            done=gettext("%(token)s: revoked."),
            already=(gettext("%(token)s: was already revoked."), messages.WARNING),
            refused_level=messages.ERROR,
        )
        return None

    @admin.action(description=gettext_lazy("Mark invalid…"), permissions=["manage_tokens"])
    def invalidate_tokens(
        self, request: HttpRequest, queryset: QuerySet[AccessToken]
    ) -> TemplateResponse | None:
        """Take tokens out of use until a successful verify, after a confirmation page."""
        form = submitted_form(request, ReasonForm)
        if not (form.is_bound and form.is_valid()):
            items = [self._describe(token) for token in queryset]
            count = len(items)
            return confirmation_page(
                self,
                request,
                queryset,
                action="invalidate_tokens",
                title=gettext("Mark access tokens invalid"),
                intro=ngettext(
                    "This token will not be used until a “Verify with FastPix” succeeds:",
                    "These %(count)s tokens will not be used until a “Verify with FastPix” "
                    "succeeds:",
                    count,
                )
                % {"count": count},
                form=form,
                items=items,
                submit_label=gettext("Yes, mark invalid"),
            )
        self._change_each(
            request,
            queryset,
            invalidate_token,
            form.cleaned_data["reason"],
            logged="Marked invalid",
            done=gettext("%(token)s: marked invalid."),
            already=(gettext("%(token)s: was already invalid."), messages.INFO),
            refused_level=messages.WARNING,
        )
        return None

    def _change_each(
        self,
        request: HttpRequest,
        queryset: QuerySet[AccessToken],
        change: Callable[..., bool],
        reason: str,
        *,
        logged: str,
        done: str,
        already: tuple[str, int],
        refused_level: int,
    ) -> None:
        """Apply one status service per row and report each row's outcome.

        ``done`` and ``already[0]`` are translated texts with a ``%(token)s`` placeholder;
        ``logged`` is stored in the admin log as written (an audit record, not a message).
        """
        for token in queryset:
            try:
                moved = change(token, reason=reason, by=actor(request))
            except TokenError as exc:
                self.message_user(request, row_message(token, exc), refused_level)
                continue
            if moved:
                self.log_change(request, token, f"{logged}: {reason}")
                self.message_user(request, done % {"token": token}, messages.SUCCESS)
            else:
                self.message_user(request, already[0] % {"token": token}, already[1])

    @staticmethod
    def _describe(token: AccessToken) -> str:
        return f"{token} · {token.workspace} · {token.get_status_display()}"
