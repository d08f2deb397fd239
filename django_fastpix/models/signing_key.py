"""Playback signing keys: the per-workspace RSA keys private playback tokens are signed with."""

from __future__ import annotations

from django.db import models
from django.views.decorators.debug import sensitive_variables

from ..fields import EncryptedTextField, plaintext
from .workspace import Workspace


class SigningKeyStatus(models.TextChoices):
    """Where a key is in its life; only ``active`` keys sign new tokens."""

    ACTIVE = "active", "Active"
    # Replaced by a rotation: signs nothing new, but stays in FastPix until every token it
    # signed has expired (``expires_at``), so pages already served keep playing.
    RETIRING = "retiring", "Retiring"
    # Deleted in FastPix after its overlap ran out.
    RETIRED = "retired", "Retired"
    # Withdrawn at once (after a leak): never used again, deleted in FastPix immediately.
    REVOKED = "revoked", "Revoked"


class SigningKeyQuerySet(models.QuerySet["SigningKey"]):
    def signing(self, workspace: Workspace | int) -> SigningKeyQuerySet:
        """The workspace's key that signs new tokens first (the newest active one)."""
        return self.filter(workspace=workspace, status=SigningKeyStatus.ACTIVE).order_by(
            "-created_at", "-pk"
        )

    def awaiting_deletion(self) -> SigningKeyQuerySet:
        """Keys still present in FastPix that should not be: revoked, or retiring and expired."""
        return self.filter(
            status__in=[SigningKeyStatus.RETIRING, SigningKeyStatus.REVOKED],
            deleted_in_fastpix_at__isnull=True,
        )


class SigningKey(models.Model):
    """A FastPix signing key of one workspace; the private key is encrypted at rest."""

    workspace = models.ForeignKey(Workspace, on_delete=models.PROTECT, related_name="signing_keys")
    # The key id is public: it travels in every token's ``kid`` header.
    fastpix_id = models.CharField("FastPix key id", max_length=255)
    # PEM text. FastPix returns it once (base64 of the PEM) and keeps no copy.
    private_key = EncryptedTextField("private key", editable=False)
    status = models.CharField(
        max_length=10,
        choices=SigningKeyStatus.choices,
        default=SigningKeyStatus.ACTIVE,
        editable=False,
    )
    status_reason = models.TextField(blank=True, editable=False)
    status_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    status_changed_by = models.CharField(max_length=150, blank=True, editable=False)
    # For a retiring key: when the last token it signed expires; it is deleted in FastPix then.
    expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    deleted_in_fastpix_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.CharField(max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SigningKeyQuerySet.as_manager()

    class Meta:
        ordering = ["workspace", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "fastpix_id"], name="fastpix_signing_key_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "status"], name="fastpix_signing_key_status_idx"),
        ]
        permissions = [("manage_signing_keys", "Can manage FastPix playback signing keys")]

    def __str__(self) -> str:
        return f"signing key {self.fastpix_id} ({self.status})"

    def __repr__(self) -> str:
        return f"<SigningKey {self.pk}: {self.fastpix_id} {self.status}>"

    @property
    def signs_new_tokens(self) -> bool:
        return self.status == SigningKeyStatus.ACTIVE

    @sensitive_variables()
    def private_key_pem(self) -> str:
        """The decrypted PEM; fails closed when FIELD_ENCRYPTION_KEY does not decrypt it."""
        return plaintext(
            self.private_key,
            f"private key of signing key {self.fastpix_id} (workspace {self.workspace_id})",
            "rotate the signing key (`manage.py fastpix_signing_keys rotate`)",
        )
