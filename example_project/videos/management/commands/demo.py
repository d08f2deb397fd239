"""demo: the token store and a lesson's video going through FastPix (the bundled fake)."""

from __future__ import annotations

import base64
import secrets
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from django.urls import reverse

from django_fastpix.client import FastPixClient
from django_fastpix.models import AccessToken, Media, MediaStatus, SigningKey, Workspace
from django_fastpix.services import api
from django_fastpix.services.tokens import add_token, revoke_token
from django_fastpix.services.webhooks import rotate_webhook_secret
from django_fastpix.testing import FakeFastPix
from videos.models import Lesson


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
        server.shutdown()
        self.say(self.style.SUCCESS("Done: the lessons' videos are ready to play."))

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
