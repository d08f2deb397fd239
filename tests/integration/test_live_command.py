"""fastpix_live against the fake FastPix: the stream key is printed by create and reveal-key
only; control sub-commands reach FastPix; simulcast keys never come from the command line."""

from __future__ import annotations

import io
import json
import sys

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management.base import CommandError

from django_fastpix.models import LiveStream, LiveStreamStatus, SimulcastTarget
from django_fastpix.services.live import create_live_stream
from tests.admin.conftest import grant
from tests.commands.conftest import run, run_capturing
from tests.integration.test_live_admin import SIMULCAST_KEY, SIMULCAST_URL, secrets_of

pytestmark = pytest.mark.django_db


def live(*args: str) -> str:
    return run("fastpix_live", *args)


def refused(*args: str) -> str:
    output, error = run_capturing("fastpix_live", *args)
    assert isinstance(error, CommandError), (output, error)
    return str(error)


@pytest.fixture
def stream(workspace, fake_token) -> LiveStream:
    fake_token()
    return create_live_stream(workspace, title="Keynote", by="test")


def test_create_prints_the_key_once_and_nothing_else_does(workspace, fake_token, fake_api):
    fake_token()
    out = live(
        "create", "--workspace", "prod", "--title", "Town hall", "--private",
        "--reconnect-window", "300", "--no-recording", "--max-resolution", "720p",
    )  # fmt: skip
    stream = LiveStream.objects.get()
    secrets = secrets_of(fake_api, stream)
    [remote] = fake_api.live_streams()
    assert remote["streamKey"] in out and remote["srtSecret"] in out and "not shown again" in out
    assert "rtmps://live.fastpix.com:443/live" in out
    assert remote["reconnectWindow"] == 300 and remote["enableRecording"] is False
    assert remote["playbackIds"][0]["accessPolicy"] == "private"
    assert stream.created_by.startswith("cli:") and stream.title == "Town hall"

    listing = live("list")
    shown = live("show", str(stream.pk))
    as_json = live("show", stream.fastpix_id, "--json")
    rows = json.loads(live("list", "--workspace", "prod", "--json"))
    for text in (listing, shown, as_json, json.dumps(rows)):
        assert not [s for s in secrets if s in text]
    assert stream.fastpix_id in listing and f"…{stream.stream_key_hint}" in listing
    assert "srt://live.fastpix.com:778" in shown and "reveal-key" in shown
    assert rows[0]["fastpix_id"] == stream.fastpix_id and "stream_key" not in rows[0]
    assert json.loads(as_json)["ingest"]["rtmps"] == "rtmps://live.fastpix.com:443/live"


def test_create_json_holds_the_key_once(workspace, fake_token, fake_api):
    fake_token()
    data = json.loads(live("create", "--workspace", "prod", "--json"))
    [remote] = fake_api.live_streams()
    assert data["stream_key"] == remote["streamKey"] and data["srt_secret"] == remote["srtSecret"]
    assert data["fastpix_id"] == remote["streamId"] and "warning" in data
    assert "must be between 60 and 1800" in refused(
        "create", "--workspace", "prod", "--reconnect-window", "5"
    )
    assert "No workspace 'nope'" in refused("create", "--workspace", "nope")


def test_reveal_key_checks_the_permission_and_is_audited(stream, django_user_model, fake_api):
    secrets = secrets_of(fake_api, stream)
    plain = django_user_model.objects.create_user("plain", is_staff=True)
    message = refused("reveal-key", str(stream.pk), "--user", "plain")
    assert "reveal_stream_key" in message and not LogEntry.objects.exists()
    assert "No user 'ghost'" in refused("reveal-key", str(stream.pk), "--user", "ghost")

    grant(plain, "reveal_stream_key")
    out = live("reveal-key", stream.fastpix_id, "--user", "plain")
    assert secrets[0] in out and f"SRT secret: {secrets[1]}" in out
    stream.refresh_from_db()
    assert stream.key_revealed_by == "plain" and stream.key_revealed_at
    entry = LogEntry.objects.get()
    assert (
        entry.user == plain
        and entry.get_change_message() == "Revealed the stream key and SRT secret."
    )
    data = json.loads(live("reveal-key", str(stream.pk), "--user", "plain", "--json"))
    assert data["stream_key"] == secrets[0]
    assert "plain" in live("show", str(stream.pk))


