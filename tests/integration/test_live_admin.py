"""The live-stream admin against the fake FastPix: create (key shown once), the audited reveal,
the actions, simulcast targets, and no stream key or SRT secret on any other page."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from django_fastpix.models import LiveStream, LiveStreamStatus, Media, SimulcastTarget
from django_fastpix.services.live import add_simulcast_target, create_live_stream
from tests.admin.conftest import PASSWORD, action_post, admin_url, confirm_post, grant, messages_of

pytestmark = pytest.mark.django_db

SIMULCAST_KEY = "live_sk_9f8e7d6c5b4a3210zyxw"
SIMULCAST_URL = "rtmps://live.example.com/app"


# --- helpers ---


def secrets_of(fake, stream: LiveStream) -> list[str]:
    """The stream key and SRT secret as FastPix holds them, and their random parts alone
    (the fake ends both with the stream id, which pages may show)."""
    [remote] = [s for s in fake.live_streams() if s["streamId"] == stream.fastpix_id]
    values = [remote["streamKey"], remote["srtSecret"]]
    return values + [value.split("k")[0] for value in values]


def assert_hidden(secrets: list[str], *texts: str | bytes) -> None:
    for text in texts:
        haystack = text.decode() if isinstance(text, bytes) else text
        leaked = [s for s in secrets if s in haystack]
        assert not leaked, f"secret found: {leaked[0][:8]}…"


def logged_messages() -> str:
    return repr(
        [(e.object_repr, e.change_message, e.get_change_message()) for e in LogEntry.objects.all()]
    )


def post(client: Client, model: str, body: dict):
    """POST to a changelist, its messages alone in ``messages_of(response)``."""
    client.get("/admin/")  # shows, and so consumes, messages queued by earlier requests
    return client.post(admin_url(model, "changelist"), body)


def pages_of(client: Client, stream: LiveStream) -> list[bytes]:
    return [
        client.get(url).content
        for url in (
            admin_url("livestream", "changelist"),
            admin_url("livestream", "change", stream.pk),
            admin_url("livestream", "history", stream.pk),
            admin_url("simulcasttarget", "changelist"),
            "/admin/",
        )
    ]


def user_client(django_user_model, username: str, *codenames: str) -> Client:
    user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
    grant(user, *codenames)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def video_token(fake_token):
    return fake_token()


@pytest.fixture
def stream(workspace, video_token) -> LiveStream:
    return create_live_stream(workspace, title="Keynote", by="test")


@pytest.fixture
def viewer(django_user_model) -> Client:
    """Staff who may see and control streams, but not reveal their keys."""
    return user_client(
        django_user_model,
        "streamer",
        "view_livestream",
        "add_livestream",
        "change_livestream",
        "view_simulcasttarget",
        "add_simulcasttarget",
    )


@pytest.fixture
def revealer(django_user_model) -> Client:
    return user_client(django_user_model, "revealer", "view_livestream", "reveal_stream_key")


# --- create: the key once ---


def test_create_from_the_admin_shows_the_key_once_and_no_other_page_holds_it(
    admin_client, workspace, video_token, fake_api
):
    page = admin_client.get(admin_url("livestream", "add"))
    assert page.status_code == 200 and 'name="reconnect_window"' in page.content.decode()
    response = admin_client.post(
        admin_url("livestream", "add"),
        {
            "workspace": workspace.pk,
            "title": "Keynote",
            "access_policy": "private",
            "reconnect_window": "120",
            "max_resolution": "720p",
            # enable_recording unticked
        },
    )
    assert response.status_code == 200
    stream = LiveStream.objects.get()
    assert stream.title == "Keynote" and stream.created_by == "admin:admin"
    assert stream.access_policy == "private" and not stream.enable_recording
    assert stream.reconnect_window == 120 and stream.max_resolution == "720p"
    [remote] = fake_api.live_streams()
    assert remote["reconnectWindow"] == 120 and remote["enableRecording"] is False
    assert remote["playbackIds"][0]["accessPolicy"] == "private"

    html = response.content.decode()
    secrets = secrets_of(fake_api, stream)
    assert remote["streamKey"] in html and remote["srtSecret"] in html
    assert "rtmps://live.fastpix.com:443/live" in html and "not shown again" in html
    assert "no-store" in response["Cache-Control"]
    assert messages_of(response) == []  # nothing queued that could carry it
    assert "_messages" not in admin_client.session
    assert_hidden(secrets, repr(dict(admin_client.session)))

    later = pages_of(admin_client, stream)
    assert_hidden(secrets, *later, logged_messages())
    change = later[1].decode()
    assert f"…{stream.stream_key_hint}" in change and stream.fastpix_id in change
    assert "rtmps://live.fastpix.com:443/live" in change and "srt://live.fastpix.com:778" in change
    assert stream.playback_id in change
    assert LogEntry.objects.get().get_change_message() == "Created in FastPix"


def test_create_refuses_a_bad_reconnect_window_without_calling_fastpix(
    admin_client, workspace, video_token, fake_api
):
    fake_api.clear_requests()
    response = admin_client.post(
        admin_url("livestream", "add"),
        {"workspace": workspace.pk, "access_policy": "public", "reconnect_window": "30"},
    )
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert not LiveStream.objects.exists() and fake_api.live_streams() == []


def test_create_reports_fastpix_refusing(admin_client, workspace, video_token, fake_api):
    fake_api.inject("POST /live/streams", status=500)
    response = admin_client.post(
        admin_url("livestream", "add"),
        {"workspace": workspace.pk, "access_policy": "public", "reconnect_window": "60"},
    )
    assert response.status_code == 200
    [(level, text)] = messages_of(response)
    assert level == "error" and "did not create the live stream" in text
    assert not LiveStream.objects.exists()


def test_rows_are_read_only_and_never_deleted_here(admin_client, stream):
    change = admin_client.get(admin_url("livestream", "change", stream.pk)).content.decode()
    assert 'name="title"' not in change and 'name="stream_key"' not in change
    assert admin_client.get(admin_url("livestream", "delete", stream.pk)).status_code == 403
    response = admin_client.get(admin_url("livestream", "changelist"))
    choices = [value for value, _ in response.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in choices and "delete_streams" in choices


# --- reveal ---


def test_reveal_is_refused_without_the_permission(viewer, stream, fake_api):
    change = viewer.get(admin_url("livestream", "change", stream.pk)).content.decode()
    reveal = admin_url("livestream", "reveal_key", stream.pk)
    assert reveal not in change and "Reveal stream key" not in change
    assert viewer.get(reveal).status_code == 403
    assert viewer.post(reveal, {"post": "yes"}).status_code == 403
    stream.refresh_from_db()
    assert stream.key_revealed_at is None and not LogEntry.objects.exists()


def test_reveal_with_the_permission_is_confirmed_shown_once_and_audited(revealer, stream, fake_api):
    secrets = secrets_of(fake_api, stream)
    change = revealer.get(admin_url("livestream", "change", stream.pk)).content.decode()
    reveal = admin_url("livestream", "reveal_key", stream.pk)
    assert reveal in change and "Reveal stream key" in change
    confirm = revealer.get(reveal)
    assert confirm.status_code == 200 and "can broadcast as this site" in confirm.content.decode()
    assert_hidden(secrets, confirm.content)
    assert LiveStream.objects.get().key_revealed_at is None  # a GET reveals nothing

    response = revealer.post(reveal, {"post": "yes"})
    assert response.status_code == 200
    # The reveal covers both credentials an encoder needs: the key and the SRT secret.
    assert secrets[0] in response.content.decode() and secrets[1] in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    stream.refresh_from_db()
    assert stream.key_revealed_by == "revealer" and stream.key_revealed_at
    entry = LogEntry.objects.get()
    assert entry.user.username == "revealer" and entry.object_id == str(stream.pk)
    assert entry.content_type == ContentType.objects.get_for_model(LiveStream)
    assert entry.get_change_message() == "Revealed the stream key and SRT secret."

    later = [
        revealer.get(admin_url("livestream", "change", stream.pk)).content,
        revealer.get(admin_url("livestream", "history", stream.pk)).content,
        revealer.get(admin_url("livestream", "changelist")).content,
    ]
    assert_hidden(secrets, *later, logged_messages())
    assert "revealer" in later[0].decode()


def test_superusers_see_the_reveal_button(admin_client, stream):
    change = admin_client.get(admin_url("livestream", "change", stream.pk)).content.decode()
    assert admin_url("livestream", "reveal_key", stream.pk) in change


# --- actions ---


def test_actions_need_a_confirmation_and_call_fastpix(admin_client, stream, fake_api):
    page = post(admin_client, "livestream", action_post("disable_streams", [stream.pk]))
    assert page.status_code == 200 and "Disable live streams" in page.content.decode()
    assert fake_api.live_streams()[0]["status"] == "idle"
    response = post(admin_client, "livestream", confirm_post("disable_streams", [stream.pk]))
    assert response.status_code == 302
    assert fake_api.live_streams()[0]["status"] == "disabled"
    assert LiveStream.objects.get().status == LiveStreamStatus.DISABLED
    assert [level for level, _ in messages_of(response)] == ["success"]

    post(admin_client, "livestream", confirm_post("enable_streams", [stream.pk]))
    assert fake_api.live_streams()[0]["status"] == "idle"
    assert LiveStream.objects.get().status == LiveStreamStatus.IDLE

    # Finishing an idle stream: the service says why not.
    response = post(admin_client, "livestream", confirm_post("finish_streams", [stream.pk]))
    [(level, text)] = messages_of(response)
    assert level == "error" and "Only an active stream can be finished" in text

    fake_api.connect_encoder(stream.fastpix_id)
    response = post(admin_client, "livestream", action_post("refresh_streams", [stream.pk]))
    [(level, text)] = messages_of(response)
    assert level == "success" and "Live" in text
    assert LiveStream.objects.get().status == LiveStreamStatus.ACTIVE

    fake_api.set_viewer_count(stream.fastpix_id, 7)
    response = post(admin_client, "livestream", action_post("show_viewer_count", [stream.pk]))
    assert messages_of(response) == [("info", "Keynote: 7 viewers now.")]

    post(admin_client, "livestream", confirm_post("finish_streams", [stream.pk]))
    assert fake_api.live_streams()[0]["status"] == "idle"

    response = post(admin_client, "livestream", confirm_post("delete_streams", [stream.pk]))
    assert [level for level, _ in messages_of(response)] == ["success"]
    assert fake_api.live_streams() == []
    assert LiveStream.objects.get().status == LiveStreamStatus.DELETED
    response = post(admin_client, "livestream", confirm_post("delete_streams", [stream.pk]))
    assert messages_of(response) == [("warning", "Keynote: already deleted.")]
    logged = sorted(e.get_change_message() for e in LogEntry.objects.all())
    assert logged == sorted(
        ["Disabled in FastPix", "Enabled in FastPix", "Finished in FastPix", "Deleted in FastPix"]
    )
    assert_hidden(secrets_of_db_free(stream), logged_messages())


def secrets_of_db_free(stream: LiveStream) -> list[str]:
    """The stored key (the FastPix copy is gone once the stream is deleted)."""
    return [LiveStream.objects.get(pk=stream.pk).stream_key_value()]


def test_staff_without_change_permission_cannot_run_actions(django_user_model, stream, fake_api):
    client = user_client(django_user_model, "looker", "view_livestream")
    response = post(client, "livestream", confirm_post("disable_streams", [stream.pk]))
    assert response.status_code in (200, 302)
    assert fake_api.live_streams()[0]["status"] == "idle"
    assert client.get(admin_url("livestream", "add")).status_code == 403


def test_recordings_are_linked_on_the_stream_page(admin_client, stream):
    media = Media.objects.create(
        workspace=stream.workspace, fastpix_id="rec-1", title="Recording 1", live_stream=stream
    )
    change = admin_client.get(admin_url("livestream", "change", stream.pk)).content.decode()
    assert admin_url("media", "change", media.pk) in change and "Recording 1" in change


# --- simulcast targets ---


def test_add_a_simulcast_target_from_the_admin(viewer, stream, fake_api):
    change = viewer.get(admin_url("livestream", "change", stream.pk)).content.decode()
    add = admin_url("simulcasttarget", "add") + f"?live_stream={stream.pk}"
    assert add in change
    form = viewer.get(add)
    assert form.status_code == 200 and 'type="password"' in form.content.decode()

    # A refused URL: the form comes back without the key in it.
    bad = viewer.post(
        add, {"live_stream": stream.pk, "url": "http://x", "stream_key": SIMULCAST_KEY}
    )
    assert bad.status_code == 200 and "rtmp://" in bad.content.decode()
    assert SIMULCAST_KEY not in bad.content.decode()

    response = viewer.post(
        add, {"live_stream": stream.pk, "url": SIMULCAST_URL, "stream_key": SIMULCAST_KEY}
    )
    assert response.status_code == 302
    assert response["Location"] == admin_url("livestream", "change", stream.pk)
    target = SimulcastTarget.objects.get()
    assert target.url == SIMULCAST_URL and target.stream_key_hint == SIMULCAST_KEY[-4:]
    [remote] = fake_api.live_streams()[0]["simulcastResponses"]
    assert remote["streamKey"] == SIMULCAST_KEY and remote["simulcastId"] == target.fastpix_id
    [(level, text)] = messages_of(response)
    assert level == "success" and SIMULCAST_KEY not in text

    pages = [
        viewer.get(admin_url("livestream", "change", stream.pk)).content,
        viewer.get(admin_url("simulcasttarget", "changelist")).content,
        viewer.get(admin_url("simulcasttarget", "change", target.pk)).content,
    ]
    assert SIMULCAST_URL in pages[0].decode() and f"…{SIMULCAST_KEY[-4:]}" in pages[0].decode()
    assert_hidden([SIMULCAST_KEY], *pages, logged_messages())


def test_simulcast_target_actions(admin_client, stream, fake_api):
    target = add_simulcast_target(stream, url=SIMULCAST_URL, stream_key=SIMULCAST_KEY)

    def remote():
        return fake_api.live_streams()[0]["simulcastResponses"]

    page = post(admin_client, "simulcasttarget", action_post("disable_targets", [target.pk]))
    assert page.status_code == 200 and remote()[0]["isEnabled"] is True
    post(admin_client, "simulcasttarget", confirm_post("disable_targets", [target.pk]))
    assert remote()[0]["isEnabled"] is False and not SimulcastTarget.objects.get().is_enabled
    post(admin_client, "simulcasttarget", action_post("enable_targets", [target.pk]))
    assert remote()[0]["isEnabled"] is True and SimulcastTarget.objects.get().is_enabled
    response = post(admin_client, "simulcasttarget", confirm_post("remove_targets", [target.pk]))
    assert [level for level, _ in messages_of(response)] == ["success"]
    assert remote() == [] and not SimulcastTarget.objects.exists()
    assert "Removed simulcast target" in logged_messages()
    assert_hidden([SIMULCAST_KEY], logged_messages())
