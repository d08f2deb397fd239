"""fastpix_sync_media: page through FastPix's media list and repair the local records."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...client.pagination import MAX_PAGE_SIZE
from ...exceptions import FastPixError
from ...models import Workspace
from ...services.sync import SyncReport, sync_media
from ..base import FastPixCommand


class Command(FastPixCommand):
    help = (
        f"Sync local media with FastPix ({MAX_PAGE_SIZE} a page, bulk upserts): repairs what "
        "missed webhooks left stale. Media FastPix no longer lists are marked deleted after a "
        "complete listing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", action="append", help="Slug (repeatable; default all).")
        parser.add_argument(
            "--keep-missing", action="store_true", help="Don't mark unlisted media deleted."
        )
        parser.add_argument("--json", action="store_true", help="Print the counts as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        workspaces = Workspace.objects.all()
        if options["workspace"]:
            workspaces = workspaces.filter(slug__in=options["workspace"])
            missing = set(options["workspace"]) - set(workspaces.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"No workspace {', '.join(sorted(missing))}.")
        tty = sys.stdout.isatty() and not options["json"]
        results: dict[str, Any] = {}
        failed: list[str] = []
        for workspace in workspaces:

            def progress(report: SyncReport, slug: str = workspace.slug) -> None:
                if tty:
                    total = report.total or 0
                    width = 30
                    done = int(width * report.seen / total) if total else width
                    bar = "#" * done + "-" * (width - done)
                    self.stdout.write(f"\r{slug}: [{bar}] {report.seen}/{total}", ending="")
                    self.stdout.flush()

            try:
                report = sync_media(
                    workspace, progress=progress, mark_missing_deleted=not options["keep_missing"]
                )
            except FastPixError as exc:
                failed.append(f"{workspace.slug}: {exc}")
                continue
            finally:
                if tty:
                    self.stdout.write("")
            results[workspace.slug] = {
                "pages": report.pages,
                "seen": report.seen,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "marked_deleted": report.marked_deleted,
            }
            if not options["json"]:
                self.stdout.write(
                    f"{workspace.slug}: {report.seen} media in {report.pages} page(s); "
                    f"{report.created} created, {report.updated} updated, "
                    f"{report.unchanged} unchanged, {report.marked_deleted} marked deleted."
                )
        if options["json"]:
            self.stdout.write(json.dumps({"workspaces": results, "errors": failed}))
        if failed:
            raise CommandError("Sync failed for " + "; ".join(failed))
