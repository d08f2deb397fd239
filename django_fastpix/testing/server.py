"""HTTP plumbing of the fake: routing, auth, faults, idempotency and the request log."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import socket
import struct
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from . import (
    control,
    handlers_keys,
    handlers_live,
    handlers_media,
    handlers_playback,
    handlers_uploads,
    permissions,
)
from .faults import Fault
from .routing import API_PREFIX, INVALID_JSON, Call, Reply, Route, relative_path
from .state import Token
from .validation import ApiError, error_body

if TYPE_CHECKING:
    from .fake import FakeFastPix

ROUTES: list[Route] = [*handlers_media.ROUTES, *handlers_live.ROUTES, *handlers_keys.ROUTES]
_COMPILED = [(route, route.regex) for route in ROUTES]
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
REDACTED = "<redacted>"


@dataclass
class RequestRecord:
    """One request as the fake received it, and what it answered."""

    method: str
    path: str
    query: dict[str, str]
    query_string: str
    headers: dict[str, str]
    body: bytes
    json: Any
    time: float
    status: int | None = None
    # The token id the Basic header claims, whether or not it authenticated (for counts).
    token_id: str | None = None
    authenticated_token_id: str | None = None
    workspace_id: str | None = None
    fault: str | None = None
    replayed: bool = False
    duration: float = 0.0
    response: Any = field(default=None, repr=False)

    def header(self, name: str) -> str | None:
        """A request header, case-insensitively."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


