"""fastpix_webhooks: list stored deliveries and replay them."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_fastpix.models import Media, MediaStatus, WebhookEvent, WebhookOutcome
from tests.commands.conftest import assert_no_secret, run
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db


def stored(workspace, event_id: str, *, outcome: str, media_id: str = "m1", **kw) -> WebhookEvent:
    payload = kw.pop("payload", {"data": {"id": media_id, "status": "Ready"}})
    return WebhookEvent.objects.create(
        workspace=workspace,
        event_id=event_id,
        type=kw.pop("type", "video.media.ready"),
        object_id=media_id,
        payload=payload,
        outcome=outcome,
        error="ValueError: boom" if outcome == WebhookOutcome.FAILED else "",
        **kw,
    )


@pytest.fixture
def events(workspace, other_workspace):
    workspace.webhook_secret = SECRET  # must never be shown by these commands
    workspace.save()
    Media.objects.create(workspace=workspace, fastpix_id="m1", status=MediaStatus.PROCESSING)
    return {
        "done": stored(workspace, "evt-done", outcome=WebhookOutcome.PROCESSED),
        # Failed once (say, a database hiccup); its payload is fine, so a replay succeeds.
        "fixable": stored(workspace, "evt-fixable", outcome=WebhookOutcome.FAILED),
        # No media id anywhere: processing fails every time.
        "broken": stored(
            other_workspace, "evt-broken", outcome=WebhookOutcome.FAILED, media_id="", payload={}
        ),
        "ignored": stored(
            workspace, "evt-live", outcome=WebhookOutcome.IGNORED, type="video.live_stream.idle"
        ),
    }


def test_list_and_filters(events, all_logs):
    text = run("fastpix_webhooks", "list")
    for event_id in ("evt-done", "evt-fixable", "evt-broken", "evt-live"):
        assert event_id in text
    rows = json.loads(run("fastpix_webhooks", "list", "--outcome", "failed", "--json"))
    assert {r["event_id"] for r in rows} == {"evt-fixable", "evt-broken"}
    assert rows[0]["error"] == "ValueError: boom"
    rows = json.loads(run("fastpix_webhooks", "list", "--workspace", "dev", "--json"))
    assert [r["event_id"] for r in rows] == ["evt-broken"]
    rows = json.loads(run("fastpix_webhooks", "list", "--type", "video.live_stream.idle", "--json"))
    assert [r["event_id"] for r in rows] == ["evt-live"]
    assert len(json.loads(run("fastpix_webhooks", "list", "--limit", "2", "--json"))) == 2
    assert run("fastpix_webhooks", "list", "--type", "nothing") == "No events.\n"
    with pytest.raises(CommandError, match="No workspace 'nope'"):
        run("fastpix_webhooks", "list", "--workspace", "nope")
    with pytest.raises(CommandError):
        run("fastpix_webhooks", "list", "--outcome", "exploded")
    assert_no_secret(text, all_logs.text)


def test_replay_given_event(events):
    out = run("fastpix_webhooks", "replay", "evt-fixable")
    assert "evt-fixable video.media.ready: processed" in out
    assert Media.objects.get(fastpix_id="m1").status == MediaStatus.READY
    events["fixable"].refresh_from_db()
    assert events["fixable"].outcome == WebhookOutcome.PROCESSED and not events["fixable"].error
    # Replaying again is harmless.
    data = json.loads(run("fastpix_webhooks", "replay", "evt-fixable", "evt-done", "--json"))
    assert [(r["event_id"], r["ok"]) for r in data] == [("evt-done", True), ("evt-fixable", True)]


def test_replay_failed_reports_each_and_fails_if_any_still_fails(events, all_logs):
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 of 2 event"):
        call_command("fastpix_webhooks", "replay", "--failed", "--json", stdout=out)
    results = {r["event_id"]: r for r in json.loads(out.getvalue())}
    assert results["evt-fixable"]["ok"] and results["evt-fixable"]["outcome"] == "processed"
    assert not results["evt-broken"]["ok"] and "media id" in results["evt-broken"]["error"]
    # Only the broken one is left; scoped to the other workspace there is nothing to do.
    assert run("fastpix_webhooks", "replay", "--failed", "--workspace", "prod") == (
        "No failed events.\n"
    )
    with pytest.raises(CommandError, match="1 of 1"):
        run("fastpix_webhooks", "replay", "--failed")
    assert_no_secret(out.getvalue(), all_logs.text)


def test_replay_refuses_unknown_ids_before_replaying_any(events):
    with pytest.raises(CommandError, match="No stored event nope"):
        run("fastpix_webhooks", "replay", "evt-fixable", "nope")
    events["fixable"].refresh_from_db()
    assert events["fixable"].outcome == WebhookOutcome.FAILED
    with pytest.raises(CommandError, match="--failed"):
        run("fastpix_webhooks", "replay")


def test_same_event_id_in_two_workspaces_needs_workspace(events, other_workspace):
    stored(other_workspace, "evt-fixable", outcome=WebhookOutcome.FAILED, media_id="m2")
    with pytest.raises(CommandError, match="several workspaces"):
        run("fastpix_webhooks", "replay", "evt-fixable")
    out = run("fastpix_webhooks", "replay", "evt-fixable", "--workspace", "prod")
    assert out.count("processed") == 1


@pytest.mark.django_db(transaction=True)
def test_exit_status_is_non_zero_when_a_replay_fails(manage, events):
    result = manage("fastpix_webhooks", "replay", "evt-broken", "evt-fixable")
    assert result.returncode != 0
    assert "evt-fixable video.media.ready: processed" in result.stdout
    assert "1 of 2 event(s) still fail" in result.stderr
    assert_no_secret(result.stdout, result.stderr)
    events["fixable"].refresh_from_db()
    assert events["fixable"].outcome == WebhookOutcome.PROCESSED
