"""Transport against a real loopback socket: keep-alive, connection reset, read timeout."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from django_fastpix.client import Credentials, Transport
from django_fastpix.exceptions import ConnectionFailedError, RequestTimeoutError

from .conftest import BASIC
from .loopback import LoopbackServer, closed_port, loopback_server


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as running:
        yield running


@pytest.fixture
def local(server: LoopbackServer, make_transport: Callable[..., Transport]) -> Transport:
    return make_transport(base_url=server.base_url, read_timeout=5.0)


def test_keep_alive_reuses_one_connection_per_thread(
    server: LoopbackServer, local: Transport, creds: Credentials
) -> None:
    for _ in range(5):
        assert local.request("GET", "/on-demand/m1", credentials=creds)["data"]["id"] == "m1"
    local.request("POST", "/on-demand", credentials=creds, json={"inputs": []})
    assert len(server.requests) == 6
    assert server.connections == 1
    assert all(headers["Authorization"] == BASIC for _, _, headers in server.requests)


def test_each_thread_gets_its_own_session(
    server: LoopbackServer, local: Transport, creds: Credentials
) -> None:
    local.request("GET", "/on-demand", credentials=creds)
    sessions = [local.session()]

    def work() -> None:
        local.request("GET", "/on-demand", credentials=creds)
        local.request("GET", "/on-demand", credentials=creds)
        sessions.append(local.session())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert sessions[0] is not sessions[1]
    assert server.connections == 2
    assert len(server.requests) == 3


def test_connection_reset_is_retried_then_raised(
    server: LoopbackServer, local: Transport, creds: Credentials, sleeps: list[float]
) -> None:
    with pytest.raises(ConnectionFailedError) as info:
        local.request("GET", "/reset", credentials=creds)
    assert len(server.requests) == 4
    assert len(sleeps) == 3
    assert info.value.__context__ is None


def test_connection_reset_on_post_without_key_is_not_retried(
    server: LoopbackServer, local: Transport, creds: Credentials
) -> None:
    with pytest.raises(ConnectionFailedError):
        local.request("POST", "/reset", credentials=creds, json={})
    assert len(server.requests) == 1


def test_hung_response_raises_read_timeout(
    server: LoopbackServer, make_transport: Callable[..., Transport], creds: Credentials
) -> None:
    transport = make_transport(base_url=server.base_url, read_timeout=0.2, max_retries=1)
    with pytest.raises(RequestTimeoutError):
        transport.request("GET", "/hang", credentials=creds)
    assert len(server.requests) == 2


def test_hung_post_without_key_times_out_once(
    server: LoopbackServer, make_transport: Callable[..., Transport], creds: Credentials
) -> None:
    transport = make_transport(base_url=server.base_url, read_timeout=0.2)
    with pytest.raises(RequestTimeoutError) as info:
        transport.request("POST", "/hang", credentials=creds, json={"inputs": []})
    assert len(server.requests) == 1
    assert "0.2s" in str(info.value)


def test_connection_refused_is_retried_even_for_post_as_nothing_was_sent(
    make_transport: Callable[..., Transport], creds: Credentials, sleeps: list[float]
) -> None:
    transport = make_transport(base_url=f"http://127.0.0.1:{closed_port()}/v1")
    with pytest.raises(ConnectionFailedError) as info:
        transport.request("POST", "/on-demand", credentials=creds, json={})
    assert len(sleeps) == 3
    assert "refused" in str(info.value).lower()


def test_recovers_after_a_reset_on_the_same_session(
    server: LoopbackServer, make_transport: Callable[..., Transport], creds: Credentials
) -> None:
    transport = make_transport(base_url=server.base_url, max_retries=0)
    transport.request("GET", "/ok", credentials=creds)
    with pytest.raises(ConnectionFailedError):
        transport.request("GET", "/reset", credentials=creds)
    assert transport.request("GET", "/ok", credentials=creds)["success"] is True
