"""fastpix_uploads: list browser uploads, cancel a waiting one, sweep stale ones.

The signed upload URL is never stored, so no output can show it.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import CommandError

from ...models import Upload, UploadStatus
from ...services.uploads import cancel_upload, sweep_uploads
from ..base import SubcommandCommand, cli_actor


class Command(SubcommandCommand):
    help = (
        "Manage browser uploads to FastPix: list them, cancel a waiting one, and sweep "
        "(link uploads whose media arrived unnoticed, time out expired ones; run it regularly, "
        "e.g. hourly)."
    )

    def add_subcommands(self, sub: argparse._SubParsersAction[Any]) -> None:
        lst = sub.add_parser("list", help="List uploads, newest first.")
        lst.add_argument(
            "--status", choices=[s.value for s in UploadStatus], help="Only this status."
        )
        lst.add_argument("--workspace", help="Only this workspace (slug).")
        lst.add_argument(
            "--limit", type=int, default=100, help="At most this many rows (default 100)."
        )

        cancel = sub.add_parser("cancel", help="Cancel a waiting upload in FastPix, then here.")
        cancel.add_argument("upload", metavar="PK", type=int, help="The local upload id.")

        sub.add_parser(
            "sweep",
            help="Link uploads whose media arrived unnoticed; time out the expired ones.",
        )

    def handle_list(self, **options: Any) -> None:
        uploads = Upload.objects.select_related("workspace", "created_by", "content_type").order_by(
            "-created_at", "-pk"
        )
        if options.get("workspace"):
            uploads = uploads.filter(workspace=self.workspace(options["workspace"]))
        if options.get("status"):
            uploads = uploads.filter(status=options["status"])
        rows = [_as_dict(upload) for upload in uploads[: max(options["limit"], 0)]]
        if options["json"]:
            self.write_json(rows)
            return
        if not rows:
            self.stdout.write("No uploads.")
            return
        self.stdout.write(
            f"{'ID':>5} {'WORKSPACE':<16} {'FASTPIX ID':<34} {'STATUS':<13} {'MEDIA':>6} "
            f"{'CREATED':<16} FILENAME"
        )
        for r in rows:
            self.stdout.write(
                f"{r['id']:>5} {r['workspace']:<16} {r['fastpix_id']:<34} {r['status']:<13} "
                f"{r['media'] or '-':>6} {_short(r['created_at']):<16} {r['filename']}"
            )

    def handle_cancel(self, **options: Any) -> None:
        upload = Upload.objects.select_related("workspace").filter(pk=options["upload"]).first()
        if upload is None:
            raise CommandError(f"No upload {options['upload']} (see `fastpix_uploads list`).")
        upload = cancel_upload(upload, by=cli_actor())
        self._report(
            options, _as_dict(upload), f"Cancelled upload {upload.pk} ({upload.fastpix_id})."
        )

    def handle_sweep(self, **options: Any) -> None:
        result = sweep_uploads()
        self._report(
            options,
            {"linked": result.linked, "timed_out": result.timed_out},
            f"Swept uploads: {result.linked} linked to their media, {result.timed_out} timed out.",
        )

    def _report(self, options: dict[str, Any], data: Any, text: str) -> None:
        if options.get("json"):
            self.write_json(data, indent=None)
        else:
            self.stdout.write(self.style.SUCCESS(text))


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _short(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else "-"


def _as_dict(upload: Upload) -> dict[str, Any]:
    # Built field by field: a new model field is never printed until it is listed here.
    return {
        "id": upload.pk,
        "workspace": upload.workspace.slug,
        "fastpix_id": upload.fastpix_id,
        "status": upload.status,
        "error": upload.error,
        "media": upload.media_id,
        "target_model": (
            f"{upload.content_type.app_label}.{upload.content_type.model}"
            if upload.content_type
            else None
        ),
        "object_id": upload.object_id or None,
        "field_name": upload.field_name,
        "access_policy": upload.access_policy,
        "filename": upload.filename,
        "size": upload.size,
        "created_by": upload.created_by.get_username() if upload.created_by else None,
        "created_at": _iso(upload.created_at),
        "expires_at": _iso(upload.expires_at),
        "finished_at": _iso(upload.finished_at),
    }
