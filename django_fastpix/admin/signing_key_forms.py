"""Forms of the signing-key admin pages: which workspace gets a key, why a key is revoked."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy

from ..models import Workspace


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


class RevokeSigningKeyForm(forms.Form):
    """Why signing keys are revoked (recorded on each key and in its history)."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        strip=True,
        label=gettext_lazy("Reason"),
        help_text=gettext_lazy("Recorded with the revoke and shown on the key's page."),
    )
