"""fastpix_doctor: check settings, encryption, tokens, signing keys, webhooks and media, and
say what to fix."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...services.doctor import FAIL, OK, STUCK_AFTER, WARN, Finding, diagnose
from ..base import FastPixCommand


class Command(FastPixCommand):
    help = (
        "Diagnose the FastPix integration: settings, FIELD_ENCRYPTION_KEY and stored secrets, "
        "each workspace's tokens (verified live with FastPix unless --no-verify; a token "
        "FastPix rejects is marked invalid, as `fastpix_token verify` would; a stored id that "
        "breaks the token-id rule is reported, never shown; a Data-only token cannot be "
        "verified and is reported as such), playback signing (private media with no active "
        "signing key and no token granted System read and write; revoked or expired keys still "
        "in FastPix; keys that do not decrypt), webhook secret, stuck, failed and "
        "erring pending media, and MEDIA_SOURCES (a missing workspace, objects with a video "
        "URL but no media). Prints OK/WARN/FAIL with a remedy; exits non-zero on any FAIL."
    )
    # The doctor reports the checks' findings itself; failing checks must not stop it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-verify", action="store_true", help="Don't call FastPix to verify tokens."
        )
        parser.add_argument(
            "--stuck-minutes",
            type=int,
            default=int(STUCK_AFTER.total_seconds() // 60),
            help="Pending media older than this many minutes count as stuck (default %(default)s).",
        )
        parser.add_argument("--json", action="store_true", help="Print the findings as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["stuck_minutes"] < 0:
            raise CommandError("--stuck-minutes must be at least 0.")
        findings = diagnose(
            verify=not options["no_verify"],
            by="cli:fastpix_doctor",
            stuck_after=timedelta(minutes=options["stuck_minutes"]),
        )
        counts = {level: sum(f.level == level for f in findings) for level in (OK, WARN, FAIL)}
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "ok": not counts[FAIL],
                        "counts": counts,
                        "findings": [asdict(f) for f in findings],
                    },
                    indent=2,
                )
            )
        else:
            for finding in findings:
                self._print(finding)
            self.stdout.write(f"{counts[FAIL]} FAIL, {counts[WARN]} WARN, {counts[OK]} OK.")
        if counts[FAIL]:
            raise CommandError(f"{counts[FAIL]} problem(s) to fix (the FAIL lines above).")

    def _print(self, finding: Finding) -> None:
        style = {OK: self.style.SUCCESS, WARN: self.style.WARNING, FAIL: self.style.ERROR}
        check = f" [{finding.check_id}]" if finding.check_id else ""
        self.stdout.write(
            style[finding.level](f"{finding.level:<4}")
            + f" {finding.area}:{check} {finding.message}"
        )
        if finding.remedy:
            self.stdout.write(f"     fix: {finding.remedy}")
