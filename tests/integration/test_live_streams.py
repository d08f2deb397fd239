"""Live streams against the fake FastPix (issue 10): create, control, refresh, reveal, simulcast."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import connection

from django_fastpix import signals
from django_fastpix.exceptions import FastPixError, LiveStreamError, NoUsableTokenError
from django_fastpix.models import LiveStream, LiveStreamStatus, SimulcastTarget
from django_fastpix.services import live
from django_fastpix.services.tokens import revoke_token
from tests.testapp.events import capture

pytestmark = pytest.mark.django_db

SIMULCAST_KEY = "live_sk_9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def raw_column(model, pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s",
            [pk],
        )
        return str(cursor.fetchone()[0])


def remote_stream(fake, stream_id: str) -> dict[str, Any] | None:
    return next((s for s in fake.live_streams() if s["streamId"] == stream_id), None)


@pytest.fixture
def stream(fake_token, workspace, fake_api) -> LiveStream:
    fake_token()
    return live.create_live_stream(workspace, title="Launch", by="alice")


def reveal_user(*, allowed: bool, active: bool = True, username: str = "op") -> User:
    user = User.objects.create_user(username, password="x", is_active=active)
    if allowed:
        user.user_permissions.add(
            Permission.objects.get(
                codename="reveal_stream_key", content_type__app_label="django_fastpix"
            )
        )
        user = User.objects.get(pk=user.pk)  # a fresh permission cache
    return user


# --- create ---


def test_create_stores_the_stream_with_its_key_encrypted(
    fake_token, workspace, fake_api, django_capture_on_commit_callbacks
):
    fake_token()
    with capture("live_stream_created") as sent, django_capture_on_commit_callbacks(execute=True):
        stream = live.create_live_stream(
            workspace,
            title="Launch event",
            access_policy="private",
            reconnect_window=120,
            enable_recording=False,
            max_resolution="720p",
            by="alice",
        )
    remote = remote_stream(fake_api, stream.fastpix_id)
    key = remote["streamKey"]
    assert stream.pk and stream.workspace == workspace and stream.title == "Launch event"
    assert stream.status == LiveStreamStatus.IDLE and stream.created_by == "alice"
    assert stream.reconnect_window == 120 and stream.enable_recording is False
    assert stream.max_resolution == "720p" and stream.access_policy == "private"
    assert stream.playback_id == remote["playbackIds"][0]["id"] and stream.is_private
    assert stream.stream_key_hint == key[-4:]
    assert [(n, kw["live_stream"].pk) for n, kw in sent] == [("live_stream_created", stream.pk)]

    fresh = LiveStream.objects.get(pk=stream.pk)
    assert fresh.stream_key_value() == key
    assert fresh.srt_secret and remote["srtSecret"]
    stored_key = raw_column(LiveStream, stream.pk, "stream_key")
    stored_srt = raw_column(LiveStream, stream.pk, "srt_secret")
    assert key not in stored_key and key[:12] not in stored_key
    assert remote["srtSecret"] not in stored_srt
    for text in (repr(fresh), str(fresh), repr(stream), str(stream)):
        assert key not in text and remote["srtSecret"] not in text

    (request,) = fake_api.requests_for("POST /live/streams")
    assert request.json["playbackSettings"]["accessPolicy"] == "private"
    inputs = request.json["inputMediaSettings"]
    assert inputs["reconnectWindow"] == 120 and inputs["enableRecording"] is False
    assert inputs["maxResolution"] == "720p"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"access_policy": "drm"},
        {"reconnect_window": 30},
        {"reconnect_window": 1801},
        {"max_resolution": "4k"},
    ],
)
def test_create_refuses_bad_settings_before_asking_fastpix(fake_token, workspace, fake_api, kwargs):
    fake_token()
    with pytest.raises(LiveStreamError):
        live.create_live_stream(workspace, **kwargs)
    assert fake_api.requests_for("POST /live/streams") == []
    assert not LiveStream.objects.exists()


def test_create_failing_in_fastpix(fake_token, workspace, fake_api):
    fake_token()
    fake_api.inject("POST /live/streams", status=422, times=1)
    with pytest.raises(LiveStreamError, match="did not create"):
        live.create_live_stream(workspace)
    assert not LiveStream.objects.exists()


def test_stream_not_stored_is_deleted_in_fastpix(fake_token, workspace, fake_api, monkeypatch):
    fake_token()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    # Fails inside the transaction that stores the row.
    monkeypatch.setattr(signals, "send_after_commit", broken)
    with pytest.raises(RuntimeError):
        live.create_live_stream(workspace)
    assert fake_api.live_streams() == []  # its key would otherwise work with no row here


def test_ingest_urls_follow_the_settings(settings):
    assert live.ingest_urls() == {
        "rtmps": "rtmps://live.fastpix.com:443/live",
        "srt": "srt://live.fastpix.com:778",
    }
    settings.FASTPIX = {
        **settings.FASTPIX,
        "LIVE_RTMPS_URL": "rtmps://eu.example:443/app",
        "LIVE_SRT_URL": "srt://eu.example:9",
    }
    assert live.ingest_urls() == {
        "rtmps": "rtmps://eu.example:443/app",
        "srt": "srt://eu.example:9",
    }


# --- controls ---


def test_disable_enable_and_delete(stream, fake_api, django_capture_on_commit_callbacks):
    with (
        capture("live_stream_state_changed") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        live.disable_live_stream(stream, by="bob")
    assert stream.status == LiveStreamStatus.DISABLED
    assert LiveStream.objects.get(pk=stream.pk).status == LiveStreamStatus.DISABLED
    assert remote_stream(fake_api, stream.fastpix_id)["status"] == "disabled"
    assert [(kw["previous"], kw["status"]) for _, kw in sent] == [("idle", "disabled")]
    with pytest.raises(ValueError):
        fake_api.connect_encoder(stream.fastpix_id)  # FastPix refuses the encoder

    with pytest.raises(LiveStreamError):
        live.disable_live_stream(stream)  # FastPix: already disabled
    with (
        capture("live_stream_state_changed") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        live.enable_live_stream(stream)
    assert stream.status == LiveStreamStatus.IDLE
    assert remote_stream(fake_api, stream.fastpix_id)["status"] == "idle"
    assert [(kw["previous"], kw["status"]) for _, kw in sent] == [("disabled", "idle")]

    with (
        capture("live_stream_state_changed") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        live.delete_live_stream(stream, by="bob")
    assert remote_stream(fake_api, stream.fastpix_id) is None
    stream.refresh_from_db()
    assert stream.status == LiveStreamStatus.DELETED  # the row stays
    assert [kw["status"] for _, kw in sent] == ["deleted"]
    fake_api.clear_requests()
    live.delete_live_stream(stream)  # again: nothing to do
    for action in (live.enable_live_stream, live.disable_live_stream, live.finish_live_stream):
        with pytest.raises(LiveStreamError):
            action(stream)
    assert fake_api.requests == []


def test_delete_of_a_stream_fastpix_no_longer_has(stream, fake_api, fake_token, workspace):
    from django_fastpix.client import FastPixClient
    from django_fastpix.services import api

    api.call(workspace, FastPixClient.delete_live_stream, stream.fastpix_id)
    live.delete_live_stream(stream)
    assert LiveStream.objects.get(pk=stream.pk).status == LiveStreamStatus.DELETED


def test_finish_only_a_live_stream(stream, fake_api):
    # FastPix decides (the local status may be behind a late webhook): it refuses an idle one.
    with pytest.raises(LiveStreamError, match="Only an active stream"):
        live.finish_live_stream(stream)
    assert len(fake_api.requests_for("PUT /live/streams/{streamId}/finish")) == 1
    assert LiveStream.objects.get(pk=stream.pk).status == LiveStreamStatus.IDLE
    fake_api.connect_encoder(stream.fastpix_id)
    # No refresh and no webhook yet: the local row still says idle, and finish still works.
    assert LiveStream.objects.get(pk=stream.pk).status == LiveStreamStatus.IDLE
    live.finish_live_stream(stream, by="carol")
    assert stream.status == LiveStreamStatus.IDLE
    remote = remote_stream(fake_api, stream.fastpix_id)
    assert remote["status"] == "idle" and len(remote["mediaIds"]) == 1  # the recording


def test_refresh_follows_fastpix(stream, fake_api, django_capture_on_commit_callbacks):
    fake_api.connect_encoder(stream.fastpix_id)
    with (
        capture("live_stream_state_changed") as sent,
        django_capture_on_commit_callbacks(execute=True),
    ):
        live.refresh_live_stream(stream)
        live.refresh_live_stream(stream)  # no change: no second signal
    assert stream.status == LiveStreamStatus.ACTIVE and stream.status_changed_at is not None
    assert [(kw["previous"], kw["status"]) for _, kw in sent] == [("idle", "active")]
    fake_api.disconnect_encoder(stream.fastpix_id)
    assert live.refresh_live_stream(stream).status == LiveStreamStatus.DISCONNECTED
    fake_api.end_stream(stream.fastpix_id)
    assert live.refresh_live_stream(stream).status == LiveStreamStatus.IDLE
    assert stream.playback_ids == [
        {"id": p["id"], "accessPolicy": p["accessPolicy"]}
        for p in remote_stream(fake_api, stream.fastpix_id)["playbackIds"]
    ]


def test_refresh_of_a_stream_deleted_in_fastpix(stream, fake_api, workspace):
    from django_fastpix.client import FastPixClient
    from django_fastpix.services import api

    api.call(workspace, FastPixClient.delete_live_stream, stream.fastpix_id)
    assert live.refresh_live_stream(stream).status == LiveStreamStatus.DELETED


def test_refresh_error_is_a_live_stream_error(stream, fake_api):
    fake_api.inject("GET /live/streams/{streamId}", status=403, times=1)
    with pytest.raises(LiveStreamError):
        live.refresh_live_stream(stream)
    assert LiveStream.objects.get(pk=stream.pk).status == LiveStreamStatus.IDLE


def test_viewer_count(stream, fake_api):
    assert live.live_viewer_count(stream) == 0
    fake_api.set_viewer_count(stream.fastpix_id, 17)
    assert live.live_viewer_count(stream) == 17
    fake_api.inject("GET /live/streams/{streamId}/viewer-count", status=404, times=1)
    with pytest.raises(LiveStreamError):
        live.live_viewer_count(stream)


# --- reveal ---


@pytest.mark.parametrize("who", ["anonymous", "no-permission", "inactive"])
def test_reveal_is_refused_without_the_permission(stream, who, django_capture_on_commit_callbacks):
    from django.contrib.auth.models import AnonymousUser

    if who == "anonymous":
        user: Any = AnonymousUser()
    else:
        user = reveal_user(allowed=who == "inactive", active=who != "inactive")
    with capture("stream_key_revealed") as sent, django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(PermissionDenied) as caught:
            live.reveal_stream_key(stream, user)
        with pytest.raises(PermissionDenied):
            live.reveal_stream_key(stream, None)
    assert stream.stream_key_value() not in str(caught.value)
    assert sent == []
    assert not LogEntry.objects.exists()
    fresh = LiveStream.objects.get(pk=stream.pk)
    assert fresh.key_revealed_at is None and fresh.key_revealed_by == ""


def test_reveal_with_the_permission_is_recorded(
    stream, fake_api, django_capture_on_commit_callbacks
):
    user = reveal_user(allowed=True, username="auditor")
    with capture("stream_key_revealed") as sent, django_capture_on_commit_callbacks(execute=True):
        key = live.reveal_stream_key(stream, user)
    assert key == remote_stream(fake_api, stream.fastpix_id)["streamKey"]
    fresh = LiveStream.objects.get(pk=stream.pk)
    assert fresh.key_revealed_by == "auditor" and fresh.key_revealed_at is not None
    assert stream.key_revealed_by == "auditor"
    (entry,) = LogEntry.objects.all()
    assert entry.user_id == user.pk and entry.action_flag == CHANGE
    assert entry.content_type == ContentType.objects.get_for_model(LiveStream)
    assert entry.object_id == str(stream.pk) and "Revealed" in entry.get_change_message()
    assert key not in repr(LogEntry.objects.values().get())
    assert [(n, kw["live_stream"].pk, kw["by"]) for n, kw in sent] == [
        ("stream_key_revealed", stream.pk, "auditor")
    ]
    superuser = User.objects.create_superuser("root", password="x")
    assert live.reveal_stream_key(stream, superuser) == key
    assert LogEntry.objects.count() == 2


# --- simulcast ---


def test_simulcast_add_pause_resume_remove(stream, fake_api):
    target = live.add_simulcast_target(
        stream, url="rtmps://live.example.com/app", stream_key=f"  {SIMULCAST_KEY} ", by="dan"
    )
    remote = remote_stream(fake_api, stream.fastpix_id)["simulcastResponses"]
    assert [(t["simulcastId"], t["streamKey"], t["isEnabled"]) for t in remote] == [
        (target.fastpix_id, SIMULCAST_KEY, True)
    ]
    assert target.url == "rtmps://live.example.com/app" and target.is_enabled
    assert target.stream_key_hint == SIMULCAST_KEY[-4:]
    fresh = SimulcastTarget.objects.get(pk=target.pk)
    assert fresh.live_stream == stream and fresh.stream_key == SIMULCAST_KEY
    assert SIMULCAST_KEY not in raw_column(SimulcastTarget, target.pk, "stream_key")
    for text in (repr(fresh), str(fresh)):
        assert SIMULCAST_KEY not in text

    live.set_simulcast_enabled(target, False)
    assert not SimulcastTarget.objects.get(pk=target.pk).is_enabled
    assert remote_stream(fake_api, stream.fastpix_id)["simulcastResponses"][0]["isEnabled"] is False
    live.set_simulcast_enabled(target, True)
    assert SimulcastTarget.objects.get(pk=target.pk).is_enabled
    assert remote_stream(fake_api, stream.fastpix_id)["simulcastResponses"][0]["isEnabled"] is True

    live.remove_simulcast_target(target)
    assert not SimulcastTarget.objects.exists()
    assert remote_stream(fake_api, stream.fastpix_id)["simulcastResponses"] == []


def test_simulcast_refusals(stream, fake_api):
    for url, key in (("https://x.example/app", "k1"), ("rtmp://x.example/app", "   ")):
        with pytest.raises(LiveStreamError):
            live.add_simulcast_target(stream, url=url, stream_key=key)
    assert fake_api.requests_for("POST /live/streams/{streamId}/simulcast") == []
    fake_api.connect_encoder(stream.fastpix_id)  # FastPix adds targets only while idle
    with pytest.raises(LiveStreamError) as caught:
        live.add_simulcast_target(stream, url="rtmp://x.example/app", stream_key=SIMULCAST_KEY)
    assert SIMULCAST_KEY not in str(caught.value)
    assert not SimulcastTarget.objects.exists()


def test_removing_a_target_fastpix_forgot(stream, fake_api, workspace):
    from django_fastpix.client import FastPixClient
    from django_fastpix.services import api

    target = live.add_simulcast_target(stream, url="rtmp://x.example/app", stream_key="abc-key")
    api.call(workspace, FastPixClient.delete_simulcast, stream.fastpix_id, target.fastpix_id)
    live.remove_simulcast_target(target)
    assert not SimulcastTarget.objects.exists()


# --- a revoked token is never used ---


def test_revoked_token_is_never_used_for_live_calls(fake_token, workspace, fake_api):
    token = fake_token()
    token_id = token.credentials().token_id
    stream = live.create_live_stream(workspace, title="Before the leak")
    target = live.add_simulcast_target(stream, url="rtmp://x.example/app", stream_key="abc-key")
    revoke_token(token, reason="leaked", by="test")
    fake_api.clear_requests()
    calls = [
        lambda: live.create_live_stream(workspace),
        lambda: live.enable_live_stream(stream),
        lambda: live.disable_live_stream(stream),
        lambda: live.delete_live_stream(stream),
        lambda: live.refresh_live_stream(stream),
        lambda: live.live_viewer_count(stream),
        lambda: live.add_simulcast_target(stream, url="rtmp://y.example/a", stream_key="k2"),
        lambda: live.set_simulcast_enabled(target, False),
        lambda: live.remove_simulcast_target(target),
    ]
    for call in calls:
        with pytest.raises(FastPixError) as caught:
            call()
        exc = caught.value
        assert isinstance(exc, NoUsableTokenError) or isinstance(
            exc.__cause__, NoUsableTokenError
        ), exc
    assert all(r.token_id != token_id for r in fake_api.requests)
    assert fake_api.request_counts(hints=False).by_token.get(token_id, 0) == 0
    assert LiveStream.objects.count() == 1 and SimulcastTarget.objects.count() == 1
    assert LiveStream.objects.get().status == LiveStreamStatus.IDLE
