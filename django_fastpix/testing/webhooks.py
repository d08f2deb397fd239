"""Webhook delivery: signed events, retries, probes, duplicates and reordering."""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import random
import threading
import time
from dataclasses import dataclass, field
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from .state import Workspace, new_id, now_iso


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
        self.max_attempts = 4
        self.retry_backoff = 0.05
        self.timeout = 5.0
        self._bodies: dict[str, tuple[Workspace, bytes]] = {}
        self._queue: collections.deque[Delivery] = collections.deque()
        self._held: list[Delivery] | None = None
        self._cond = threading.Condition()
        self._busy = False
        self._stopping = False
        self._thread: threading.Thread | None = None

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
        """Block until nothing is queued or being sent (held deliveries don't count)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
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

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                delivery = self._queue.popleft()
                self._busy = True
            try:
                for attempt in range(max(self.max_attempts, 1)):
                    if attempt:
                        time.sleep(self.retry_backoff * 2 ** (attempt - 1))
                    if self._stopping or self._attempt(delivery):
                        break
                delivery.done = True
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
