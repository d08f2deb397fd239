"""Test support for signals and signed webhook deliveries (shared by the upload and live tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django_fastpix import signals
from django_fastpix.services import webhooks
from django_fastpix.testing.webhooks import sign


@contextmanager
def capture(*names: str) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Record every send of the named django_fastpix signals (from any thread), in order."""
    sent: list[tuple[str, dict[str, Any]]] = []
    for name in names:

        def receiver(sender: Any, name: str = name, **kwargs: Any) -> None:
            kwargs.pop("signal", None)
            sent.append((name, kwargs))

        getattr(signals, name).connect(receiver, weak=False, dispatch_uid=f"test-capture-{name}")
    try:
        yield sent
    finally:
        for name in names:
            getattr(signals, name).disconnect(dispatch_uid=f"test-capture-{name}")


def deliver_signed(workspace: Any, body: bytes, secret: str) -> webhooks.Delivery:
    """One delivery signed with ``secret``, through the service as the webhook view hands it."""
    workspace.refresh_from_db()
    delivery = webhooks.receive(workspace, body, sign(body, secret))
    assert delivery.status == 200, delivery.detail
    return delivery
