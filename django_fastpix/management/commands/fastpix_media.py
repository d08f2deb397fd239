"""fastpix_media: create, inspect, refresh, retry, delete and list FastPix media from a shell."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from django.core.management.base import CommandError
from django.db.models import QuerySet

from ...models import Media, MediaStatus
from ...services.media import (
    delete_remote_media,
    refresh_media,
    retry_media_creation,
    url_problem,
)
from ...services.operations import start_media, wait_for_media
from ...services.recovery import recover_media
from ..base import SubcommandCommand


class Command(SubcommandCommand):
    help = (
        "Manage FastPix media. MEDIA is a local media id or a FastPix media id. Creation runs "
        "now, in this process, with the same exactly-once guarantee as the background task."
    )

    def add_subcommands(self, sub: argparse._SubParsersAction[Any]) -> None:
        create = sub.add_parser("create", help="Create a media in FastPix from a video URL.")
        create.add_argument("--workspace", required=True, help="Workspace slug.")
        create.add_argument("--url", required=True, help="The http(s) URL FastPix pulls from.")
        create.add_argument("--title", default="", help="Title shown in FastPix.")
        create.add_argument(
            "--access-policy", choices=["public", "private"], default="public", help="Playback."
        )
        create.add_argument(
            "--wait", action="store_true", help="Poll FastPix until the media is ready or failed."
        )
        create.add_argument(
            "--timeout", type=float, default=300.0, help="Seconds --wait waits (default 300)."
        )
        create.add_argument(
            "--interval", type=float, default=2.0, help="Seconds between polls (default 2)."
        )

        for name, helptext in (
            ("status", "Show a media as stored locally (no FastPix call)."),
            ("refresh", "Fetch a media from FastPix and store what it says."),
            ("retry", "Send a pending or failed media through creation again."),
            ("delete", "Delete a media in FastPix and mark it deleted."),
        ):
            p = sub.add_parser(name, help=helptext)
            p.add_argument("media", metavar="MEDIA", help="Local id or FastPix media id.")
            p.add_argument("--workspace", help="Slug, when a FastPix id is ambiguous.")
            if name == "delete":
                p.add_argument("--yes", action="store_true", help="Don't ask for confirmation.")

        recover = sub.add_parser(
            "recover",
            help=(
                "Queue again every pending media whose attempt died or was never queued, and "
                "make the media of source objects that never got one. Safe to run from cron."
            ),
        )
        recover.add_argument(
            "--limit", type=int, default=None, help="Requeue at most this many media."
        )

        lst = sub.add_parser("list", help="List media, newest first.")
        lst.add_argument("--workspace", help="Only this workspace (slug).")
        lst.add_argument("--status", choices=MediaStatus.values, help="Only this status.")
        lst.add_argument("--limit", type=int, default=50, help="At most this many (default 50).")

    # --- sub-commands ---

    def handle_create(self, **options: Any) -> None:
        problem = url_problem(options["url"])
        if problem:
            raise CommandError(problem)
        if options["timeout"] < 0 or options["interval"] <= 0:
            raise CommandError("--timeout must be >= 0 and --interval > 0.")
        media = start_media(
            self.workspace(options["workspace"]),
            options["url"],
            title=options["title"],
            access_policy=options["access_policy"],
        )
        if not media.fastpix_id:
            self._report(media, options)
            raise CommandError(
                f"Media #{media.pk} was not created in FastPix ({media.status}): {media.error} "
                f"Once fixed, `fastpix_media retry {media.pk}` tries again without a duplicate."
            )
        if options["wait"]:

            def progress(polled: Media) -> None:
                if not options["json"]:
                    self.stdout.write(f"  … {polled.status}")

            media = wait_for_media(
                media, timeout=options["timeout"], interval=options["interval"], on_poll=progress
            )
        self._report(media, options)
        if media.status == MediaStatus.FAILED:
            raise CommandError(f"Media #{media.pk} failed: {media.error}")
        if options["wait"] and media.status != MediaStatus.READY:
            raise CommandError(
                f"Media #{media.pk} is still {media.status} after {options['timeout']:g} s; "
                f"check later with `fastpix_media refresh {media.pk}`."
            )

    def handle_status(self, **options: Any) -> None:
        self._report(self._media(options), options)

    def handle_refresh(self, **options: Any) -> None:
        self._report(refresh_media(self._media(options)), options)

    def handle_retry(self, **options: Any) -> None:
        media = retry_media_creation(self._media(options))
        media.refresh_from_db()
        self._report(media, options)

    def handle_delete(self, **options: Any) -> None:
        media = self._media(options)
        if not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError("No terminal to confirm on: add --yes to delete.")
            answer = input(f"Delete media #{media.pk} {media} in FastPix for good? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Not deleted.")
        self._report(delete_remote_media(media), options)

    def handle_recover(self, **options: Any) -> None:
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        report = recover_media(limit=options["limit"])
        if options["json"]:
            self.write_json(report.as_dict(), indent=None)
            return
        self.stdout.write(
            f"Requeued {report.requeued} pending media; made {report.created_for_objects} "
            f"media for source objects without one."
        )
        if report.events_requeued:
            self.stdout.write(
                f"Queued again {report.events_requeued} webhook event(s) no worker had applied."
            )
        if report.objects_still_without_media:
            self.stderr.write(
                f"{report.objects_still_without_media} source object(s) still have no media "
                "(their workspace cannot be resolved): see `manage.py fastpix_doctor`."
            )

    def handle_list(self, **options: Any) -> None:
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        media: QuerySet[Media] = Media.objects.select_related("workspace").order_by("-pk")
        if options["workspace"]:
            media = media.filter(workspace=self.workspace(options["workspace"]))
        if options["status"]:
            media = media.filter(status=options["status"])
        rows = [_as_dict(m, playback=False) for m in media[: options["limit"]]]
        if options["json"]:
            self.write_json(rows)
            return
        if not rows:
            self.stdout.write("No media.")
            return
        self.stdout.write(f"{'ID':>5}  {'WORKSPACE':<14} {'STATUS':<12} {'FASTPIX ID':<38} TITLE")
        for r in rows:
            self.stdout.write(
                f"{r['id']:>5}  {r['workspace']:<14} {r['status']:<12} "
                f"{r['fastpix_id'] or '-':<38} {r['title']}"
            )

    # --- helpers ---

    def _report(self, media: Media, options: dict[str, Any]) -> None:
        data = _as_dict(media)
        if options["json"]:
            self.write_json(data)
            return
        style = {
            MediaStatus.READY: self.style.SUCCESS,
            MediaStatus.FAILED: self.style.ERROR,
        }.get(MediaStatus(media.status), self.style.WARNING)
        self.stdout.write(style(f"Media #{media.pk} {media.status}"))
        for key in ("workspace", "fastpix_id", "title", "source_url", "access_policy", "error"):
            if data[key]:
                self.stdout.write(f"  {key}: {data[key]}")
        for playback in data["playback_ids"]:
            self.stdout.write(f"  playback id: {playback['id']} ({playback['access_policy']})")
        if media.status == MediaStatus.PENDING and media.creation_attempts:
            self.stdout.write(f"  creation attempts: {media.creation_attempts}")
        for key in (
            "next_attempt_at",
            "created_at",
            "updated_at",
            "last_synced_at",
            "last_event_at",
        ):
            if data[key]:
                self.stdout.write(f"  {key}: {data[key]}")

    def _media(self, options: dict[str, Any]) -> Media:
        ref = str(options["media"]).strip()
        media = Media.objects.select_related("workspace")
        if options.get("workspace"):
            media = media.filter(workspace=self.workspace(options["workspace"]))
        if ref.isdigit():
            by_pk = media.filter(pk=int(ref)).first()
            if by_pk is not None:
                return by_pk
        found = list(media.filter(fastpix_id=ref)[:2])
        if len(found) > 1:
            raise CommandError(f"FastPix id {ref!r} is in several workspaces: add --workspace.")
        if not found:
            raise CommandError(f"No media {ref!r} (neither a local id nor a FastPix id).")
        return found[0]


def _as_dict(media: Media, *, playback: bool = True) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return value.isoformat() if value else None

    data: dict[str, Any] = {
        "id": media.pk,
        "workspace": media.workspace.slug,
        "fastpix_id": media.fastpix_id,
        "status": media.status,
        "title": media.title,
        "source_url": media.source_url,
        "access_policy": media.access_policy,
        "duration": media.duration,
        "error": media.error,
        "creation_attempts": media.creation_attempts,
        "next_attempt_at": when(media.next_attempt_at) if media.status == "pending" else None,
        "created_at": when(media.created_at),
        "updated_at": when(media.updated_at),
        "last_synced_at": when(media.last_synced_at),
        "last_event_at": when(media.last_event_at),
    }
    if playback:
        data["playback_ids"] = [
            {"id": p.fastpix_id, "access_policy": p.access_policy} for p in media.playback_ids.all()
        ]
    return data
