"""The transport tells the service layer of each 429 as it arrives (before any wait)."""

from __future__ import annotations

from django_fastpix.client import Credentials, Transport
from django_fastpix.client.transport import _Retry, rate_limit_observer

from .conftest import assert_clean
from .test_transport_steps import make_call, response


def test_each_429_is_reported_with_its_retry_after(
    transport: Transport, creds: Credentials
) -> None:
    seen: list[tuple[float | None, str]] = []
    token = rate_limit_observer.set(lambda wait, reason: seen.append((wait, reason)))
    try:
        call = make_call(creds)
        assert transport._classify(call, 1, response(429, headers={"Retry-After": "7"})) == _Retry(
            7.0, "HTTP 429"
        )
        transport._classify(call, 1, response(429))
        transport._classify(call, 1, response(503))  # not a 429: nothing said
    finally:
        rate_limit_observer.reset(token)
    assert [wait for wait, _ in seen] == [7.0, None]
    assert seen[0][1].startswith("HTTP 429 on GET ") and seen[0][1].endswith("/on-demand")
    assert_clean(repr(seen))  # no credential, no body, no query


def test_without_an_observer_nothing_happens(transport: Transport, creds: Credentials) -> None:
    assert rate_limit_observer.get() is None
    verdict = transport._classify(make_call(creds), 1, response(429, headers={"Retry-After": "1"}))
    assert verdict == _Retry(1.0, "HTTP 429")
