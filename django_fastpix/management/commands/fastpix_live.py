"""fastpix_live: create, list and control FastPix live streams and their simulcast targets.

A stream key is printed by ``create`` (once, with a warning) and by ``reveal-key`` (permission
checked and recorded); every other output shows its last four characters only. A simulcast
target's key is read from standard input or a prompt, never from the command line.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError
from django.db.models import Q, QuerySet
from django.views.decorators.debug import sensitive_variables

from ...models import LiveStream, LiveStreamStatus, SimulcastTarget
from ...services.live import (
    RESOLUTIONS,
    add_simulcast_target,
    create_live_stream,
    delete_live_stream,
    disable_live_stream,
    enable_live_stream,
    finish_live_stream,
    ingest_urls,
    live_viewer_count,
    refresh_live_stream,
    remove_simulcast_target,
    reveal_stream_key,
    set_simulcast_enabled,
)
from ..base import SubcommandCommand, cli_actor

KEY_WARNING = (
    "Copy the stream key now: it is not shown again. Anyone holding it can broadcast as this "
    "site (`fastpix_live reveal-key ID --user NAME` shows it again, audited)."
)
STREAM_SECRETS = ("stream_key", "srt_secret")


class Command(SubcommandCommand):
    help = (
        "Manage FastPix live streams. The stream key is printed once by `create`; afterwards "
        "only `reveal-key` shows it (permission checked, recorded). ID is the local id or the "
        "FastPix stream id."
    )

    def add_subcommands(self, sub: argparse._SubParsersAction[Any]) -> None:
        create = sub.add_parser("create", help="Create a stream in FastPix; prints its key once.")
        create.add_argument("--workspace", required=True, help="Workspace slug.")
        create.add_argument("--title", default="", help="A title for the stream.")
        create.add_argument(
            "--private", action="store_true", help="Signed playback only (default: public)."
        )
        create.add_argument(
            "--reconnect-window",
            type=int,
            default=60,
            metavar="SECONDS",
            help="How long FastPix waits for a dropped encoder (60-1800; default 60).",
        )
        create.add_argument(
            "--no-recording", action="store_true", help="Do not record the broadcasts."
        )
        create.add_argument(
            "--max-resolution", choices=RESOLUTIONS, help="Maximum resolution (FastPix default)."
        )

        lst = sub.add_parser("list", help="List streams (key hints only).")
        lst.add_argument("--workspace", help="Only this workspace (slug).")
        lst.add_argument(
            "--status", choices=[s.value for s in LiveStreamStatus], help="Only this status."
        )

        for name, text in (
            ("show", "Show a stream: status, ingest URLs, playback ids, key hint."),
            ("enable", "Accept an encoder again."),
            ("disable", "Refuse encoders (ends a broadcast in progress)."),
            ("finish", "End the broadcast now (the recording starts processing)."),
            ("delete", "Delete in FastPix (the key stops working; the row stays)."),
            ("refresh", "Read the stream from FastPix and store its state."),
            ("viewers", "How many people watch now."),
            ("simulcast-list", "List the stream's simulcast targets (key hints only)."),
        ):
            parser = sub.add_parser(name, help=text)
            parser.add_argument("stream", metavar="ID", help="Local id or FastPix stream id.")

        reveal = sub.add_parser(
            "reveal-key",
            help="Print the stream key, for a user holding django_fastpix.reveal_stream_key "
            "(recorded on the stream and in the admin history).",
        )
        reveal.add_argument("stream", metavar="ID", help="Local id or FastPix stream id.")
        reveal.add_argument("--user", required=True, metavar="USERNAME", help="Who asks.")

        add = sub.add_parser(
            "simulcast-add",
            help="Restream to a platform. Its stream key is read from a prompt, or from "
            "standard input with --stream-key-stdin; never from the command line.",
        )
        add.add_argument("stream", metavar="ID", help="Local id or FastPix stream id.")
        add.add_argument("--url", required=True, help="The platform's rtmp:// or rtmps:// URL.")
        add.add_argument(
            "--stream-key-stdin",
            action="store_true",
            help="Read the platform's stream key as one line of standard input.",
        )

        for name, text in (
            ("simulcast-remove", "Remove a simulcast target in FastPix, and here."),
            ("simulcast-enable", "Resume restreaming to a target."),
            ("simulcast-disable", "Pause restreaming to a target."),
        ):
            parser = sub.add_parser(name, help=text)
            parser.add_argument("target", metavar="TARGET_PK", type=int, help="See simulcast-list.")

    # --- sub-commands ---

    @sensitive_variables("stream", "data")
    def handle_create(self, **options: Any) -> None:
        workspace = self.workspace(options["workspace"])
        stream = create_live_stream(
            workspace,
            title=options["title"],
            access_policy="private" if options["private"] else "public",
            reconnect_window=options["reconnect_window"],
            enable_recording=not options["no_recording"],
            max_resolution=options.get("max_resolution"),
            by=cli_actor(),
        )
        urls = ingest_urls()
        if options["json"]:
            data = {
                **_as_dict(stream),
                "stream_key": stream.stream_key,
                "srt_secret": stream.srt_secret or None,
                "warning": KEY_WARNING,
            }
            self.write_json(data, indent=None)
            return
        lines = [
            f"Created live stream {stream.pk} ({stream.fastpix_id}) in workspace "
            f"{workspace.slug!r}.",
            f"  RTMPS URL:  {urls['rtmps']}",
            f"  SRT URL:    {urls['srt']}",
            f"  Stream key: {stream.stream_key}",
        ]
        if stream.srt_secret:
            lines.append(f"  SRT secret: {stream.srt_secret}")
        if stream.playback_id:
            lines.append(f"  Playback id: {stream.playback_id}")
        self.stdout.write(self.style.SUCCESS(lines[0]))
        self.stdout.write("\n".join(lines[1:]))
        self.stderr.write(self.style.WARNING(KEY_WARNING))

    def handle_list(self, **options: Any) -> None:
        streams = _streams().order_by("workspace__slug", "-created_at", "-pk")
        if options.get("workspace"):
            streams = streams.filter(workspace=self.workspace(options["workspace"]))
        if options.get("status"):
            streams = streams.filter(status=options["status"])
        rows = [_as_dict(stream) for stream in streams]
        if options["json"]:
            self.write_json(rows)
            return
        if not rows:
            self.stdout.write("No live streams.")
            return
        self.stdout.write(
            f"{'ID':>5} {'WORKSPACE':<16} {'FASTPIX ID':<34} {'STATUS':<12} {'KEY':<7} TITLE"
        )
        for r in rows:
            self.stdout.write(
                f"{r['id']:>5} {r['workspace']:<16} {r['fastpix_id']:<34} {r['status']:<12} "
                f"{_hint(r['stream_key_hint']):<7} {r['title']}"
            )

    def handle_show(self, **options: Any) -> None:
        stream = self._stream(options["stream"])
        data = {
            **_as_dict(stream),
            "ingest": ingest_urls(),
            "recordings": [
                {"id": m.pk, "fastpix_id": m.fastpix_id, "status": m.status}
                for m in stream.recordings.order_by("-created_at")
            ],
            "simulcast_targets": [_target_dict(t) for t in _targets(stream)],
        }
        if options["json"]:
            self.write_json(data)
            return
        lines = [
            f"Live stream {stream.pk}: {stream}",
            f"  FastPix id:   {stream.fastpix_id}",
            f"  Workspace:    {stream.workspace.slug}",
            f"  Status:       {stream.status}",
            f"  Stream key:   {_hint(stream.stream_key_hint)} (`reveal-key` shows it, audited)",
            f"  RTMPS URL:    {data['ingest']['rtmps']}",
            f"  SRT URL:      {data['ingest']['srt']}",
            f"  Access:       {stream.access_policy}",
            f"  Reconnect:    {stream.reconnect_window}s",
            f"  Recording:    {'on' if stream.enable_recording else 'off'}",
            "  Playback ids: "
            + (", ".join(f"{p['id']} ({p['accessPolicy']})" for p in data["playback_ids"]) or "-"),
            f"  Key revealed: {_iso(stream.key_revealed_at) or '-'}"
            + (f" by {stream.key_revealed_by}" if stream.key_revealed_by else ""),
            f"  Created:      {_iso(stream.created_at)} by {stream.created_by or '-'}",
        ]
        for rec in data["recordings"]:
            lines.append(f"  Recording:    media {rec['id']} {rec['fastpix_id']} ({rec['status']})")
        for target in data["simulcast_targets"]:
            lines.append(f"  Simulcast:    {_target_line(target)}")
        self.stdout.write("\n".join(lines))

    def handle_enable(self, **options: Any) -> None:
        self._control(options, enable_live_stream, "Enabled")

    def handle_disable(self, **options: Any) -> None:
        self._control(options, disable_live_stream, "Disabled")

    def handle_finish(self, **options: Any) -> None:
        self._control(options, finish_live_stream, "Finished")

    def handle_delete(self, **options: Any) -> None:
        stream = self._stream(options["stream"])
        if stream.status == LiveStreamStatus.DELETED:
            self._report(options, _as_dict(stream), f"Live stream {stream.pk} was already deleted.")
            return
        self._control(options, delete_live_stream, "Deleted in FastPix", stream=stream)

    def handle_refresh(self, **options: Any) -> None:
        stream = refresh_live_stream(self._stream(options["stream"]))
        self._report(
            options, _as_dict(stream), f"Refreshed live stream {stream.pk}: {stream.status}."
        )

    def handle_viewers(self, **options: Any) -> None:
        stream = self._stream(options["stream"])
        count = live_viewer_count(stream)
        self._report(
            options,
            {"id": stream.pk, "fastpix_id": stream.fastpix_id, "viewers": count},
            f"Live stream {stream.pk}: {count} viewer(s) now.",
        )

    @sensitive_variables("key")
    def handle_reveal_key(self, **options: Any) -> None:
        stream = self._stream(options["stream"])
        user = self._user(options["user"])
        try:
            key = reveal_stream_key(stream, user)
        except PermissionDenied:
            raise CommandError(
                f"User {options['user']!r} may not reveal stream keys: it needs the permission "
                "django_fastpix.reveal_stream_key (and to be active)."
            ) from None
        srt_secret = stream.srt_secret_value()
        if options["json"]:
            self.write_json(
                {
                    "id": stream.pk,
                    "fastpix_id": stream.fastpix_id,
                    "stream_key": key,
                    "srt_secret": srt_secret,
                },
                indent=None,
            )
            return
        self.stdout.write(f"Stream key of live stream {stream.pk} ({stream.fastpix_id}): {key}")
        if srt_secret:
            self.stdout.write(f"SRT secret: {srt_secret}")
        self.stderr.write(
            self.style.WARNING(
                f"This reveal is recorded (by {stream.key_revealed_by}). Anyone holding the key "
                "can broadcast as this site."
            )
        )

    @sensitive_variables("key")
    def handle_simulcast_add(self, **options: Any) -> None:
        stream = self._stream(options["stream"])
        key = _read_stream_key(options["stream_key_stdin"])
        target = add_simulcast_target(stream, url=options["url"], stream_key=key, by=cli_actor())
        self._report(
            options,
            _target_dict(target),
            f"Added simulcast target {target.pk} to live stream {stream.pk}: {target.url} "
            f"(key {_hint(target.stream_key_hint)}).",
        )

    def handle_simulcast_list(self, **options: Any) -> None:
        stream = self._stream(options["stream"])
        rows = [_target_dict(t) for t in _targets(stream)]
        if options["json"]:
            self.write_json(rows)
            return
        if not rows:
            self.stdout.write(f"Live stream {stream.pk} has no simulcast targets.")
            return
        for row in rows:
            self.stdout.write(_target_line(row))

    def handle_simulcast_remove(self, **options: Any) -> None:
        target = self._target(options["target"])
        data = _target_dict(target)
        remove_simulcast_target(target)
        self._report(options, data, f"Removed simulcast target {data['id']} ({data['url']}).")

    def handle_simulcast_enable(self, **options: Any) -> None:
        target = set_simulcast_enabled(self._target(options["target"]), True)
        self._report(options, _target_dict(target), f"Enabled simulcast target {target.pk}.")

    def handle_simulcast_disable(self, **options: Any) -> None:
        target = set_simulcast_enabled(self._target(options["target"]), False)
        self._report(options, _target_dict(target), f"Disabled simulcast target {target.pk}.")

    # --- helpers ---

    def _control(
        self,
        options: dict[str, Any],
        service: Callable[..., LiveStream],
        verb: str,
        *,
        stream: LiveStream | None = None,
    ) -> None:
        stream = service(stream or self._stream(options["stream"]), by=cli_actor())
        self._report(
            options, _as_dict(stream), f"{verb} live stream {stream.pk} (status: {stream.status})."
        )

    def _stream(self, ident: str) -> LiveStream:
        match = Q(fastpix_id=ident)
        if ident.isdigit():
            match |= Q(pk=int(ident))
        found = list(_streams().filter(match)[:2])
        if not found:
            raise CommandError(f"No live stream {ident!r} (see `fastpix_live list`).")
        if len(found) > 1:
            raise CommandError(f"{ident!r} names several live streams: use the local id.")
        return found[0]

    def _target(self, pk: int) -> SimulcastTarget:
        target = (
            SimulcastTarget.objects.defer("stream_key")
            .select_related("live_stream__workspace")
            .defer(*(f"live_stream__{name}" for name in STREAM_SECRETS))
            .filter(pk=pk)
            .first()
        )
        if target is None:
            raise CommandError(
                f"No simulcast target {pk} (see `fastpix_live simulcast-list STREAM_ID`)."
            )
        return target

    def _user(self, username: str) -> Any:
        model = get_user_model()
        try:
            return model._default_manager.get_by_natural_key(username)
        except model.DoesNotExist:
            raise CommandError(f"No user {username!r}.") from None

    def _report(self, options: dict[str, Any], data: Any, text: str) -> None:
        if options.get("json"):
            self.write_json(data, indent=None)
        else:
            self.stdout.write(self.style.SUCCESS(text))


@sensitive_variables()
def _read_stream_key(from_stdin: bool) -> str:
    if from_stdin:
        try:
            text = sys.stdin.read()
        except UnicodeDecodeError:
            raise CommandError("Standard input is not UTF-8 text.") from None
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        if len(lines) != 1:
            raise CommandError("--stream-key-stdin expects one non-empty line: the stream key.")
        return lines[0]
    if not sys.stdin.isatty():
        raise CommandError("No terminal to prompt on: use --stream-key-stdin.")
    value = getpass.getpass("The platform's stream key (not echoed): ").strip()
    if not value:
        raise CommandError("No stream key given.")
    return value


def _streams() -> QuerySet[LiveStream]:
    # Never loaded here: the secrets are read only by create (in memory) and reveal_stream_key.
    return LiveStream.objects.defer(*STREAM_SECRETS).select_related("workspace")


def _targets(stream: LiveStream) -> QuerySet[SimulcastTarget]:
    return SimulcastTarget.objects.filter(live_stream=stream).defer("stream_key").order_by("pk")


def _hint(value: str) -> str:
    return f"…{value}" if value else "-"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _as_dict(stream: LiveStream) -> dict[str, Any]:
    # Built field by field: a new model field (or a secret) is never printed until listed here.
    return {
        "id": stream.pk,
        "workspace": stream.workspace.slug,
        "fastpix_id": stream.fastpix_id,
        "title": stream.title,
        "status": stream.status,
        "stream_key_hint": stream.stream_key_hint,
        "access_policy": stream.access_policy,
        "reconnect_window": stream.reconnect_window,
        "enable_recording": stream.enable_recording,
        "max_resolution": stream.max_resolution,
        "playback_ids": [
            {"id": str(p.get("id")), "accessPolicy": str(p.get("accessPolicy") or "public")}
            for p in stream.playback_ids or []
            if isinstance(p, dict) and p.get("id")
        ],
        "status_changed_at": _iso(stream.status_changed_at),
        "key_revealed_at": _iso(stream.key_revealed_at),
        "key_revealed_by": stream.key_revealed_by,
        "created_at": _iso(stream.created_at),
        "created_by": stream.created_by,
    }


def _target_dict(target: SimulcastTarget) -> dict[str, Any]:
    return {
        "id": target.pk,
        "live_stream": target.live_stream_id,
        "fastpix_id": target.fastpix_id,
        "url": target.url,
        "stream_key_hint": target.stream_key_hint,
        "is_enabled": target.is_enabled,
        "status": target.status,
        "created_at": _iso(target.created_at),
    }


def _target_line(row: dict[str, Any]) -> str:
    state = "enabled" if row["is_enabled"] else "disabled"
    status = f", {row['status']}" if row["status"] else ""
    return f"{row['id']:>5} {row['url']} (key {_hint(row['stream_key_hint'])}, {state}{status})"