class FakeHTTPServer(ThreadingHTTPServer):
    """The threading server; tracks open connections so `stop()` can cut idle keep-alives."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeFastPix) -> None:
        self.fake = fake
        self.stopping = threading.Event()
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, FakeRequestHandler)

    def close_connections(self) -> None:
        """Shut every open client socket so handler threads blocked on reads return."""
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def claimed_token_id(header: str | None) -> str | None:
    """The token id of a Basic header, without checking it (None if there is none)."""
    if not header or not header.startswith("Basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    token_id, sep, _ = decoded.partition(":")
    return token_id if sep and token_id else None


def route_label(method: str, path: str) -> str:
    """`"GET /on-demand/{mediaId}"` for a request, as the API reference names the route."""
    upload = handlers_uploads.route_label(method, path)
    if upload is not None:
        return upload
    ctl = control.route_label(method, path)
    if ctl is not None:
        return ctl
    playback = handlers_playback.route_label(method, path)
    if playback is not None:
        return playback
    rel = relative_path(path)
    for route, regex in _COMPILED:
        if route.method == method and regex.match(rel):
            return f"{method} {route.template}"
    return f"{method} {rel}"


def _authenticate(fake: FakeFastPix, header: str | None) -> Token:
    if not header or not header.startswith("Basic "):
        raise ApiError(401, description="Missing or malformed Basic authorization header.")
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(401, description="Malformed Basic credentials.") from exc
    token_id, sep, secret = decoded.partition(":")
    token = fake.store.tokens.get(token_id) if sep else None
    if token is None or not token.check(secret) or token.revoked:
        raise ApiError(401, description="Invalid access token or secret key for this workspace.")
    return token


def _match(method: str, rel: str) -> tuple[Route, dict[str, str]]:
    allowed = False
    for route, regex in _COMPILED:
        found = regex.match(rel)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict()
        allowed = True
    if allowed:
        raise ApiError(405, description=f"{method} is not allowed on {rel}.")
    raise ApiError(404, "route not found", f"No endpoint {method} {rel}.")


class FakeRequestHandler(BaseHTTPRequestHandler):
    """Serves one keep-alive connection."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: FakeHTTPServer

    def setup(self) -> None:
        """Register the connection."""
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        """Unregister the connection."""
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the request log is `fake.requests`."""

    def do_GET(self) -> None:
        """Dispatch."""
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _drain_body(self) -> int:
        """Read and count the body without keeping it (upload bytes)."""
        block = 1 << 16
        total = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return total
                total += self._skip(size, block)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self._skip(length, block) if length > 0 else 0

    def _skip(self, length: int, block: int) -> int:
        read = 0
        while read < length:
            data = self.rfile.read(min(block, length - read))
            if not data:
                break
            read += len(data)
        return read

    def _dispatch(self) -> None:
        fake = self.server.fake
        started = time.monotonic()
        parts = urlsplit(self.path)
        path = parts.path
        if handlers_uploads.is_upload_path(path):
            raw, size = b"", self._drain_body()
        else:
            raw = self._read_body()
            size = len(raw)
        is_api = path == API_PREFIX or path.startswith(API_PREFIX + "/")
        # The handlers see the query as sent; the log keeps it with any playback JWT masked.
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        parsed: Any = None
        if raw and is_api:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = INVALID_JSON
        record = RequestRecord(
            method=self.command,
            path=path,
            query={k: REDACTED if k == "token" else v for k, v in query.items()},
            query_string=_masked_query(parts.query),
            headers=dict(self.headers.items()),
            body=raw if is_api else b"",
            json=None if parsed is INVALID_JSON else parsed,
            time=time.time(),
            token_id=claimed_token_id(self.headers.get("Authorization")) if is_api else None,
        )
        fake._record(record)
        fault = fake.faults.select(self.command, path)
        if fault is not None:
            if fault.latency > 0:
                time.sleep(fault.latency)
            if fault.hang or fault.reset:
                record.fault = "hang" if fault.hang else "reset"
                if fault.hang:
                    self._hang(fault)
                self._reset()
                record.duration = time.monotonic() - started
                return
            if fault.status is not None:
                record.fault = "status"
                headers = {}
                if fault.status == 429 or fault.retry_after is not None:
                    wait = 1.0 if fault.retry_after is None else fault.retry_after
                    headers["Retry-After"] = _seconds(wait)
                self._send(
                    record,
                    Reply(
                        fault.status,
                        error_body(
                            fault.status, description="Injected by the fake FastPix server."
                        ),
                        headers,
                    ),
                )
                record.duration = time.monotonic() - started
                return
            record.fault = "latency"
        try:
            reply = self._handle(record, path, query, parsed, is_api, size, raw)
        except ApiError as exc:
            reply = Reply(exc.status, exc.body, exc.headers)
        except Exception:  # any bug in the fake must still answer, like a real 500
            fake.errors.append(traceback.format_exc())
            reply = Reply(500, error_body(500, description="Unexpected error in the fake."))
        self._send(record, reply)
        record.duration = time.monotonic() - started

    def _handle(
        self,
        record: RequestRecord,
        path: str,
        query: dict[str, str],
        parsed: Any,
        is_api: bool,
        size: int,
        raw: bytes = b"",
    ) -> Reply:
        fake = self.server.fake
        store = fake.store
        if handlers_uploads.is_upload_path(path):
            with store.lock:
                return handlers_uploads.serve(
                    store, self.command, path, query, dict(self.headers.items()), size, fake.origin
                )
        if control.is_control_path(path):
            if not control.is_loopback(str(self.client_address[0])):
                raise ApiError(403, description="Control routes answer only on loopback.")
            return control.serve(fake, self.command, path, raw)
        if handlers_playback.is_playback_path(path):
            with store.lock:
                return handlers_playback.serve(
                    store, self.command, path, query, dict(self.headers.items())
                )
        if not is_api:
            raise ApiError(404, "route not found", f"No endpoint {self.command} {path}.")
        with store.lock:
            token = _authenticate(fake, self.headers.get("Authorization"))
        record.authenticated_token_id = token.token_id
        record.workspace_id = token.workspace.id
        rel = relative_path(path)
        route, params = _match(self.command, rel)
        write = self.command in WRITE_METHODS
        area = permissions.area_of(rel)
        if not token.allows(area, write):
            raise ApiError(
                403,
                description=f"The access token lacks permission for this request: "
                f"{self.command} {route.template} needs {permissions.needed(area, write)}.",
            )
        key = self.headers.get("Idempotency-Key")
        cache_key = (token.workspace.id, self.command, rel, key) if key else None
        call = Call(
            self.command,
            rel,
            params,
            query,
            parsed,
            token.workspace,
            fake.origin,
            dict(self.headers.items()),
        )
        with store.lock:
            if cache_key is not None and cache_key in fake.idempotency:
                record.replayed = True
                return fake.idempotency[cache_key]
            try:
                reply = route.handler(store, call)
            except ApiError as exc:
                reply = Reply(exc.status, exc.body, exc.headers)
            if cache_key is not None and reply.status < 500:
                fake.idempotency[cache_key] = reply
        return reply

    def _send(self, record: RequestRecord, reply: Reply) -> None:
        record.status = reply.status
        record.response = _redacted(reply.body)
        if reply.content is not None:
            payload = reply.content
        else:
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        headers = dict(reply.headers)
        if handlers_playback.is_playback_path(record.path):
            # Also on errors and injected faults, or a browser reports CORS, not the status.
            headers = {**handlers_playback.SHARED_HEADERS, **headers}
        elif handlers_uploads.is_upload_path(record.path):
            # Likewise for the upload host (the browser uploader reads Location and Range).
            headers = {**handlers_uploads.cors_headers(record.headers), **headers}
        try:
            self.send_response(reply.status)
            if reply.status != 204:
                self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True

    def _hang(self, fault: Fault) -> None:
        faults = self.server.fake.faults
        while not self.server.stopping.is_set() and faults.is_active(fault):
            if fault.released.wait(0.05):
                break

    def _reset(self) -> None:
        # SO_LINGER 0 makes close() send RST instead of FIN: the client sees a reset.
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass


def _redacted(body: dict[str, Any] | None) -> dict[str, Any] | None:
    # A signing key's private half is returned once; the request log must not keep it.
    if body is None:
        return None
    data = body.get("data")
    if isinstance(data, dict) and "privateKey" in data:
        return {**body, "data": {**data, "privateKey": REDACTED}}
    return body


def _masked_query(query: str) -> str:
    # `?token=` carries a playback JWT: a bearer credential the request log must not keep.
    # Keys are compared decoded, as the handler reads them (`tok%65n` is `token` too).
    parts = query.split("&")
    for n, part in enumerate(parts):
        name = part.partition("=")[0]
        if unquote_plus(name) == "token":
            parts[n] = f"{name}={REDACTED}"
    return "&".join(parts)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
