"""FastPix access tokens: encrypted id and secret, granted scope, and an operator-facing status."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.encoding import force_bytes
from django.views.decorators.debug import sensitive_variables

# One hint rule for the stored column and for Credentials.hint (and so for every log line).
from ..client.credentials import HINT_MAX_LENGTH, Credentials, token_id_hint
from ..conf import fastpix_settings
from ..exceptions import TokenRevokedError, UndecryptableValueError
from ..fields import EncryptedTextField, UndecryptableValue
from ..scopes import AREA_FIELDS, Area, Scope
from .workspace import Workspace

# The column width; how much of an id is shown is decided by client.credentials.token_id_hint.
HINT_LENGTH = HINT_MAX_LENGTH


class TokenStatus(models.TextChoices):
    """Whether a token may be used: revoked is final, invalid returns only through a verify."""

    ACTIVE = "active", "Active"
    INVALID = "invalid", "Invalid"
    REVOKED = "revoked", "Revoked"


def _digest(key: object, token_id: str) -> str:
    # A dedicated derivation so that the digest is useless as a SECRET_KEY oracle.
    derived = hashlib.sha256(b"django_fastpix.token_id_digest:" + force_bytes(key)).digest()
    return hmac.new(derived, token_id.encode("utf-8"), hashlib.sha256).hexdigest()


@sensitive_variables()
def token_id_digest(token_id: str) -> str:
    """Keyed digest of a token id: unique per workspace without storing the id in the clear."""
    return _digest(fastpix_settings.TOKEN_DIGEST_KEY or settings.SECRET_KEY, token_id)


@sensitive_variables()
def token_id_digests(token_id: str) -> list[str]:
    """The digest under the current key and under each SECRET_KEY_FALLBACKS key.

    After a SECRET_KEY rotation (routine after a leak) rows keep their old digests until
    ``fastpix_rotate_keys`` refreshes them; lookups must still find them, or a revoked token
    could be added again as new.
    """
    if fastpix_settings.TOKEN_DIGEST_KEY:
        return [token_id_digest(token_id)]
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [_digest(key, token_id) for key in keys]


class AccessTokenQuerySet(models.QuerySet["AccessToken"]):
    """Queries that read like the domain."""

    def active(self) -> AccessTokenQuerySet:
        return self.filter(status=TokenStatus.ACTIVE)

    def usable_for(
        self, workspace: Workspace | int, scope: Scope | str, area: Area | str = Area.VIDEO
    ) -> AccessTokenQuerySet:
        """Active tokens of ``workspace`` allowed to make a call needing ``scope`` in ``area``.

        Least privileged first, so that reads go out under a read-only token when one exists.
        """
        allowed = Scope.satisfying(scope)
        column = AREA_FIELDS[Area(area)]
        rank = models.Case(
            *(models.When(**{column: s}, then=models.Value(i)) for i, s in enumerate(allowed)),
            output_field=models.IntegerField(),
        )
        return (
            self.filter(
                workspace=workspace, status=TokenStatus.ACTIVE, **{f"{column}__in": allowed}
            )
            .annotate(scope_rank=rank)
            # NULLs last on every database (PostgreSQL sorts them first by default), as the
            # token pick ranks a never-verified token: the two orders are tested to agree.
            .order_by("scope_rank", models.F("last_verified_at").desc(nulls_last=True), "pk")
        )

    def revoked_in_database(self, pk: int | None) -> bool:
        """Whether the committed row ``pk`` is revoked: the one "is it revoked" query.

        Loaded copies go stale (another process may have revoked the token since it was
        read), so every guard that must not act on a revoked token asks the database.
        """
        return pk is not None and self.filter(pk=pk, status=TokenStatus.REVOKED).exists()

    def for_token_id(self, workspace: Workspace | int, token_id: str) -> AccessTokenQuerySet:
        """The workspace's token with this id, found by digest (never by the encrypted column)."""
        return self.filter(workspace=workspace, token_id_digest__in=token_id_digests(token_id))


class AccessToken(models.Model):
    """One FastPix access token (id + secret key) of one workspace, encrypted at rest."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100)
    token_id = EncryptedTextField("token id")
    secret_key = EncryptedTextField("secret key")
    token_id_hint = models.CharField(
        "hint", max_length=HINT_LENGTH, editable=False, help_text="Last characters of the token id."
    )
    token_id_digest = models.CharField(max_length=64, editable=False)
    # What FastPix granted, per area (see scopes.Area); ``scope`` is the video area.
    scope = models.CharField(
        "video", max_length=20, choices=Scope.choices, default=Scope.READ_WRITE
    )
    data_scope = models.CharField("data", max_length=20, choices=Scope.choices, default=Scope.NONE)
    system_scope = models.CharField(
        "system (signing keys)", max_length=20, choices=Scope.choices, default=Scope.NONE
    )
    status = models.CharField(
        max_length=10, choices=TokenStatus.choices, default=TokenStatus.ACTIVE, editable=False
    )
    status_reason = models.TextField(blank=True, editable=False)
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    status_changed_by = models.CharField(max_length=150, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        ordering = ["workspace", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "token_id_digest"], name="fastpix_token_unique_per_workspace"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "status", "scope"], name="fastpix_token_usable_idx"),
        ]
        permissions = [("manage_tokens", "Can manage FastPix access tokens")]

    def __str__(self) -> str:
        return f"{self.name} (…{self.token_id_hint})"

    def __repr__(self) -> str:
        return f"<AccessToken {self.pk}: {self.name!r} …{self.token_id_hint} {self.status}>"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Checked against the database, not the loaded copy: another process may have
        # revoked this token since it was read, and a stale save must not undo that.
        if type(self).objects.revoked_in_database(self.pk):
            raise TokenRevokedError(f"{self!s} is revoked; revoked tokens are read-only.")
        if isinstance(self.token_id, str) and self.token_id:
            self.token_id_hint = token_id_hint(self.token_id)
            self.token_id_digest = token_id_digest(self.token_id)
        super().save(*args, **kwargs)

    def scope_for(self, area: Area | str) -> Scope:
        """The level this token was granted in ``area``."""
        return Scope(getattr(self, AREA_FIELDS[Area(area)]))

    @property
    def permissions_label(self) -> str:
        """What the token may do, e.g. "video: read and write, system: read and write"."""
        granted = [
            f"{area.value}: {str(self.scope_for(area).label).lower()}"
            for area in Area
            if self.scope_for(area) != Scope.NONE
        ]
        return ", ".join(granted) or "nothing"

    @property
    def is_usable(self) -> bool:
        return self.status == TokenStatus.ACTIVE

    @sensitive_variables()
    def _decrypted(self, field: str) -> str:
        value = getattr(self, field)
        if isinstance(value, UndecryptableValue):
            raise UndecryptableValueError(
                f"The {field.replace('_', ' ')} of access token #{self.pk} {self.name!r} "
                f"(workspace {self.workspace_id}) cannot be decrypted with FIELD_ENCRYPTION_KEY. "
                "Add the key it was encrypted with to FIELD_ENCRYPTION_KEY (a list: the new key "
                "first), then run `manage.py fastpix_rotate_keys`. The stored value is untouched."
            )
        return str(value)

    @sensitive_variables()
    def credentials(self) -> Credentials:
        """The decrypted id/secret pair; fails closed when the keys don't decrypt it."""
        return Credentials(self._decrypted("token_id"), self._decrypted("secret_key"))
