"""A FastPix workspace as the site knows it: tokens and media belong to exactly one."""

from __future__ import annotations

from django.db import models

from ..fields import EncryptedTextField


class Environment(models.TextChoices):
    """The FastPix workspace type; a development token is never valid in production."""

    DEVELOPMENT = "development", "Development"
    QA = "qa", "QA"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class Workspace(models.Model):
    """One FastPix workspace; every token and media record belongs to one."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    environment = models.CharField(
        max_length=20, choices=Environment.choices, default=Environment.DEVELOPMENT
    )
    fastpix_workspace_id = models.CharField(
        "FastPix workspace id",
        max_length=255,
        blank=True,
        help_text="The id FastPix shows for this workspace (optional; used to match webhooks).",
    )
    webhook_secret = EncryptedTextField(
        blank=True, help_text="The base64 signing secret FastPix shows for this webhook."
    )
    # Still accepted for FASTPIX["WEBHOOK_PREVIOUS_SECRET_WINDOW"] seconds after a rotation.
    previous_webhook_secret = EncryptedTextField(blank=True, editable=False)
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Held by a running sync (renewed each page): a second sync of the workspace is refused
    # instead of racing the first; a crashed sync's hold expires (FASTPIX["SYNC_LEASE_SECONDS"]).
    sync_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    sync_lease_owner = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.environment})"
