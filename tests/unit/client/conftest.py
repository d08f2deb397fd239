"""Fixtures for the client unit tests: no DB, no network beyond loopback."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

from django_fastpix.client import Credentials, FastPixClient, Transport

TOKEN_ID = "tok_0001_a1b2c3d4e5f6WXYZ"
SECRET = "sk_live_Zq8wX3vN9pL2mK7tR4yB6cD1fG5hJ0aE"
BASIC = "Basic " + base64.b64encode(f"{TOKEN_ID}:{SECRET}".encode()).decode()
BASE = "https://api.fastpix.test/v1"

# Every form of the credential that must never show up in logs, errors or reprs.
FORBIDDEN = (SECRET, BASIC.split(" ", 1)[1], TOKEN_ID)


def assert_clean(text: str) -> None:
    """Fail if ``text`` holds the secret, the Basic header value or the full token id."""
    for needle in FORBIDDEN:
        assert needle not in text, f"leaked {needle[:6]}… in {text[:300]!r}"


@pytest.fixture
def creds() -> Credentials:
    return Credentials(TOKEN_ID, SECRET)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_transport(sleeps: list[float]) -> Callable[..., Transport]:
    def make(**overrides: Any) -> Transport:
        options: dict[str, Any] = {
            "base_url": BASE,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "max_retries": 3,
            "backoff_base": 0.5,
            "backoff_max": 4.0,
            "retry_after_max": 30.0,
            "sleep": sleeps.append,
            "random": lambda: 1.0,
        }
        options.update(overrides)
        return Transport(**options)

    return make


@pytest.fixture
def transport(make_transport: Callable[..., Transport]) -> Transport:
    return make_transport()


@pytest.fixture
def client(creds: Credentials, transport: Transport) -> FastPixClient:
    return FastPixClient(creds, transport)


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
