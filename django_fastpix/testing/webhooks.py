"""Webhook delivery: signed events, retries on a schedule, probes, duplicates and reordering."""

from __future__ import annotations

import base64
import collections
import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from .state import Workspace, new_id, now_iso

# Seconds between a failed attempt and the next one: 11 attempts over about 23.7 hours.
# FastPix documents that it retries a webhook on any non-2xx answer, but not when or how
# often (see fastpix/API.md, section 2.6 "Delivery", which cites only the PYEX django
# comment and the MLOCAL plugin). This schedule is therefore our choice, not FastPix's: an
# exponential backoff from 5 s that doubles (roughly) up to an 8 h cap and stops after a day,
# the common shape of webhook senders. `--webhook-retries` / `webhook_retry_schedule` change it.
FASTPIX_RETRY_SCHEDULE: tuple[float, ...] = (
    5,
    30,
    120,
    600,
    1800,
    3600,
    7200,
    14400,
    28800,
    28800,
)


def doubling_schedule(max_attempts: int, first_delay: float) -> tuple[float, ...]:
    """`max_attempts` attempts, the first retry after `first_delay` s, doubling after that."""
    return tuple(first_delay * 2**n for n in range(max(max_attempts, 1) - 1))


def sign(body: bytes, secret_b64: str) -> str:
    """FastPix-Signature: base64(HMAC-SHA256(key=base64decode(secret), msg=body))."""
    key = base64.b64decode(secret_b64)
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


@dataclass
class WebhookEndpoint:
    """A workspace's webhook destination."""

    url: str
    secret_b64: str | None


@dataclass
class Attempt:
    """One POST of a delivery: the status code, or the connection error."""

    status_code: int | None
    error: str | None
    at: float


