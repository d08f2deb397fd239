"""Fixtures for the fake server's own tests (plain pytest: no Django settings, no DB)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from django_fastpix.testing import FakeFastPix

# The `keys_api` token: Video and System read+write, Data read (what WP's install guide asks).
KEYS_TOKEN = ("keys-token-id", "keys-secret-key")


class Api:
    """A keep-alive requests session bound to the fake's base URL and one token."""

    def __init__(self, fake: FakeFastPix, token: tuple[str, str] | None) -> None:
        self.fake = fake
        self.session = requests.Session()
        if token is not None:
            self.session.auth = token

    def url(self, path: str) -> str:
        return self.fake.base_url + path

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 5)
        return self.session.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create_media(self, url: str = "https://example.com/v.mp4", **fields: Any) -> dict[str, Any]:
        body = {"inputs": [{"type": "video", "url": url}], "accessPolicy": "public", **fields}
        response = self.post("/on-demand", json=body)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"]
        return data


@pytest.fixture
def api(fastpix_fake: FakeFastPix, fastpix_fake_token: tuple[str, str]) -> Iterator[Api]:
    """A session authenticated with the default read+write token."""
    client = Api(fastpix_fake, fastpix_fake_token)
    yield client
    client.session.close()


@pytest.fixture
def keys_api(fastpix_fake: FakeFastPix, make_api: Any) -> Api:
    """A session whose token also has System read+write: what the signing-key routes need.

    The default token (`fastpix_fake_token`) is Video read+write only, the usual grant, and
    gets 403 from /iam/signing-keys, as FastPix answers it.
    """
    fastpix_fake.add_token(KEYS_TOKEN[0], KEYS_TOKEN[1], system="read_write", data="read")
    client: Api = make_api(KEYS_TOKEN)
    return client


@pytest.fixture
def make_api(fastpix_fake: FakeFastPix) -> Iterator[Any]:
    """Factory for sessions with other credentials (or none)."""
    made: list[Api] = []

    def make(token: tuple[str, str] | None) -> Api:
        client = Api(fastpix_fake, token)
        made.append(client)
        return client

    yield make
    for client in made:
        client.session.close()


class Receiver:
    """A tiny webhook endpoint that records deliveries and answers scripted statuses."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []  # consumed first; then 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received if body != b"{}"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local webhook receiver."""
    r = Receiver()
    yield r
    r.close()
