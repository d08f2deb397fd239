"""Fixtures shared by the registered-save tests (test_source_save_queries, test_save_cost)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_fastpix.services import sources as source_services


@pytest.fixture
def fresh_workspace_ids() -> Iterator[None]:
    """No workspace id remembered from another test's saves."""
    source_services._WORKSPACE_IDS.clear()
    yield
    source_services._WORKSPACE_IDS.clear()


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The media whose creation was queued (after commit), instead of queueing it."""
    found: list[int] = []
    monkeypatch.setattr(source_services, "queue_creation", found.append)
    return found
