"""demo: the token store, a lesson's video, a browser upload and a live stream going through
FastPix (the bundled fake)."""

from __future__ import annotations

import base64
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from django.template import Context, Template
from django.urls import reverse

from django_fastpix.client import FastPixClient
from django_fastpix.models import (
    AccessToken,
    LiveStream,
    LiveStreamStatus,
    Media,
    MediaStatus,
    SigningKey,
    Upload,
    Workspace,
)
from django_fastpix.services import api
from django_fastpix.services.live import create_live_stream, ingest_urls
from django_fastpix.services.tokens import add_token, revoke_token
from django_fastpix.services.uploads import UploadContext, start_upload
from django_fastpix.services.webhooks import rotate_webhook_secret
from django_fastpix.testing import FakeFastPix
from videos.models import Lesson


def _wait(predicate: Callable[[], bool], timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.1)
    return predicate()


def _element(html: str, tag: str, secret: str = "") -> str:
    """The opening tag ``<tag ...>`` of ``html``, a long ``secret`` in it elided."""
    start = html.index(f"<{tag}")
    element = html[start : html.index(">", start) + 1]
    return element.replace(secret, secret[:16] + "…") if secret else element


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Command(BaseCommand):
    help = "Walk through django-fastpix against the bundled fake FastPix."

    def handle(self, *args: Any, **options: Any) -> None:
        self.say = self.stdout.write
        workspace, _ = Workspace.objects.get_or_create(
            slug="demo", defaults={"name": "Demo", "environment": "development"}
        )
        with FakeFastPix(processing_delay=0.5) as fake:
            # The app reads FASTPIX on every access: pointing it at the fake needs no restart.
            settings.FASTPIX = {
                **settings.FASTPIX,
                "API_BASE_URL": fake.base_url,
                "STREAM_BASE_URL": fake.stream_base_url,
                "IMAGE_BASE_URL": fake.image_base_url,
            }
            token_id, secret = self.token_store(workspace, fake)
            self.lesson_to_ready_media(workspace, fake, token_id, secret)

    def heading(self, text: str) -> None:
        self.say(self.style.MIGRATE_HEADING(text))

    def token_store(self, workspace: Workspace, fake: FakeFastPix) -> tuple[str, str]:
        token_id = f"demo-{secrets.token_hex(8)}"
        secret = secrets.token_urlsafe(24)
        # Video and System (playback signing keys) read+write, as granted in the dashboard.
        fake.add_token(token_id, secret, "read_write", "ws-default", system="read_write")
        token = add_token(
            workspace=workspace,
            name=f"demo {token_id[-4:]}",
            token_id=token_id,
            secret_key=secret,
            system_scope="read_write",
        )
        self.heading("1. Added a token (the secret is never printed again):")
        self.say(f"   {token!r}")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT secret_key FROM {AccessToken._meta.db_table} WHERE id = %s", [token.pk]
            )
            raw = cursor.fetchone()[0]
        self.heading("2. What the database holds for its secret key:")
        self.say(f"   {raw[:60]}… ({len(raw)} chars of Fernet ciphertext)")
        self.heading("3. fastpix_token verify (against the fake FastPix):")
        call_command("fastpix_token", "verify", str(token.pk), stdout=self.stdout)
        self.heading("4. fastpix_token list:")
        call_command("fastpix_token", "list", "--workspace", "demo", stdout=self.stdout)
        leaked = add_token(
            workspace=workspace,
            name="leaked",
            token_id=f"leak-{secrets.token_hex(6)}",
            secret_key=secrets.token_urlsafe(24),
        )
        revoke_token(leaked, reason="demo: pasted in a chat", by="demo")
        self.heading("5. Revoked a second token; it is never used again:")
        self.say(f"   {AccessToken.objects.get(pk=leaked.pk)!r}")
        self.heading("6. fastpix_rotate_keys (re-encrypt under the first key):")
        call_command("fastpix_rotate_keys", stdout=self.stdout)
        return token_id, secret

    def lesson_to_ready_media(
        self, workspace: Workspace, fake: FakeFastPix, token_id: str, secret: str
    ) -> None:
        # A local web server so that the fake can deliver signed webhooks to this site.
        server = make_server("127.0.0.1", 0, WSGIHandler(), handler_class=QuietHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        host, port = server.server_address[:2]
        hook_url = f"http://{host}:{port}" + reverse(
            "django_fastpix:webhook", kwargs={"workspace": workspace.slug}
        )
        webhook_secret = base64.b64encode(secrets.token_bytes(32)).decode()
        rotate_webhook_secret(workspace, webhook_secret)
        fake.set_webhook("ws-default", hook_url, webhook_secret)
        self.heading(f"7. Webhooks: FastPix (the fake) delivers to {hook_url}")
        self.say(f"   registration probe answered {fake.send_probe('ws-default').status_code}")

        lesson = Lesson.objects.create(
            title="Welcome to the course", video_url="https://cdn.example.com/welcome.mp4"
        )
        media = Media.objects.get(object_id=str(lesson.pk), content_type__model="lesson")
        self.heading("8. Saved a Lesson with a video URL; the task created the media:")
        self.say(f"   {media.title!r}: {media.status}, FastPix id {media.fastpix_id}")
        deadline = time.monotonic() + 20
        while media.status != MediaStatus.READY and time.monotonic() < deadline:
            time.sleep(0.2)
            media.refresh_from_db()
        self.heading("9. Webhooks moved it along:")
        for event in workspace.events.order_by("received_at"):
            self.say(f"   {event.type:<24} {event.outcome}")
        playback = media.playback_ids.first()
        self.say(f"   status {media.status}, duration {media.duration}s")
        if playback is not None:
            self.say(f"   playback id {playback.fastpix_id}\n   stream {playback.stream_url}")
        lesson.refresh_from_db()
        self.heading("10. The site's own webhook handler (videos/fastpix_hooks.py) stamped it:")
        self.say(f"   lesson.video_ready_at = {lesson.video_ready_at}")
        remote = api.call(workspace, FastPixClient.get_media, str(media.fastpix_id))
        listed = sum(1 for _ in api.items(workspace, FastPixClient.list_media))
        self.heading("11. The typed API: api.call(workspace, FastPixClient.get_media, id):")
        self.say(f"   {remote.title!r} is {remote.status}; the workspace lists {listed} media")
        if media.status != MediaStatus.READY:
            self.say(self.style.ERROR(f"The media did not become ready: {media.error}"))
            server.shutdown()
            return
        self.private_playback(workspace, fake)
        self.browser_upload(workspace)
        self.live_stream(workspace, fake)
        server.shutdown()
        self.say(self.style.SUCCESS("Done: the lessons' videos play, the live stream went live."))

    def private_playback(self, workspace: Workspace, fake: FakeFastPix) -> None:
        lesson = Lesson.objects.create(
            title="Members only", video_url="https://cdn.example.com/members.mp4", private=True
        )
        deadline = time.monotonic() + 20
        lesson.refresh_from_db()
        while not (lesson.video and lesson.video.is_ready) and time.monotonic() < deadline:
            time.sleep(0.2)
            lesson.refresh_from_db()
        media = lesson.video
        if media is None or not media.is_ready:
            self.say(self.style.ERROR("The private lesson's media did not become ready."))
            return
        html = media.player()
        token = html.split('token="', 1)[1].split('"', 1)[0] if 'token="' in html else ""
        self.heading("12. A private lesson: {% fastpix_player lesson.video %} renders")
        start = html.index("<fastpix-player")
        element = html[start : html.index(">", start) + 1].replace(token, token[:16] + "…")
        for part in element.split('" '):
            self.say("   " + (part if part.endswith(">") else part + '"'))
        key = SigningKey.objects.get(workspace=workspace, status="active")
        self.say(
            f"   signed with signing key {key.fastpix_id}, created through FastPix on first need"
        )
        playlist = str(media.stream_url())
        unsigned = playlist.split("?", 1)[0]
        self.heading("13. FastPix (the fake) checks the token:")
        self.say(f"   playlist with the page's token: {_status(playlist)}")
        self.say(f"   playlist without a token:       {_status(unsigned)}")
        self.say(f"   with a tampered token:          {_status(playlist[:-3] + 'xyz')}")

    def browser_upload(self, workspace: Workspace) -> None:
        """What the lesson page's upload widget does in a browser, in three lines."""
        import requests

        lesson = Lesson.objects.create(title="Uploaded from a browser")
        context = UploadContext(workspace, target=lesson, field_name="video")
        started = start_upload(context, filename="intro.mp4", size=2048)
        self.heading(
            "14. start_upload: FastPix hands out a signed upload URL (given to the browser"
        )
        self.say("    once, never stored or logged); the Upload row remembers what it is for:")
        self.say(f"   {started.upload!r} -> lesson {lesson.pk}.video")
        # The browser's part: here one PUT with the whole file (the widget sends chunks).
        response = requests.put(started.url, data=b"\x00" * 2048, timeout=10)
        self.say(f"   PUT 2048 bytes to the signed URL: HTTP {response.status_code}")
        upload = Upload.objects.get(pk=started.upload.pk)

        def linked() -> bool:
            upload.refresh_from_db()
            lesson.refresh_from_db()
            return bool(lesson.video_id and upload.media_id)

        _wait(linked)
        self.heading("15. The upload's webhooks linked the media to the lesson:")
        self.say(f"   upload {upload.fastpix_id}: {upload.status}, media {upload.media_id}")
        self.say(f"   lesson.video = {lesson.video!r}")

    def live_stream(self, workspace: Workspace, fake: FakeFastPix) -> None:
        stream = create_live_stream(
            workspace, title="Demo keynote", access_policy="private", by="demo"
        )
        self.heading("16. create_live_stream: a private live stream. Its key, shown this once:")
        self.say(f"   stream key {stream.stream_key}")
        self.say(f"   ingest     {ingest_urls()['rtmps']}")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT stream_key FROM {LiveStream._meta.db_table} WHERE id = %s", [stream.pk]
            )
            raw = cursor.fetchone()[0]
        hint = stream.stream_key_hint
        self.say(f"   stored as  {raw[:40]}… (Fernet); afterwards only the hint …{hint}")
        self.say(
            "   (the admin shows it once too; later only an audited, permission-checked reveal)"
        )
        player = Template("{% load fastpix %}{% fastpix_player stream %}")

        def render() -> str:
            stream.refresh_from_db()
            return player.render(Context({"stream": stream}))

        self.heading("17. {% fastpix_player stream %} before the broadcast:")
        self.say("   " + _element(render(), "div"))
        fake.connect_encoder(stream.fastpix_id)
        _wait(lambda: render() and stream.status == LiveStreamStatus.ACTIVE)
        self.heading("18. The encoder connected (the fake's simulation); webhooks made it active:")
        html = render()
        token = html.split('token="', 1)[1].split('"', 1)[0] if 'token="' in html else ""
        self.say(f"   status {stream.status}")
        self.say("   " + _element(html, "fastpix-player", token))
        fake.disconnect_encoder(stream.fastpix_id)
        _wait(lambda: render() and stream.status == LiveStreamStatus.DISCONNECTED)
        self.heading("19. The encoder dropped:")
        self.say("   " + _element(render(), "div"))
        self.say("   The example site's /live/<pk>/ page shows the same and refreshes by itself.")
