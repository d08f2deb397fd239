"""fastpix_fake_server: run the bundled fake FastPix API in the foreground for local development."""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import DatabaseError
from django.views.decorators.debug import sensitive_variables

from ...client.credentials import token_id_hint
from ...exceptions import EncryptionKeyError
from ...fields import UndecryptableValue
from ...models import Workspace
from ...services.tokens import StoredPair, pairs_for_fake
from ...testing import FakeFastPix
from ...testing.__main__ import build_parser, configure_lab, lab_lines, serve_until_signal
from ...testing.permissions import describe
from ...testing.specs import FaultSpec
from ..base import FastPixCommand


class Command(FastPixCommand):
    help = (
        "Run the fake FastPix API (in-memory, http) until Ctrl-C or SIGTERM, and print the "
        "FASTPIX setting that points this site at it. Never for production."
    )
    # A development tool: it must start even when the site's own checks fail.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        # The fake's own CLI options (--host, --port, --token, --webhook-url, --webhook-secret,
        # --processing-seconds, --fault, --webhook-retries, --time-scale), shared rather than
        # copied so the two never drift apart.
        for action in build_parser()._actions:
            if not isinstance(action, argparse._HelpAction):
                parser._add_action(action)
        parser.add_argument(
            "--from-db",
            action="store_true",
            help="Also register every active token stored in this site (by workspace slug), "
            "and use a workspace's stored webhook secret for its --webhook-url.",
        )
        parser.add_argument(
            "--json", action="store_true", help="Print the startup summary as one JSON line."
        )

    # Tracebacks collected with their locals (error trackers) must not carry the pairs.
    @sensitive_variables()
    def handle(self, *args: Any, **options: Any) -> None:
        fake = FakeFastPix(
            options["host"], options["port"], processing_delay=options["processing_seconds"]
        )
        try:
            specs = configure_lab(fake, options)
        except ValueError as exc:  # options given as strings through call_command
            raise CommandError(str(exc)) from None
        registered: list[dict[str, str]] = []
        for token_id, secret_key, scope, workspace in options["token"]:
            fake.add_token(token_id, secret_key, scope, workspace)
            registered.append(
                {"workspace": workspace, "token": f"…{token_id_hint(token_id)}", "scope": scope}
            )
        webhook_secrets = dict(options["webhook_secret"])
        if options["from_db"]:
            registered += self._register_stored(fake, webhook_secrets)
        for workspace, url in options["webhook_url"]:
            try:
                fake.set_webhook(workspace, url, webhook_secrets.get(workspace))
            except ValueError as exc:
                raise CommandError(f"--webhook-url {workspace}: {exc}") from None

        try:
            serve_until_signal(fake, lambda: self._announce(fake, registered, specs, options))
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {options['host']}:{options['port']}: {exc}"
            ) from None
        counts = fake.request_counts()
        if options["json"]:
            self.stdout.write(json.dumps({"request_counts": counts.as_dict()}))
        else:
            self.stdout.write("FastPix fake stopped.")
            for line in counts.lines():
                self.stdout.write(line)

    @sensitive_variables()
    def _register_stored(
        self, fake: FakeFastPix, webhook_secrets: dict[str, str]
    ) -> list[dict[str, str]]:
        try:
            pairs, skipped = pairs_for_fake()
            workspaces = list(Workspace.objects.exclude(slug__in=webhook_secrets))
        except EncryptionKeyError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(
                f"--from-db cannot read the tokens ({type(exc).__name__}): run `migrate` first."
            ) from None
        for line in skipped:
            self.stderr.write(line)
        for workspace in workspaces:
            if isinstance(workspace.webhook_secret, UndecryptableValue):
                self.stderr.write(f"Skipped the webhook secret of {workspace.slug}: undecryptable.")
            elif workspace.webhook_secret:
                webhook_secrets[workspace.slug] = str(workspace.webhook_secret)
        for pair in pairs:
            fake.add_token(
                pair.token_id,
                pair.secret_key,
                pair.scope,
                pair.workspace,
                system=pair.system_scope,
                data=pair.data_scope,
            )
        return [{"workspace": p.workspace, "token": p.label, "scope": _grant(p)} for p in pairs]

    def _announce(
        self,
        fake: FakeFastPix,
        registered: list[dict[str, str]],
        specs: list[FaultSpec],
        options: dict[str, Any],
    ) -> None:
        workspaces = sorted({r["workspace"] for r in registered})
        if options["json"]:
            summary = {
                "base_url": fake.base_url,
                "stream_base_url": fake.stream_base_url,
                "image_base_url": fake.image_base_url,
                "control_base_url": fake.control_base_url,
                "workspaces": {ws: fake.workspace(ws).id for ws in workspaces},
                "tokens": registered,
                "faults": [{"route": f.route, **f.options} for f in specs],
                "webhook_retries": list(fake.webhook_retry_schedule),
                "time_scale": fake.webhook_time_scale,
            }
            self.stdout.write(json.dumps(summary))
        else:
            # The first line matches `python -m django_fastpix.testing`, for scripts reading it.
            self.stdout.write(f"FastPix fake listening on {fake.base_url}")
            self.stdout.write("Point the site at it with (merged into your FASTPIX setting):")
            hosts = {
                "API_BASE_URL": fake.base_url,
                "STREAM_BASE_URL": fake.stream_base_url,
                "IMAGE_BASE_URL": fake.image_base_url,
            }
            self.stdout.write(f"    FASTPIX = {json.dumps(hosts)}")
            for r in registered:
                self.stdout.write(f"  token {r['token']} ({r['scope']}) in {r['workspace']}")
            for ws in workspaces:
                self.stdout.write(f"  workspace {ws}: FastPix id {fake.workspace(ws).id}")
            for line in lab_lines(fake, specs):
                self.stdout.write(f"  {line}")
            self.stdout.write(
                f"  control base URL: {fake.control_base_url} (loopback only; e.g. "
                f"curl -X POST {fake.control_base_url}/live/STREAM_ID/connect)"
            )
            self.stdout.write("Ctrl-C stops it (request counts by token and route follow).")
        self.stdout.flush()


def _grant(pair: StoredPair) -> str:
    """The pair's grant as --token writes it: the video level alone, or every area."""
    if pair.system_scope == "none" and pair.data_scope == "none":
        return pair.scope
    return describe({"video": pair.scope, "system": pair.system_scope, "data": pair.data_scope})
