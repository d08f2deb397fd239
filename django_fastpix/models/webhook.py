"""Every webhook delivery FastPix made, stored before it is processed."""

from __future__ import annotations

from django.db import models

from .workspace import Workspace


class WebhookOutcome(models.TextChoices):
    """What processing a stored event came to."""

    PENDING = "pending", "Pending"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (type not handled)"
    FAILED = "failed", "Failed"


# Outcomes after which a redelivery only counts: the event is applied (or ignored) for good.
DONE_OUTCOMES = (WebhookOutcome.PROCESSED, WebhookOutcome.IGNORED)


class WebhookEvent(models.Model):
    """One FastPix event, keyed by its id per workspace: a redelivery is a no-op."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=255)
    type = models.CharField(max_length=100)
    object_type = models.CharField(max_length=50, blank=True)
    object_id = models.CharField(max_length=255, blank=True)
    payload = models.JSONField()
    occurred_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    deliveries = models.PositiveIntegerField(default=1)
    outcome = models.CharField(
        max_length=10, choices=WebhookOutcome.choices, default=WebhookOutcome.PENDING
    )
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "event_id"], name="fastpix_webhook_event_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["type", "outcome"], name="fastpix_webhook_type_idx"),
            models.Index(fields=["object_id"], name="fastpix_webhook_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