@dataclass
class Delivery:
    """A delivery of one event (or probe) to one URL, with every attempt made."""

    event_id: str | None
    event_type: str | None
    workspace_id: str
    url: str
    body: bytes
    signature: str | None
    kind: str = "event"
    attempts: list[Attempt] = field(default_factory=list)
    done: bool = False
    next_attempt_at: float | None = None  # epoch seconds of the scheduled retry, if any

    @property
    def status_code(self) -> int | None:
        """The status code of the last attempt (None if it never connected)."""
        return self.attempts[-1].status_code if self.attempts else None

    @property
    def delivered(self) -> bool:
        """Whether some attempt got a 2xx."""
        return any(a.status_code is not None and 200 <= a.status_code < 300 for a in self.attempts)

    @property
    def event(self) -> dict[str, Any]:
        """The JSON body as a dict."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class WebhookDispatcher:
    """Builds events and delivers them in order from one background thread."""

    def __init__(self) -> None:
        self.endpoints: dict[str, WebhookEndpoint] = {}
        self.events: list[dict[str, Any]] = []
        self.deliveries: list[Delivery] = []
        self._max_attempts = 4
        self._retry_backoff = 0.05
        self._schedule = doubling_schedule(4, 0.05)
        self._time_scale = 1.0
        self.timeout = 5.0
        self._bodies: dict[str, tuple[Workspace, bytes]] = {}
        self._queue: collections.deque[Delivery] = collections.deque()
        # Failed deliveries waiting for their next attempt: (monotonic due time, seq, delivery).
        # A waiting retry never holds back other deliveries (FastPix events arrive out of
        # order too); due retries go before new deliveries.
        self._retries: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._held: list[Delivery] | None = None
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    # retry policy

    @property
    def retry_schedule(self) -> tuple[float, ...]:
        """Seconds to wait before each retry (before scaling); its length is the retry count."""
        return self._schedule

    @retry_schedule.setter
    def retry_schedule(self, delays: tuple[float, ...] | list[float]) -> None:
        delays = tuple(float(d) for d in delays)
        if any(d < 0 for d in delays):
            raise ValueError(f"retry delays must be >= 0 seconds, not {delays!r}")
        self._schedule = delays
        self._max_attempts = len(delays) + 1
        self._retry_backoff = delays[0] if delays else 0.0

    @property
    def max_attempts(self) -> int:
        """Attempts per delivery, the first included."""
        return self._max_attempts

    @max_attempts.setter
    def max_attempts(self, value: int) -> None:
        self._max_attempts = max(int(value), 1)
        self._schedule = doubling_schedule(self._max_attempts, self._retry_backoff)

    @property
    def retry_backoff(self) -> float:
        """The first retry delay; setting it (or `max_attempts`) makes the schedule doubling."""
        return self._retry_backoff

    @retry_backoff.setter
    def retry_backoff(self, value: float) -> None:
        self._retry_backoff = float(value)
        self._schedule = doubling_schedule(self._max_attempts, self._retry_backoff)

    @property
    def time_scale(self) -> float:
        """Factor applied to every retry delay (0.001 turns an hour into 3.6 s)."""
        return self._time_scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"time scale must be > 0, not {value!r}")
        self._time_scale = float(value)

    def start(self) -> None:
        """Start the delivery thread."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="fastpix-fake-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop delivering (pending deliveries are dropped)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None

    def set_endpoint(self, workspace: Workspace, url: str, secret_b64: str | None) -> None:
        """Configure (or replace) a workspace's destination."""
        with self._cond:
            self.endpoints[workspace.id] = WebhookEndpoint(url, secret_b64)

    def reset(self) -> None:
        """Forget endpoints, events and deliveries."""
        with self._cond:
            self.endpoints.clear()
            self.events.clear()
            self.deliveries.clear()
            self._bodies.clear()
            self._queue.clear()
            self._retries.clear()
            self._held = None

    def emit(
        self,
        event_type: str,
        workspace: Workspace,
        object_type: str,
        object_id: str,
        data: dict[str, Any],
        status: str,
    ) -> None:
        """Record an event and queue its delivery if the workspace has an endpoint."""
        event_id = new_id()
        event: dict[str, Any] = {
            "type": event_type,
            "id": event_id,
            "object": {"type": object_type, "id": object_id},
            "workspace": {"id": workspace.id, "name": workspace.name},
            "status": status,
            "data": data,
            "createdAt": now_iso(),
            "attempts": [],
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        with self._cond:
            self.events.append(event)
            self._bodies[event_id] = (workspace, body)
        self._enqueue(workspace, body, event_id, event_type, "event")

    def redeliver(self, event_id: str) -> None:
        """Send a past event again, byte for byte (a duplicate delivery)."""
        with self._cond:
            workspace, body = self._bodies[event_id]
        event_type = json.loads(body)["type"]
        self._enqueue(workspace, body, event_id, event_type, "redelivery", force=True)

    def _enqueue(
        self,
        workspace: Workspace,
        body: bytes,
        event_id: str,
        event_type: str,
        kind: str,
        force: bool = False,
    ) -> None:
        with self._cond:
            endpoint = self.endpoints.get(workspace.id)
            if endpoint is None:
                return
            signature = sign(body, endpoint.secret_b64) if endpoint.secret_b64 else None
            delivery = Delivery(
                event_id, event_type, workspace.id, endpoint.url, body, signature, kind
            )
            self.deliveries.append(delivery)
            if self._held is not None and not force:
                self._held.append(delivery)
            else:
                self._queue.append(delivery)
                self._cond.notify_all()

    def hold(self) -> None:
        """Keep new deliveries back until `release`."""
        with self._cond:
            if self._held is None:
                self._held = []

    def release(self, order: str = "fifo", seed: int | None = None) -> None:
        """Send held deliveries: in order ("fifo"), "reversed" or "shuffled"."""
        with self._cond:
            held, self._held = self._held or [], None
            if order == "reversed":
                held.reverse()
            elif order == "shuffled":
                random.Random(seed).shuffle(held)  # noqa: S311 - test ordering, not crypto
            elif order != "fifo":
                raise ValueError(f"unknown order {order!r}")
            self._queue.extend(held)
            self._cond.notify_all()

    def probe(self, workspace: Workspace) -> Delivery:
        """POST the unsigned `{}` validation probe now and return its delivery."""
        with self._cond:
            endpoint = self.endpoints.get(workspace.id)
        if endpoint is None:
            raise LookupError(f"no webhook configured for workspace {workspace.name!r}")
        delivery = Delivery(None, None, workspace.id, endpoint.url, b"{}", None, "probe")
        with self._cond:
            self.deliveries.append(delivery)
        self._attempt(delivery)
        delivery.done = True
        return delivery

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued, waiting to be retried or being sent.

        Held deliveries don't count; waiting retries do, so with a long schedule and a failing
        endpoint this times out (returns False).
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy or self._retries:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _attempt(self, delivery: Delivery) -> bool:
        headers = {"Content-Type": "application/json", "User-Agent": "FastPix-Fake-Webhooks"}
        if delivery.signature is not None:
            headers["FastPix-Signature"] = delivery.signature
        status: int | None = None
        error: str | None = None
        # http.client rather than urllib: urllib would re-case the header to "Fastpix-signature".
        parts = urlsplit(delivery.url)
        conn_cls = HTTPSConnection if parts.scheme == "https" else HTTPConnection
        conn = conn_cls(parts.netloc, timeout=self.timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.request("POST", target, body=delivery.body, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (OSError, HTTPException, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        delivery.attempts.append(Attempt(status, error, time.time()))
        return status is not None and 200 <= status < 300

    def _next(self) -> Delivery | None:
        """Wait for the next delivery to attempt (None when stopping); call with `_cond` held."""
        while not self._stopping:
            now = time.monotonic()
            if self._retries and self._retries[0][0] <= now:
                return heapq.heappop(self._retries)[2]
            if self._queue:
                return self._queue.popleft()
            self._cond.wait(self._retries[0][0] - now if self._retries else None)
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                delivery = self._next()
                if delivery is None:
                    return
                self._busy = True
            try:
                delivered = self._attempt(delivery)
                with self._cond:
                    failures = len(delivery.attempts)
                    schedule = self._schedule
                    if delivered or self._stopping or failures > len(schedule):
                        delivery.done = True
                        delivery.next_attempt_at = None
                    else:
                        delay = schedule[failures - 1] * self._time_scale
                        delivery.next_attempt_at = time.time() + delay
                        due = time.monotonic() + delay
                        heapq.heappush(self._retries, (due, next(self._seq), delivery))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
