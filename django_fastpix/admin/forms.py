"""Admin forms: write-only credential and secret inputs, reasons for irreversible actions."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.validators import ProhibitNullCharactersValidator
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.debug import sensitive_variables

from ..client.credentials import secret_key_problem, token_id_hint, token_id_problem
from ..exceptions import (
    AuthenticationError,
    FastPixAPIError,
    FastPixError,
    PermissionDeniedError,
    ServerError,
    TransportError,
)
from ..models import AccessToken, Workspace
from ..scopes import AREA_FIELDS, Area, Scope
from ..services.verify import probe_area, verify_credentials

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _write_only(
    label: StrOrPromise, help_text: StrOrPromise, *, required: bool = True
) -> forms.CharField:
    # render_value=False: a secret typed once is never sent back to the browser, not even
    # on the page that reports a form error.
    widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
    field = forms.CharField(
        label=label, widget=widget, required=required, strip=True, help_text=help_text
    )
    # Django's own NUL check would answer first, in other words than the rule the service and
    # the commands apply; each clean_<field> refuses NUL itself, with the shared message.
    field.validators = [
        v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)
    ]
    return field


@sensitive_variables()
def _checked(value: str, problem_of: Callable[[object], str | None]) -> str:
    # The rule the service and the commands apply: a pair this form accepts is never refused
    # later. Its messages name no character of the value.
    problem = problem_of(value)
    if problem:
        raise forms.ValidationError(problem)
    return value


PERMISSION_FIELDS = tuple(AREA_FIELDS.values())

# What each permission field says: the level is a record of the dashboard's grant, not a
# setting this site can change in FastPix.
PERMISSION_HELP = {
    Area.VIDEO: gettext_lazy(
        "As granted to this token in the FastPix dashboard (Settings > Access Tokens): media, "
        "uploads, playback ids and live streams. Recorded here; it changes nothing in FastPix."
    ),
    Area.DATA: gettext_lazy(
        "As granted in the FastPix dashboard: analytics. Nothing in this app calls it yet."
    ),
    Area.SYSTEM: gettext_lazy(
        "As granted in the FastPix dashboard. Playback signing keys (private and DRM playback) "
        "are created, rotated and revoked only with a token granted System read and write."
    ),
}
PERMISSION_LABELS = {
    Area.VIDEO: gettext_lazy("Video permission"),
    Area.DATA: gettext_lazy("Data permission"),
    Area.SYSTEM: gettext_lazy("System permission"),
}
PERMISSIONS_DESCRIPTION = gettext_lazy(
    "What the token was granted in the FastPix dashboard, per area. Calls are only made with a "
    "token recorded as allowed to make them; if the dashboard grant changes, record it here."
)


def _describe_permissions(form: forms.ModelForm) -> None:
    for area, name in AREA_FIELDS.items():
        field = form.fields.get(name)  # absent on a read-only (revoked) token's page
        if field is not None:
            field.label = PERMISSION_LABELS[area]
            field.help_text = PERMISSION_HELP[area]


def _check_grants_something(cleaned: dict[str, Any]) -> None:
    levels = [cleaned.get(name) for name in PERMISSION_FIELDS]
    if all(level == Scope.NONE for level in levels):
        raise forms.ValidationError(
            gettext(
                "A token granted nothing in any area can make no call: record what the FastPix "
                "dashboard shows for it (revoke a token that really has no permission left)."
            ),
            code="no_permission",
        )


class TokenAddForm(forms.ModelForm):
    """New token: the id and secret are write-only; the pair is checked with FastPix first."""

    token_id = _write_only(
        gettext_lazy("Token id"),
        gettext_lazy("Shown by FastPix when the token was created. Never displayed again here."),
    )
    secret_key = _write_only(
        gettext_lazy("Secret key"),
        gettext_lazy("Never displayed again, not even after an error: re-enter it then."),
    )
    save_unverified = forms.BooleanField(
        label=gettext_lazy("Save without verifying"),
        required=False,
        help_text=gettext_lazy(
            "Store the token without asking FastPix whether it works (e.g. FastPix is "
            "unreachable from here). Verify it later with the “Verify” action."
        ),
    )

    class Meta:
        model = AccessToken
        fields = ["workspace", "name", *PERMISSION_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _describe_permissions(self)
        self.verified = False
        # A Data-only token: no call can check it, so it is stored unverified (and said so).
        self.unverifiable = False

    @sensitive_variables()
    def clean_token_id(self) -> str:
        return _checked(self.cleaned_data["token_id"], token_id_problem)

    @sensitive_variables()
    def clean_secret_key(self) -> str:
        return _checked(self.cleaned_data["secret_key"], secret_key_problem)

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned  # FastPix is asked only about a pair that is otherwise acceptable
        _check_grants_something(cleaned)
        workspace: Workspace = cleaned["workspace"]
        token_id: str = cleaned["token_id"]
        if AccessToken.objects.for_token_id(workspace, token_id).exists():
            raise forms.ValidationError(
                gettext("Workspace “%(workspace)s” already holds a token ending …%(hint)s."),
                code="duplicate",
                params={"workspace": workspace, "hint": token_id_hint(token_id)},
            )
        area = probe_area(cleaned["scope"], cleaned["system_scope"], cleaned["data_scope"])
        if area is None:
            self.unverifiable = True
        elif not cleaned.get("save_unverified"):
            self._verify(token_id, cleaned["secret_key"], area)
        return cleaned

    @sensitive_variables()
    def _verify(self, token_id: str, secret_key: str, area: Area) -> None:
        try:
            verify_credentials(token_id, secret_key, area=area)
        except AuthenticationError:
            raise forms.ValidationError(
                gettext(
                    "FastPix rejected this token id / secret key (401). Check both values and "
                    "that the token has not been deleted in the FastPix dashboard."
                ),
                code="rejected",
            ) from None
        # Whole sentences, not a shared "tick …" fragment: translators need the context.
        except PermissionDeniedError:
            raise forms.ValidationError(FORBIDDEN[area], code="forbidden") from None
        except (TransportError, ServerError) as exc:
            raise forms.ValidationError(
                gettext(
                    "FastPix could not be reached to verify the token (%(error)s). Try again, "
                    "or tick “Save without verifying” to store it now and verify it later."
                ),
                code="unreachable",
                params={"error": type(exc).__name__},
            ) from None
        except FastPixAPIError as exc:
            raise forms.ValidationError(
                gettext(
                    "FastPix did not accept the verification request (%(status)s: "
                    "%(message)s); tick “Save without verifying” to store it now and verify "
                    "it later."
                ),
                code="unverified",
                params={"status": exc.status, "message": exc.message},
            ) from None
        except FastPixError as exc:
            raise forms.ValidationError(
                gettext(
                    "The token could not be verified (%(error)s); tick “Save without "
                    "verifying” to store it now and verify it later."
                ),
                code="unverified",
                params={"error": type(exc).__name__},
            ) from None
        self.verified = True


# Whole sentences per probe, not a shared fragment: translators need the context.
FORBIDDEN = {
    Area.VIDEO: gettext_lazy(
        "FastPix accepted the pair but it may not read media (403): check the Video permission "
        "it was created with, or tick “Save without verifying” to store it now and verify it "
        "later."
    ),
    Area.SYSTEM: gettext_lazy(
        "FastPix accepted the pair but it may not read signing keys (403): check the System "
        "permission it was created with, or tick “Save without verifying” to store it now and "
        "verify it later."
    ),
}


class TokenChangeForm(forms.ModelForm):
    """An existing token: its name and the permissions recorded for it; the credentials are
    never shown or replaced here."""

    class Meta:
        model = AccessToken
        fields = ["name", *PERMISSION_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _describe_permissions(self)

    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            _check_grants_something(cleaned)
        # The committed status, not the loaded one: another operator may have revoked it
        # while this page was open, and the model would refuse the save with a 500.
        pk = self.instance.pk
        if AccessToken.objects.revoked_in_database(pk):
            raise forms.ValidationError(
                gettext("This token has been revoked meanwhile; it is read-only."),
                code="revoked",
            )
        return cleaned


class ReasonForm(forms.Form):
    """The reason an operator gives for revoking or invalidating tokens (audited)."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        strip=True,
        label=gettext_lazy("Reason"),
        help_text=gettext_lazy("Recorded with the status change and shown on the token's page."),
    )


