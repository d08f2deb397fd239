"""fastpix_rotate_keys: re-encrypt every stored secret under the first FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...exceptions import EncryptionKeyError
from ...fields import get_crypter
from ...services.encryption import RotationReport, rotate_encryption_keys
from ..base import FastPixCommand


class Command(FastPixCommand):
    help = (
        "Re-encrypt every stored FastPix secret under the first key of FIELD_ENCRYPTION_KEY. "
        "Put the new key first (keep the old ones after it), run this, then remove the old keys. "
        "Idempotent: safe to re-run after an interruption."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction.")
        parser.add_argument("--json", action="store_true", help="Print the counts as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        try:
            get_crypter()
        except EncryptionKeyError as exc:
            raise CommandError(str(exc)) from None

        def progress(report: RotationReport) -> None:
            if options["verbosity"] >= 2 and not options["json"]:
                self.stdout.write(f"  … {report.total} rows checked")

        report = rotate_encryption_keys(batch_size=options["batch_size"], progress=progress)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    {
                        "rotated": report.rotated,
                        "already_current": report.already_current,
                        "undecryptable": report.undecryptable,
                    }
                )
            )
        else:
            self.stdout.write(
                f"Re-encrypted {report.rotated} row(s); {report.already_current} already under "
                f"the current key; {len(report.undecryptable)} undecryptable."
            )
        if report.undecryptable:
            raise CommandError(
                f"{len(report.undecryptable)} row(s) could not be decrypted with any "
                f"configured key and were left untouched: {', '.join(report.undecryptable[:20])}. "
                "Add the key they were encrypted with to FIELD_ENCRYPTION_KEY and run this "
                "again; do not remove old keys until this command succeeds."
            )
