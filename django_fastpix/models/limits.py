"""Per-workspace call limits every process sees: a 429 pause and a circuit breaker."""

from __future__ import annotations

from django.db import models

from .workspace import Workspace


class WorkspaceLimits(models.Model):
    """The shared limits state of one workspace (FASTPIX["LIMITS_STORE"] = "database").

    Created on the first 429 or failure; a workspace without a row is unlimited. Kept apart
    from ``Workspace`` so that saving a workspace (the admin) never writes a stale copy over a
    pause or a circuit another process has just recorded. Every change is one conditional
    UPDATE, so concurrent workers never lose each other's counts.
    """

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, primary_key=True, related_name="limits"
    )
    # A 429 (from any process) holds every call of the workspace until then.
    paused_until = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=255, blank=True)
    # Calls in a row that failed with 5xx, a timeout or a connection error.
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_failure = models.CharField(max_length=255, blank=True)
    # Set while the circuit is open (or half-open); None: closed.
    circuit_opened_at = models.DateTimeField(null=True, blank=True)
    # When the cooling period ends and one probe call may go through.
    circuit_retry_at = models.DateTimeField(null=True, blank=True)
    # The probe's claim: while it runs, other calls are still refused; it lapses if the
    # probing process dies.
    probe_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "workspace limits"
        verbose_name_plural = "workspace limits"

    def __str__(self) -> str:
        return f"limits of workspace #{self.workspace_id}"
