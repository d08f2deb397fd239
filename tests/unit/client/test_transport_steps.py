"""The steps of ``Transport.request`` one by one: send, classify, back off."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
import requests
import responses

from django_fastpix.client import Credentials, Transport
from django_fastpix.client.transport import _BasicAuth, _Call, _Failure, _Retry
from django_fastpix.exceptions import (
    ConnectionFailedError,
    FastPixError,
    InvalidResponseError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
)

from .conftest import BASE, BASIC, SECRET, TOKEN_ID, assert_clean


def make_call(creds: Credentials, method: str = "GET", *, may_resend: bool = True) -> _Call:
    body = json.dumps({"stream_key": SECRET}).encode()
    return _Call(
        method,
        "/on-demand",
        {"limit": 1},
        body,
        None,
        _BasicAuth(BASIC),
        creds,
        may_resend=may_resend,
    )


def response(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> requests.Response:
    answer = requests.Response()
    answer.status_code = status
    answer._content = body
    answer.headers.update(headers or {})
    return answer


def test_a_call_shows_neither_credentials_nor_body(creds: Credentials) -> None:
    shown = repr(make_call(creds))
    assert shown == "<FastPix call GET /on-demand>"
    assert_clean(shown)


# --- send ---


@pytest.mark.parametrize(
    ("failure", "error_class", "unsent"),
    [
        (requests.exceptions.ConnectTimeout("slow"), RequestTimeoutError, True),
        (requests.exceptions.ReadTimeout("slow"), RequestTimeoutError, False),
        (requests.exceptions.ConnectionError("reset"), ConnectionFailedError, False),
        (requests.exceptions.ChunkedEncodingError("cut"), ConnectionFailedError, False),
        (requests.exceptions.InvalidHeader("bad"), TransportError, False),
    ],
)
def test_send_reduces_requests_exceptions_to_plain_values(
    mocked: responses.RequestsMock,
    transport: Transport,
    creds: Credentials,
    failure: Exception,
    error_class: type[TransportError],
    unsent: bool,
) -> None:
    mocked.get(f"{BASE}/on-demand", body=failure)
    outcome = transport._send(transport.session(), make_call(creds), 1, False)
    assert isinstance(outcome, _Failure)
    assert outcome.error_class is error_class
    assert outcome.unsent is unsent
    # Plain values only: nothing that could reach the PreparedRequest and its header.
    assert isinstance(outcome.message, str)
    assert_clean(outcome.message)


def test_send_returns_any_answer_unjudged(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.get(f"{BASE}/on-demand", status=503, json={"success": False})
    outcome = transport._send(transport.session(), make_call(creds), 1, False)
    assert isinstance(outcome, requests.Response)
    assert outcome.status_code == 503


# --- classify ---


def test_classify_success_is_the_envelope(transport: Transport, creds: Credentials) -> None:
    verdict = transport._classify(make_call(creds), 1, response(200, b'{"success":true}'))
    assert verdict == {"success": True}


@pytest.mark.parametrize(
    ("body", "error_class"),
    [(b"[1]", InvalidResponseError), (b'{"success":false}', FastPixError)],
)
def test_classify_returns_a_bad_success_as_an_error_without_raising(
    transport: Transport, creds: Credentials, body: bytes, error_class: type[FastPixError]
) -> None:
    verdict = transport._classify(make_call(creds), 1, response(200, body))
    assert isinstance(verdict, error_class)


def test_classify_retries_a_retryable_status_with_backoff(
    make_transport: Callable[..., Transport], creds: Credentials
) -> None:
    transport = make_transport(random=lambda: 0.5)
    verdict = transport._classify(make_call(creds), 2, response(503))
    assert verdict == _Retry(0.5, "HTTP 503")  # 0.5 * min(4.0, 0.5 * 2**1)


def test_classify_honours_retry_after_up_to_the_cap(
    transport: Transport, creds: Credentials
) -> None:
    call = make_call(creds)
    within = transport._classify(call, 1, response(429, headers={"Retry-After": "7"}))
    assert within == _Retry(7.0, "HTTP 429")
    beyond = transport._classify(call, 1, response(429, headers={"Retry-After": "31"}))
    assert isinstance(beyond, RateLimitedError)
    assert beyond.retry_after == 31.0


def test_classify_gives_up_after_max_retries(transport: Transport, creds: Credentials) -> None:
    call = make_call(creds)
    assert isinstance(transport._classify(call, transport.max_retries, response(503)), _Retry)
    last = transport._classify(call, transport.max_retries + 1, response(503))
    assert isinstance(last, ServerError)


def test_classify_never_resends_an_unkeyed_post_that_may_have_arrived(
    transport: Transport, creds: Credentials
) -> None:
    call = make_call(creds, "POST", may_resend=False)
    assert isinstance(transport._classify(call, 1, response(503)), ServerError)
    maybe_sent = _Failure(RequestTimeoutError, "read timeout", False)
    error = transport._classify(call, 1, maybe_sent)
    assert isinstance(error, RequestTimeoutError)
    assert str(error) == "read timeout [POST /v1/on-demand?limit=1]"
    # Provably unsent (the connection never opened): resending cannot duplicate anything.
    never_sent = _Failure(ConnectionFailedError, "refused", True)
    assert transport._classify(call, 1, never_sent) == _Retry(0.5, "ConnectionFailedError")


def test_classify_errors_name_no_credential(transport: Transport, creds: Credentials) -> None:
    echo = f'{{"success":false,"error":{{"message":"bad {TOKEN_ID}:{SECRET}"}}}}'.encode()
    verdict = transport._classify(make_call(creds), 9, response(401, echo))
    assert isinstance(verdict, FastPixError)
    assert_clean(str(verdict))
    assert_clean(repr(verdict))


# --- back off ---


def test_back_off_logs_then_sleeps_then_runs_the_hook(
    make_transport: Callable[..., Transport],
    creds: Credentials,
    caplog: pytest.LogCaptureFixture,
) -> None:
    steps: list[str] = []
    transport = make_transport(sleep=lambda seconds: steps.append(f"sleep {seconds}"))
    with caplog.at_level(logging.INFO, logger="django_fastpix.client.transport"):
        transport._back_off(
            make_call(creds), 2, _Retry(1.5, "HTTP 503"), lambda: steps.append("hook")
        )
    assert steps == ["sleep 1.5", "hook"]
    assert [r.getMessage() for r in caplog.records] == [
        "FastPix GET /v1/on-demand?limit=1 token …WXYZ: HTTP 503; retry 2/3 in 1.50s"
    ]


def test_back_off_lets_the_hooks_error_through(transport: Transport, creds: Credentials) -> None:
    def hook() -> None:
        raise LookupError("revoked")

    with pytest.raises(LookupError):
        transport._back_off(make_call(creds), 1, _Retry(0.0, "HTTP 503"), hook)
