"""What the soak tests share: the faults injected, the recovery "cron", log tails."""

from __future__ import annotations

import base64
import threading
from typing import IO, Any

from django.db import connection

from django_fastpix.services.recovery import recover_media

WEBHOOK_SECRET = base64.b64encode(b"soak-test-webhook-secret-32bytes").decode()
# Four kinds of fault on the create route, each drawn for every request (first one wins):
# 1 - (1 - 0.055)**4 = 20 % of create requests.
FAULTS: list[dict[str, Any]] = [
    {"status": 503, "rate": 0.055, "seed": 801},
    {"status": 429, "retry_after": 1, "rate": 0.055, "seed": 802},
    {"reset": True, "rate": 0.055, "seed": 803},
    {"latency": 1.5, "rate": 0.055, "seed": 804},
]


def tail(log: IO[bytes], size: int = 3000) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode(errors="replace")[-size:]


class Recovery(threading.Thread):
    """`fastpix_media recover` every ``interval`` seconds, as cron would (much more often)."""

    def __init__(self, interval: float = 2.0) -> None:
        super().__init__(name="soak-recovery", daemon=True)
        self.interval = interval
        self.halt = threading.Event()
        self.requeued = 0
        self.runs = 0
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            while not self.halt.wait(self.interval):
                try:
                    self.requeued += recover_media().requeued
                    self.runs += 1
                except Exception as exc:  # reported by the test
                    self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()
