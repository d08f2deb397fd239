"""The workspace a webhook URL names, remembered per process (webhook_workspaces): what it
saves, and what it may and may not delay when another process changes the workspace.

"Another process" is imitated by writes that send no model signal (``QuerySet.update()``,
``_raw_delete``); a save in this process sends them and is seen at once. Real transactions
(``transaction=True``), as a web process has.
"""

from __future__ import annotations

import base64

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_fastpix.models import WebhookEvent, WebhookOutcome, Workspace
from django_fastpix.services import webhook_workspaces, webhooks
from django_fastpix.services.webhooks import signature

pytestmark = pytest.mark.django_db(transaction=True)

OLD = base64.b64encode(b"the-old-webhook-secret-32-bytes!").decode()
NEW = base64.b64encode(b"the-new-webhook-secret-32-bytes!").decode()


@pytest.fixture(autouse=True)
def remembered_for_the_whole_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loaded CI machine may take more than 5 s between two requests of a test."""
    monkeypatch.setattr(webhook_workspaces, "WORKSPACE_TTL", 3600.0)


@pytest.fixture
def hooked(workspace: Workspace) -> Workspace:
    workspace.webhook_secret = OLD
    workspace.save()
    return workspace


def post(client, slug: str, secret: str, event_id: str):
    body = f'{{"type": "video.other", "id": "{event_id}", "data": {{}}}}'.encode()
    return client.post(
        reverse("django_fastpix:webhook", kwargs={"workspace": slug}),
        body,
        content_type="application/json",
        HTTP_FASTPIX_SIGNATURE=signature(secret, body),
    )


def workspace_reads(ctx: CaptureQueriesContext) -> int:
    table = Workspace._meta.db_table
    return sum(
        1 for q in ctx.captured_queries if q["sql"].startswith("SELECT") and table in q["sql"]
    )


def test_a_remembered_workspace_is_not_read_again(client, hooked):
    assert post(client, "prod", OLD, "e1").status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        assert post(client, "prod", OLD, "e2").status_code == 200
    assert workspace_reads(ctx) == 0
    webhook_workspaces.forget()
    with CaptureQueriesContext(connection) as ctx:
        assert post(client, "prod", OLD, "e3").status_code == 200
    assert workspace_reads(ctx) == 1


def test_a_secret_set_in_another_process_counts_at_once(client, hooked):
    assert post(client, "prod", OLD, "e1").status_code == 200  # remembered with OLD
    # Another process sets a new secret (no signal here); FastPix signs with it at once.
    Workspace.objects.filter(pk=hooked.pk).update(webhook_secret=NEW)
    assert post(client, "prod", NEW, "e2").status_code == 200
    assert WebhookEvent.objects.get(event_id="e2").outcome == WebhookOutcome.IGNORED


def test_a_removed_secret_verifies_only_while_remembered(client, hooked, monkeypatch):
    assert post(client, "prod", OLD, "e1").status_code == 200
    Workspace.objects.filter(pk=hooked.pk).update(webhook_secret=NEW)  # OLD removed elsewhere
    # Within WORKSPACE_TTL the remembered OLD still verifies (the bound the module states)...
    assert post(client, "prod", OLD, "e2").status_code == 200
    # ...and once it runs out, the row is read again and OLD is refused.
    monkeypatch.setattr(webhook_workspaces, "WORKSPACE_TTL", 0.0)
    webhook_workspaces.forget()
    assert post(client, "prod", NEW, "e3").status_code == 200  # remembered for 0 s
    assert post(client, "prod", OLD, "e4").status_code == 401
    assert not WebhookEvent.objects.filter(event_id="e4").exists()


def test_a_change_saved_in_this_process_is_seen_at_once(client, hooked):
    assert post(client, "prod", OLD, "e1").status_code == 200
    hooked.webhook_secret = NEW  # replaced, not rotated: OLD is no longer accepted
    hooked.save()
    assert post(client, "prod", OLD, "e2").status_code == 401
    hooked.delete()
    assert post(client, "prod", NEW, "e3").status_code == 404


def test_a_workspace_deleted_elsewhere_fails_then_is_gone(client, hooked):
    assert post(client, "prod", OLD, "e1").status_code == 200
    WebhookEvent.objects.all()._raw_delete("default")
    Workspace.objects.filter(pk=hooked.pk)._raw_delete("default")  # no signal: elsewhere
    client.raise_request_exception = False
    first = post(client, "prod", OLD, "e2")
    assert first.status_code == 500  # the event could not be stored: FastPix delivers again
    assert post(client, "prod", OLD, "e2").status_code == 404
    assert not WebhookEvent.objects.exists()


def test_an_unexpected_failure_forgets_the_workspace(client, hooked, monkeypatch):
    assert post(client, "prod", OLD, "e1").status_code == 200
    assert webhook_workspaces.workspace_at("prod").remembered

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(webhooks, "store_event", broken)
    client.raise_request_exception = False
    assert post(client, "prod", OLD, "e2").status_code == 500
    assert not webhook_workspaces.workspace_at("prod").remembered


def test_each_caller_gets_its_own_copy(hooked):
    read = webhook_workspaces.workspace_at("prod")
    assert not read.remembered and read.workspace is not None
    copies = [webhook_workspaces.workspace_at("prod").workspace for _ in range(2)]
    assert all(c is not None and c.name == "Production" for c in copies)
    copies[0].name = "changed by a handler"  # type: ignore[union-attr]
    again = webhook_workspaces.workspace_at("prod")
    assert again.remembered and again.workspace is not None
    assert again.workspace.name == "Production"
    assert len({id(again.workspace), id(read.workspace), *map(id, copies)}) == 4


def test_a_read_under_way_when_a_change_lands_is_not_remembered(hooked, monkeypatch):
    read = webhook_workspaces._read

    def read_then_changed(*args, **kwargs):
        found = read(*args, **kwargs)
        webhook_workspaces.forget()  # another thread saved the workspace meanwhile
        return found

    monkeypatch.setattr(webhook_workspaces, "_read", read_then_changed)
    assert not webhook_workspaces.workspace_at("prod").remembered
    monkeypatch.undo()
    assert not webhook_workspaces.workspace_at("prod").remembered  # read again, now kept
    assert webhook_workspaces.workspace_at("prod").remembered


def test_a_change_is_forgotten_again_when_it_commits(hooked):
    """A row read after the save but before its commit (another thread would see the old
    one) is dropped once the change commits."""
    with transaction.atomic():
        hooked.webhook_secret = NEW
        hooked.save()
        assert not webhook_workspaces.workspace_at("prod").remembered
        assert webhook_workspaces.workspace_at("prod").remembered  # kept until the commit
    assert not webhook_workspaces.workspace_at("prod").remembered
