"""Stream keys are credentials (issue 10): searched for in logs, errors, reprs and the database.

Every flow that handles a live stream key or a simulcast key runs with every logger at DEBUG
and Django logging each SQL statement with its parameters; afterwards the keys (and the SRT
secret) must appear nowhere but where they are handed out on purpose.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied
from django.db import connection

from django_fastpix.client import FastPixClient
from django_fastpix.models import LiveStream, SimulcastTarget, WebhookEvent
from django_fastpix.services import api, live, webhooks
from django_fastpix.testing.webhooks import sign

pytestmark = pytest.mark.django_db

SIMULCAST_KEY = "yt-live-Qm9vZ2xlU2VjcmV0U3RyZWFtS2V5XzAxMjM0"
OTHER_SIMULCAST_KEY = "twitch_live_8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
SECRET = "bGl2ZS1zZWNyZXRzLXdlYmhvb2stc2lnbmluZy0zMmJ5dGVz"


def all_rows() -> str:
    """Every table as the database holds it (raw SQL, nothing decrypted)."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            dump.append(f"{table}: {cursor.fetchall()!r}")
    return "\n".join(dump)


def fragments(secret: str) -> list[str]:
    """The secret and its first half (a truncated copy is a leak too). Not its end: the fake's
    stream keys end with the stream id, which is no secret."""
    return [secret, secret[: len(secret) // 2]]


def assert_absent(secrets: list[str], where: str, text: str) -> None:
    for secret in secrets:
        leaked = [f for f in fragments(secret) if f in text]
        assert not leaked, f"{where} holds key material {leaked[0][:6]}…"


def error_texts(exc: BaseException) -> list[str]:
    """What an exception shows: its message and repr, and those of its causes."""
    texts = []
    seen: BaseException | None = exc
    while seen is not None:
        texts += [str(seen), repr(seen), repr(getattr(seen, "args", ()))]
        seen = seen.__cause__ or seen.__context__
    return texts


@pytest.fixture
def debug_logs(caplog, settings):
    settings.DEBUG = True  # Django logs every SQL statement with its parameters
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    return caplog


def revealer() -> User:
    user = User.objects.create_user("revealer", password="x")
    user.user_permissions.add(
        Permission.objects.get(
            codename="reveal_stream_key", content_type__app_label="django_fastpix"
        )
    )
    return User.objects.get(pk=user.pk)


def test_no_stream_or_simulcast_key_in_logs_errors_reprs_or_the_database(
    fake_token, workspace, fake_api, debug_logs, django_capture_on_commit_callbacks
):
    fake_token()
    errors: list[BaseException] = []
    shown: list[str] = []
    with django_capture_on_commit_callbacks(execute=True):
        stream = live.create_live_stream(workspace, title="Secret show", by="alice")
    remote = next(s for s in fake_api.live_streams() if s["streamId"] == stream.fastpix_id)
    stream_key, srt_secret = remote["streamKey"], remote["srtSecret"]
    srt_playback = remote["srtPlaybackResponse"]["srtPlaybackSecret"]
    secrets = [stream_key, srt_secret, srt_playback, SIMULCAST_KEY, OTHER_SIMULCAST_KEY]

    # Reveal: refused, then allowed (the returned key is the one place it may be).
    nobody = User.objects.create_user("nobody", password="x")
    try:
        live.reveal_stream_key(stream, nobody)
    except PermissionDenied as exc:
        errors.append(exc)
    with django_capture_on_commit_callbacks(execute=True):
        assert live.reveal_stream_key(stream, revealer()) == stream_key

    # Simulcast: added, paused, refused, failed, removed.
    target = live.add_simulcast_target(
        stream, url="rtmps://a.rtmp.youtube.com/live2", stream_key=SIMULCAST_KEY, by="alice"
    )
    live.set_simulcast_enabled(target, False)
    fake_api.inject("POST /live/streams/{streamId}/simulcast", status=422, times=1)
    for url in ("rtmp://live.twitch.tv/app", "ftp://nope"):
        try:
            live.add_simulcast_target(stream, url=url, stream_key=OTHER_SIMULCAST_KEY)
        except live.LiveStreamError as exc:
            errors.append(exc)
    fake_api.connect_encoder(stream.fastpix_id)
    live.refresh_live_stream(stream)
    try:
        live.add_simulcast_target(
            stream, url="rtmp://live.twitch.tv/app", stream_key=OTHER_SIMULCAST_KEY
        )
    except live.LiveStreamError as exc:
        errors.append(exc)
    fake_api.inject("PUT /live/streams/{streamId}/simulcast/{simulcastId}", status=500)
    try:
        live.set_simulcast_enabled(target, True)
    except live.LiveStreamError as exc:
        errors.append(exc)
    fake_api.clear_faults()
    with django_capture_on_commit_callbacks(execute=True):
        live.finish_live_stream(stream, by="alice")
        live.disable_live_stream(stream, by="alice")
        live.enable_live_stream(stream, by="alice")
    second = live.add_simulcast_target(
        stream, url="rtmp://live.twitch.tv/app", stream_key=OTHER_SIMULCAST_KEY
    )

    # Reprs and strings of everything the flows made or read back.
    fresh = LiveStream.objects.get(pk=stream.pk)
    remote_obj = api.call(workspace, FastPixClient.get_live_stream, stream.fastpix_id)
    remote_target = api.call(
        workspace, FastPixClient.get_simulcast, stream.fastpix_id, target.fastpix_id
    )
    for obj in (stream, fresh, target, second, remote_obj, remote_target):
        shown += [repr(obj), str(obj)]
    shown += [repr(list(SimulcastTarget.objects.all())), repr(live.ingest_urls())]
    live.remove_simulcast_target(target)
    with django_capture_on_commit_callbacks(execute=True):
        live.delete_live_stream(stream, by="alice")

    assert len(errors) == 5, errors
    assert any(r.name == "django.db.backends" for r in debug_logs.records)  # SQL was logged
    assert any(r.name.startswith("django_fastpix") for r in debug_logs.records)
    assert_absent(secrets, "the log", debug_logs.text)
    for record in debug_logs.records:
        assert_absent(secrets, f"log record {record.name}", repr(record.args))
    for exc in errors:
        for text in error_texts(exc):
            assert_absent(secrets, f"{type(exc).__name__}", text)
    for text in shown:
        assert_absent(secrets, "a repr or str", text)
    assert_absent(secrets, "the database", all_rows())
    # The search does find what it looks for.
    with pytest.raises(AssertionError):
        assert_absent(secrets, "a planted copy", f"key={stream_key[:40]}")


def test_keys_are_encrypted_columns(fake_token, workspace, fake_api):
    fake_token()
    stream = live.create_live_stream(workspace)
    target = live.add_simulcast_target(stream, url="rtmp://x.example/a", stream_key=SIMULCAST_KEY)
    stream_key = stream.stream_key_value()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT stream_key, srt_secret FROM {LiveStream._meta.db_table}")
        (stored_key, stored_srt) = cursor.fetchone()
        cursor.execute(f"SELECT stream_key FROM {SimulcastTarget._meta.db_table}")
        (stored_simulcast,) = cursor.fetchone()
    assert stored_key and stream_key not in stored_key
    assert (stored_srt and stream.srt_secret not in stored_srt) or not stream.srt_secret
    assert stored_simulcast and SIMULCAST_KEY not in stored_simulcast
    assert SimulcastTarget.objects.get(pk=target.pk).stream_key == SIMULCAST_KEY


def test_no_key_stored_or_logged_from_live_webhooks(fake_token, workspace, fake_api, debug_logs):
    """FastPix's live events carry the whole LiveStream (streamKey, srtSecret, and the targets'
    stream keys in simulcast events). Receiving them must not store or log those in plaintext."""
    fake_token()
    workspace.webhook_secret = SECRET
    workspace.save()
    stream = live.create_live_stream(workspace, title="Hooked")
    target = live.add_simulcast_target(
        stream, url="rtmps://a.rtmp.youtube.com/live2", stream_key=SIMULCAST_KEY
    )
    live.set_simulcast_enabled(target, False)
    fake_api.connect_encoder(stream.fastpix_id)
    remote = next(s for s in fake_api.live_streams() if s["streamId"] == stream.fastpix_id)
    secrets = [remote["streamKey"], remote["srtSecret"], SIMULCAST_KEY]
    events: list[dict[str, Any]] = [
        e for e in fake_api.webhook_events if e["object"]["id"] == stream.fastpix_id
    ]
    carried = json.dumps(events)
    assert remote["streamKey"] in carried and SIMULCAST_KEY in carried  # FastPix sends them
    debug_logs.clear()
    for event in events:
        body = json.dumps(event).encode()
        delivery = webhooks.receive(workspace, body, sign(body, SECRET))
        assert delivery.status == 200, delivery.detail
    problems = []
    for where, text in (("the log", debug_logs.text), ("the database", all_rows())):
        try:
            assert_absent(secrets, where, text)
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT type, payload FROM {WebhookEvent._meta.db_table}")
        for kind, payload in cursor.fetchall():
            names = ("streamKey", "srtSecret", "simulcast key")
            found = [n for n, secret in zip(names, secrets, strict=True) if secret in str(payload)]
            if found:
                problems.append(f"{kind} payload stored with {', '.join(found)}")
    assert not problems, "\n".join(problems)
