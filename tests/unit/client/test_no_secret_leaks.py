"""No credential in any log line (root, urllib3 included), exception text, traceback or locals."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Iterator

import pytest
import requests
import responses

from django_fastpix.client import Credentials, FastPixClient, Transport
from django_fastpix.exceptions import (
    AuthenticationError,
    ConnectionFailedError,
    FastPixError,
    InvalidResponseError,
    RequestTimeoutError,
    ServerError,
)

from .conftest import BASE, assert_clean
from .loopback import LoopbackServer, loopback_server


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with loopback_server() as running:
        yield running


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def all_logs() -> Iterator[_Capture]:
    """Every record from every logger at DEBUG, formatted as a handler would write it."""
    capture = _Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    # Loggers configured elsewhere may have their own level; force DEBUG where it matters.
    names = ["urllib3", "urllib3.connectionpool", "requests", "django_fastpix"]
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(previous)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def check_error(error: BaseException, *, frame_locals: bool = True) -> None:
    """str, repr, formatted traceback and every frame local's repr are free of credentials."""
    assert_clean(str(error))
    assert_clean(repr(error))
    assert_clean("".join(traceback.format_exception(type(error), error, error.__traceback__)))
    assert error.__cause__ is None
    assert error.__context__ is None
    tb = error.__traceback__ if frame_locals else None
    while tb is not None:
        for name, value in tb.tb_frame.f_locals.items():
            # What an error tracker that records locals (Sentry's default) would send.
            assert_clean(f"{name}={value!r}")
        tb = tb.tb_next


def test_logs_of_successful_failing_and_retried_calls_hold_no_credentials(
    server: LoopbackServer,
    make_transport: Callable[..., Transport],
    creds: Credentials,
    all_logs: _Capture,
) -> None:
    transport = make_transport(base_url=server.base_url, read_timeout=0.3, max_retries=2)
    client = FastPixClient(creds, transport)
    errors: list[FastPixError] = []

    client.get_media("m1")
    client.create_media("https://example.test/v.mp4", idempotency_key="ref-1")
    for call in (
        lambda: transport.request("GET", "/unauthorized", credentials=creds),
        lambda: transport.request("GET", "/unavailable", credentials=creds),
        lambda: transport.request("GET", "/reset", credentials=creds),
        lambda: transport.request("POST", "/hang", credentials=creds, json={}),
    ):
        with pytest.raises(FastPixError) as info:
            call()
        errors.append(info.value)

    assert [type(e) for e in errors] == [
        AuthenticationError,
        ServerError,
        ConnectionFailedError,
        RequestTimeoutError,
    ]
    text = "\n".join(all_logs.lines)
    assert_clean(text)
    assert "Authorization" not in text
    # The capture really saw debug output from both the app and urllib3.
    assert any(line.startswith("urllib3.connectionpool DEBUG") for line in all_logs.lines)
    assert any("→ GET /v1/on-demand/m1 token …WXYZ attempt 1" in ln for ln in all_logs.lines)
    assert any("← 200 GET /v1/on-demand/m1" in line for line in all_logs.lines)
    assert any("retry 1/2" in line for line in all_logs.lines)
    for error in errors:
        check_error(error)


def test_one_debug_line_per_request_and_response(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, all_logs: _Capture
) -> None:
    mocked.post(f"{BASE}/on-demand", json={"success": True, "data": {"id": "m1"}}, status=201)
    transport.request("POST", "/on-demand", credentials=creds, json={"secret": "body"})
    own = [line for line in all_logs.lines if line.startswith("django_fastpix")]
    assert len(own) == 2
    assert own[0].endswith("→ POST /v1/on-demand token …WXYZ attempt 1")
    assert "← 201 POST /v1/on-demand" in own[1]
    assert "body" not in "\n".join(own)  # request bodies are never logged


def test_no_debug_formatting_when_debug_is_off(
    mocked: responses.RequestsMock,
    transport: Transport,
    creds: Credentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mocked.get(f"{BASE}/x", json={"success": True})
    logger = logging.getLogger("django_fastpix.client.transport")
    calls: list[object] = []
    monkeypatch.setattr(logger, "debug", lambda *a, **k: calls.append(a))
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        transport.request("GET", "/x", credentials=creds)
    finally:
        logger.setLevel(previous)
    assert calls == []


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ConnectionError("boom"),
        requests.exceptions.ReadTimeout("slow"),
        requests.exceptions.ConnectTimeout("slow"),
        requests.exceptions.InvalidHeader("bad header"),
    ],
)
def test_transport_errors_do_not_chain_the_requests_exception(
    mocked: responses.RequestsMock,
    make_transport: Callable[..., Transport],
    creds: Credentials,
    failure: Exception,
) -> None:
    mocked.get(f"{BASE}/x", body=failure)
    with pytest.raises(FastPixError) as info:
        make_transport(max_retries=0).request("GET", "/x", credentials=creds)
    check_error(info.value)


def test_api_and_parse_errors_are_clean(
    mocked: responses.RequestsMock, client: FastPixClient, creds: Credentials
) -> None:
    mocked.get(f"{BASE}/on-demand/m1", json={"success": True, "data": {"title": "no id"}})
    mocked.get(f"{BASE}/on-demand/m2", body=f"echo {creds.secret_key}", status=200)
    mocked.delete(f"{BASE}/on-demand/m3", json={"success": False}, status=401)
    for call, echoes in (
        (lambda: client.get_media("m1"), False),
        (lambda: client.get_media("m2"), True),
        (lambda: client.delete_media("m3"), False),
    ):
        with pytest.raises((InvalidResponseError, AuthenticationError)) as info:
            call()
        # A body that echoes the secret is, unavoidably, in the parser's locals; the
        # message built from it is still redacted.
        check_error(info.value, frame_locals=not echoes)