class ConfirmForm(forms.Form):
    """A confirmation with nothing to fill in."""


class WorkspaceForm(forms.ModelForm):
    """A workspace; its webhook secret is write-only and rotates when replaced."""

    new_webhook_secret = _write_only(
        gettext_lazy("Webhook signing secret"),
        gettext_lazy(
            "The base64 signing secret FastPix shows for this workspace's webhook. Leave empty "
            "to keep the current one."
        ),
        required=False,
    )

    class Meta:
        model = Workspace
        fields = ["name", "slug", "environment", "fastpix_workspace_id"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["slug"].help_text = gettext(
                "Part of the webhook URL: after changing it, update the URL in FastPix too."
            )
        if self.instance.pk and self.instance.webhook_secret:
            self.fields["new_webhook_secret"].label = gettext("New webhook signing secret")
            self.fields["new_webhook_secret"].help_text = gettext(
                "A secret is set (never shown). Enter a new one to rotate: the old one stays "
                "accepted for a limited window. Leave empty to keep it."
            )

    @sensitive_variables()
    def clean_new_webhook_secret(self) -> str:
        value: str = self.cleaned_data["new_webhook_secret"]
        if not value:
            return ""
        try:
            decoded = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise forms.ValidationError(
                gettext(
                    "That is not base64: paste the signing secret exactly as FastPix shows it."
                ),
                code="invalid",
            ) from None
        if not decoded:
            raise forms.ValidationError(gettext("The signing secret is empty."), code="empty")
        return value
