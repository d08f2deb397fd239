"""The transport's ``before_resend`` hook: run before every retry, never before the first send."""

from __future__ import annotations

import pytest
import requests
import responses

from django_fastpix.client import Credentials, Transport
from django_fastpix.exceptions import ServerError, TokenNoLongerUsableError

from .conftest import BASE


def test_hook_runs_before_each_resend_and_not_before_the_first_send(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    for _ in range(transport.max_retries + 1):
        mocked.get(f"{BASE}/on-demand", status=503, json={"success": False})
    calls: list[int] = []

    def hook() -> None:
        calls.append(len(mocked.calls))

    with pytest.raises(ServerError):
        transport.request("GET", "/on-demand", credentials=creds, before_resend=hook)
    # One check per retry, each after the previous attempt went out and before the next.
    assert calls == list(range(1, transport.max_retries + 1))
    assert len(mocked.calls) == transport.max_retries + 1


def test_a_hook_that_raises_stops_the_retries_with_its_error(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.get(f"{BASE}/on-demand", status=503, json={"success": False})
    mocked.get(f"{BASE}/on-demand", body=requests.exceptions.ConnectionError("reset"))

    def revoked() -> None:
        raise TokenNoLongerUsableError("revoked meanwhile")

    with pytest.raises(TokenNoLongerUsableError):
        transport.request("GET", "/on-demand", credentials=creds, before_resend=revoked)
    assert len(mocked.calls) == 1  # nothing was resent after the check failed


def test_hook_also_guards_resends_after_connection_errors(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.get(f"{BASE}/on-demand", body=requests.exceptions.ConnectionError("reset"))
    mocked.get(f"{BASE}/on-demand", json={"success": True, "data": {}})
    seen: list[str] = []
    envelope = transport.request(
        "GET", "/on-demand", credentials=creds, before_resend=lambda: seen.append("checked")
    )
    assert envelope == {"success": True, "data": {}}
    assert seen == ["checked"]
