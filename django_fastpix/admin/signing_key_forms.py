"""Forms of the signing-key admin pages: which workspace gets a key, why a key is revoked."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy

from ..models import Workspace
from .forms import ReasonForm


class NewSigningKeyForm(forms.Form):
    """The workspace a new signing key is created for (through FastPix)."""

    workspace = forms.ModelChoiceField(
        # Naming a workspace needs none of its secrets.
        queryset=Workspace.objects.defer("webhook_secret", "previous_webhook_secret").order_by(
            "name"
        ),
        label=gettext_lazy("Workspace"),
        help_text=gettext_lazy(
            "FastPix creates the key with a token of this workspace granted System read and "
            "write. Its private key is stored encrypted and never shown."
        ),
    )


class RevokeSigningKeyForm(ReasonForm):
    """Why signing keys are revoked (recorded on each key and in its history)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].help_text = gettext_lazy(
            "Recorded with the revoke and shown on the key's page."
        )
