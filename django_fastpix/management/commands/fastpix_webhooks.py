"""fastpix_webhooks: list stored FastPix webhook deliveries and replay failed ones."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import CommandError
from django.db.models import QuerySet

from ...models import WebhookEvent, WebhookOutcome
from ...services.webhooks import replay_event
from ..base import SubcommandCommand


class Command(SubcommandCommand):
    help = (
        "Inspect and replay stored FastPix webhook events. Replaying is idempotent: media "
        "status only moves forward, so replaying an event twice changes nothing more."
    )

    def add_subcommands(self, sub: argparse._SubParsersAction[Any]) -> None:
        lst = sub.add_parser("list", help="List stored events, newest first.")
        lst.add_argument("--workspace", help="Only this workspace (slug).")
        lst.add_argument("--outcome", choices=WebhookOutcome.values, help="Only this outcome.")
        lst.add_argument("--type", help="Only this event type, e.g. video.media.ready.")
        lst.add_argument("--limit", type=int, default=50, help="At most this many (default 50).")

        replay = sub.add_parser(
            "replay", help="Process stored events again; exits non-zero if any still fails."
        )
        replay.add_argument("event_id", nargs="*", metavar="EVENT_ID", help="FastPix event ids.")
        replay.add_argument("--failed", action="store_true", help="Replay every failed event.")
        replay.add_argument("--workspace", help="Only this workspace (slug).")

    def handle_list(self, **options: Any) -> None:
        if options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")
        events = self._events(options)
        if options["outcome"]:
            events = events.filter(outcome=options["outcome"])
        if options["type"]:
            events = events.filter(type=options["type"])
        rows = [_as_dict(e) for e in events.order_by("-received_at", "-pk")[: options["limit"]]]
        if options["json"]:
            self.write_json(rows)
            return
        if not rows:
            self.stdout.write("No events.")
            return
        self.stdout.write(f"{'WORKSPACE':<14} {'OUTCOME':<10} {'TYPE':<28} {'EVENT ID':<38} ERROR")
        for r in rows:
            self.stdout.write(
                f"{r['workspace']:<14} {r['outcome']:<10} {r['type']:<28} {r['event_id']:<38} "
                f"{r['error'][:80]}"
            )

    def handle_replay(self, **options: Any) -> None:
        if not options["event_id"] and not options["failed"]:
            raise CommandError("Name the event ids to replay, or use --failed.")
        events = self._events(options)
        chosen: dict[int, WebhookEvent] = {}
        missing: list[str] = []
        for event_id in options["event_id"]:
            found = list(events.filter(event_id=event_id)[:2])
            if len(found) > 1:
                raise CommandError(f"Event {event_id!r} is in several workspaces: add --workspace.")
            if not found:
                missing.append(event_id)
            chosen.update((e.pk, e) for e in found)
        # Resolved before replaying any, so a typo does not leave half the list replayed.
        if missing:
            raise CommandError(f"No stored event {', '.join(missing)}.")
        if options["failed"]:
            chosen.update((e.pk, e) for e in events.filter(outcome=WebhookOutcome.FAILED))
        results = []
        for event in sorted(chosen.values(), key=lambda e: e.pk):
            ok = replay_event(event)
            event.refresh_from_db()
            results.append({**_as_dict(event), "ok": ok})
            if not options["json"]:
                style = self.style.SUCCESS if ok else self.style.ERROR
                detail = f": {event.error}" if not ok else ""
                self.stdout.write(style(f"{event.event_id} {event.type}: {event.outcome}{detail}"))
        if options["json"]:
            self.write_json(results)
        elif not results:
            self.stdout.write("No failed events.")
        failed = [r for r in results if not r["ok"]]
        if failed:
            raise CommandError(f"{len(failed)} of {len(results)} event(s) still fail.")

    def _events(self, options: dict[str, Any]) -> QuerySet[WebhookEvent]:
        events = WebhookEvent.objects.select_related("workspace")
        if options["workspace"]:
            events = events.filter(workspace=self.workspace(options["workspace"]))
        return events


def _as_dict(event: WebhookEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "workspace": event.workspace.slug,
        "event_id": event.event_id,
        "type": event.type,
        "object_id": event.object_id,
        "outcome": event.outcome,
        "deliveries": event.deliveries,
        "error": event.error,
        "occurred_at": event.occurred_at.isoformat() if event.occurred_at else None,
        "received_at": event.received_at.isoformat() if event.received_at else None,
        "processed_at": event.processed_at.isoformat() if event.processed_at else None,
    }