def test_control_sub_commands_reach_fastpix(stream, fake_api):
    ident = str(stream.pk)
    assert "Disabled live stream" in live("disable", ident)
    assert fake_api.live_streams()[0]["status"] == "disabled"
    assert json.loads(live("enable", stream.fastpix_id, "--json"))["status"] == "idle"
    assert fake_api.live_streams()[0]["status"] == "idle"
    assert "Only an active stream can be finished" in refused("finish", ident)
    fake_api.connect_encoder(stream.fastpix_id)
    assert "active" in live("refresh", ident)
    fake_api.set_viewer_count(stream.fastpix_id, 3)
    assert json.loads(live("viewers", ident, "--json"))["viewers"] == 3
    assert "3 viewer(s)" in live("viewers", ident)
    live("finish", ident)
    assert fake_api.live_streams()[0]["status"] == "idle"
    live("delete", ident)
    assert fake_api.live_streams() == []
    assert LiveStream.objects.get().status == LiveStreamStatus.DELETED
    assert "already deleted" in live("delete", ident)
    assert "is deleted" in refused("enable", ident)
    assert "No live stream 'nope'" in refused("show", "nope")
    assert live("list", "--status", "idle").strip() == "No live streams."


def test_simulcast_targets_from_the_command_line(stream, fake_api, monkeypatch):
    ident = str(stream.pk)
    monkeypatch.setattr(sys, "stdin", io.StringIO(SIMULCAST_KEY + "\n"))
    out = live("simulcast-add", ident, "--url", SIMULCAST_URL, "--stream-key-stdin")
    target = SimulcastTarget.objects.get()
    assert f"Added simulcast target {target.pk}" in out and SIMULCAST_KEY not in out
    [remote] = fake_api.live_streams()[0]["simulcastResponses"]
    assert remote["streamKey"] == SIMULCAST_KEY and remote["url"] == SIMULCAST_URL

    listing = live("simulcast-list", ident)
    rows = json.loads(live("simulcast-list", ident, "--json"))
    shown = live("show", ident)
    for text in (listing, json.dumps(rows), shown):
        assert SIMULCAST_KEY not in text
    assert SIMULCAST_URL in listing and f"…{SIMULCAST_KEY[-4:]}" in listing
    assert rows[0]["id"] == target.pk and rows[0]["is_enabled"] is True

    live("simulcast-disable", str(target.pk))
    assert fake_api.live_streams()[0]["simulcastResponses"][0]["isEnabled"] is False
    live("simulcast-enable", str(target.pk))
    assert fake_api.live_streams()[0]["simulcastResponses"][0]["isEnabled"] is True
    live("simulcast-remove", str(target.pk))
    assert fake_api.live_streams()[0]["simulcastResponses"] == []
    assert not SimulcastTarget.objects.exists()
    assert "No simulcast target" in refused("simulcast-remove", str(target.pk))


def test_a_simulcast_key_is_never_taken_from_argv(stream, monkeypatch, fake_api):
    ident = str(stream.pk)
    # An option that does not exist: refused, and the value is not echoed back.
    message = refused("simulcast-add", ident, "--url", SIMULCAST_URL, "--stream-key", SIMULCAST_KEY)
    assert SIMULCAST_KEY not in message
    # No terminal to prompt on, and no --stream-key-stdin.
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert "--stream-key-stdin" in refused("simulcast-add", ident, "--url", SIMULCAST_URL)
    # A prompt on a terminal.
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": SIMULCAST_KEY)
    live("simulcast-add", ident, "--url", SIMULCAST_URL)
    assert fake_api.live_streams()[0]["simulcastResponses"][0]["streamKey"] == SIMULCAST_KEY
    monkeypatch.setattr(sys, "stdin", io.StringIO("a\nb\n"))
    assert "one non-empty line" in refused(
        "simulcast-add", ident, "--url", SIMULCAST_URL, "--stream-key-stdin"
    )
