"""pytest fixtures: `fastpix_fake` and `fastpix_fake_token`.

Enable with `pytest_plugins = ["django_fastpix.testing.pytest_plugin"]` in the root conftest.
One server runs per session; every test gets it freshly `reset()`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake import DEFAULT_WORKSPACE, FakeFastPix

__all__ = [
    "DEFAULT_SECRET_KEY",
    "DEFAULT_TOKEN_ID",
    "fastpix_fake",
    "fastpix_fake_server",
    "fastpix_fake_token",
]

DEFAULT_TOKEN_ID = "fake-token-id"
DEFAULT_SECRET_KEY = "fake-secret-key"


@pytest.fixture(scope="session")
def fastpix_fake_server() -> Iterator[FakeFastPix]:
    """The session's running fake server (not reset: prefer `fastpix_fake`)."""
    fake = FakeFastPix().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fastpix_fake(fastpix_fake_server: FakeFastPix) -> Iterator[FakeFastPix]:
    """A running fake server with empty state, reset again after the test."""
    fastpix_fake_server.reset()
    yield fastpix_fake_server
    fastpix_fake_server.reset()


@pytest.fixture
def fastpix_fake_token(fastpix_fake: FakeFastPix) -> tuple[str, str]:
    """A Video read+write token of the default workspace: `(token_id, secret_key)`.

    No System permission: like most real tokens it cannot manage signing keys (403). Grant it
    with `fastpix_fake.add_token(*fastpix_fake_token, system="read_write")` where needed.
    """
    fastpix_fake.add_token(DEFAULT_TOKEN_ID, DEFAULT_SECRET_KEY, "read_write", DEFAULT_WORKSPACE)
    return DEFAULT_TOKEN_ID, DEFAULT_SECRET_KEY
