"""A tiny stdlib HTTP/1.1 server on 127.0.0.1 that can reset, hang or fail on demand."""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LoopbackServer(ThreadingHTTPServer):
    """Counts accepted connections and received requests; behaviour is chosen by path."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.release = threading.Event()
        self.lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        conn = super().get_request()
        with self.lock:
            self.connections += 1
        return conn

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # resets and aborted hangs are expected; keep test output clean

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # headers and body are separate writes
    server: LoopbackServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _respond(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with self.server.lock:
            self.server.requests.append((self.command, self.path, dict(self.headers.items())))
        path = self.path.split("?", 1)[0]
        if path.startswith("/v1/reset"):
            # SO_LINGER 0 makes close() send RST instead of FIN: a connection reset by peer.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        elif path.startswith("/v1/hang"):
            self.server.release.wait(10)
            self.close_connection = True
        elif path.startswith("/v1/unauthorized"):
            # A hostile or buggy server echoing the credentials back in its error body.
            echoed = self.headers.get("Authorization", "")
            self._respond(
                401, {"success": False, "error": {"code": 401, "message": f"bad {echoed}"}}
            )
        elif path.startswith("/v1/unavailable"):
            self._respond(503, {"success": False, "error": {"code": 503, "message": "busy"}})
        else:
            self._respond(200, {"success": True, "data": {"id": "m1", "status": "Ready"}})

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


@contextmanager
def loopback_server() -> Iterator[LoopbackServer]:
    """Run a LoopbackServer in a thread for the duration of the block."""
    server = LoopbackServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port
