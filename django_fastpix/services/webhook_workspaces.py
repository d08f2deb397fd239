"""The workspace a webhook URL names, remembered per process for ``WORKSPACE_TTL`` seconds.

A delivery needs its workspace's row (the id and the webhook secrets) before anything else,
and reading it was one of the few round trips a delivery costs, so each process keeps the row
it read for a few seconds. What that can delay, and what it cannot:

- A secret set or rotated in another process takes effect at once: a signature that fails
  against the remembered secrets is checked again against a fresh read (``receive_at``).
- A secret removed in another process keeps verifying for at most ``WORKSPACE_TTL`` seconds
  more (a rotated-out secret stays valid for ``WEBHOOK_PREVIOUS_SECRET_WINDOW`` anyway).
- A workspace deleted in another process fails its deliveries for at most that long (the
  event cannot be stored), after which its URL answers 404.
- Anything saved or deleted in this process is seen once it commits: the model's signals
  forget every remembered row then (and at once), and a read that was under way meanwhile is
  not remembered.

Each caller gets its own copy of the row: a handler that changes it changes nothing shared.
"""

from __future__ import annotations

import copy
import threading
import time
from functools import partial
from typing import Any, NamedTuple

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Exists, OuterRef
from django.db.models.signals import post_delete, post_save

from ..models import DONE_OUTCOMES, WebhookEvent, Workspace
from . import statements

WORKSPACE_TTL = 5.0

_REMEMBERED: dict[tuple[str, str], tuple[float, Workspace]] = {}
_LOCK = threading.Lock()
# Bumped by every forget(): a read that began before one is not remembered (it may be stale).
_generation = 0


class Found(NamedTuple):
    """What ``workspace_at`` found: the row (None: no such workspace), whether it came from
    memory, and, when it was read now with an event id, whether that event is stored with a
    final outcome (None: not asked, or not known)."""

    workspace: Workspace | None
    remembered: bool
    event_done: bool | None


def workspace_at(slug: str, event_id: str | None = None, *, fresh: bool = False) -> Found:
    """The workspace named ``slug``. ``fresh``: read it now whatever is remembered; a read
    with ``event_id`` also says whether that event is done (the same query: a redelivery
    then costs it and the one counting it)."""
    using = router.db_for_read(Workspace)
    key = (using, slug)
    now = time.monotonic()
    with _LOCK:
        found = None if fresh else _REMEMBERED.get(key)
        generation = _generation
    if found is not None and found[0] > now:
        return Found(copy.copy(found[1]), True, None)
    workspace, done = _read(using, slug, event_id)
    with _LOCK:
        if workspace is None:
            _REMEMBERED.pop(key, None)
        elif generation == _generation:
            _REMEMBERED[key] = (now + WORKSPACE_TTL, copy.copy(workspace))
    return Found(workspace, False, done)


def forget(*args: Any, **kwargs: Any) -> None:
    """Drop every remembered workspace (a delivery to a remembered one failed unexpectedly;
    or, through ``_workspace_changed``, a workspace was saved or deleted)."""
    global _generation
    with _LOCK:
        _REMEMBERED.clear()
        _generation += 1


def _workspace_changed(sender: Any, instance: Workspace, using: str, **kwargs: Any) -> None:
    # Now, and again once the change commits: a delivery read between the two would otherwise
    # remember the row as it was before the commit.
    forget()
    transaction.on_commit(forget, using=using)


def _read(using: str, slug: str, event_id: str | None) -> tuple[Workspace | None, bool | None]:
    connection = connections[using]
    if not statements.statements_usable(connection):
        return _read_by_orm(using, slug, event_id)
    with_event = event_id is not None
    params = [event_id, *DONE_OUTCOMES, slug] if with_event else [slug]
    extra = ["fastpix_event_done"] if with_event else []
    found = statements.rows(Workspace, using, _sql(connection, with_event), params, extra)
    if not found:
        return None, None
    done = getattr(found[0], "fastpix_event_done", None)
    return found[0], None if done is None else bool(done)


def _sql(connection: BaseDatabaseWrapper, with_event: bool) -> str:
    def write() -> str:
        workspaces = statements.table(connection, Workspace)
        events = statements.table(connection, WebhookEvent)
        pk = statements.column(connection, Workspace._meta.pk)
        slug = statements.field_column(connection, Workspace, "slug")
        column = partial(statements.field_column, connection, WebhookEvent)
        done = (
            f", EXISTS(SELECT 1 FROM {events} "  # noqa: S608 - names from the models
            f"WHERE {events}.{column('workspace')} = {workspaces}.{pk} "
            f"AND {events}.{column('event_id')} = %s "
            f"AND {events}.{column('outcome')} IN ({statements.placeholders(len(DONE_OUTCOMES))})"
            f") AS fastpix_event_done"
        )
        return (
            f"SELECT {statements.columns_of(connection, Workspace)}"  # noqa: S608
            f"{done if with_event else ''} FROM {workspaces} WHERE {workspaces}.{slug} = %s"
        )

    return statements.written_once(("webhook-workspace", connection.vendor, with_event), write)


def _read_by_orm(
    using: str, slug: str, event_id: str | None
) -> tuple[Workspace | None, bool | None]:
    workspaces = Workspace.objects.using(using).filter(slug=slug)
    if event_id is not None:
        workspaces = workspaces.annotate(
            fastpix_event_done=Exists(
                WebhookEvent.objects.filter(
                    workspace=OuterRef("pk"), event_id=event_id, outcome__in=DONE_OUTCOMES
                )
            )
        )
    workspace = workspaces.first()
    if workspace is None:
        return None, None
    return workspace, getattr(workspace, "fastpix_event_done", None)


post_save.connect(
    _workspace_changed, sender=Workspace, weak=False, dispatch_uid="fastpix-webhook-ws-save"
)
post_delete.connect(
    _workspace_changed, sender=Workspace, weak=False, dispatch_uid="fastpix-webhook-ws-delete"
)
