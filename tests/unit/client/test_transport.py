"""Transport behaviour against mocked responses: headers, retries, Retry-After, error mapping."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

import pytest
import requests
import responses

from django_fastpix.client import Credentials, Transport
from django_fastpix.client.transport import DEFAULT_USER_AGENT
from django_fastpix.exceptions import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionFailedError,
    FastPixAPIError,
    InvalidPayloadError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    error_class_for,
)

from .conftest import BASE, BASIC, SECRET, assert_clean

OK = {"success": True, "data": {"id": "m1"}}
RETRYABLE = [408, 429, 500, 502, 503, 504]


def error_body(status: int, message: str = "boom", **extra: object) -> dict[str, object]:
    return {"success": False, "error": {"code": status, "message": message, **extra}}


# --- headers and body ---


def test_get_sends_exact_basic_header_accept_and_user_agent(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.get(f"{BASE}/on-demand", json=OK)
    envelope = transport.request("GET", "/on-demand", credentials=creds, params={"limit": 1})
    assert envelope == OK
    request = mocked.calls[0].request
    assert request.headers["Authorization"] == BASIC
    assert request.headers["Accept"] == "application/json"
    assert request.headers["User-Agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith("django-fastpix/0.1.0 python-requests/")
    assert "Content-Type" not in request.headers
    assert "Idempotency-Key" not in request.headers
    assert request.url == f"{BASE}/on-demand?limit=1"
    assert request.req_kwargs["timeout"] == (1.0, 2.0)  # type: ignore[attr-defined]


def test_post_sends_compact_json_bytes_and_idempotency_key(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.post(f"{BASE}/on-demand", json=OK, status=201)
    body = {"inputs": [{"type": "video", "url": "https://x/y.mp4"}], "title": "é"}
    transport.request("post", "/on-demand", credentials=creds, json=body, idempotency_key="ref-1")
    request = mocked.calls[0].request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "ref-1"
    assert request.headers["Authorization"] == BASIC
    assert isinstance(request.body, bytes)
    assert request.body == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def test_custom_user_agent(
    mocked: responses.RequestsMock, make_transport: Callable[..., Transport], creds: Credentials
) -> None:
    mocked.get(f"{BASE}/on-demand", json=OK)
    make_transport(user_agent="my-site/2").request("GET", "/on-demand", credentials=creds)
    assert mocked.calls[0].request.headers["User-Agent"] == "my-site/2"


def test_session_holds_no_credentials_and_is_reused(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.get(f"{BASE}/on-demand", json=OK)
    session = transport.session()
    transport.request("GET", "/on-demand", credentials=creds)
    transport.request("GET", "/on-demand", credentials=creds)
    assert transport.session() is session
    assert session.auth is None
    assert "Authorization" not in session.headers


def test_each_request_uses_its_own_credentials(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.get(f"{BASE}/on-demand", json=OK)
    other = Credentials("tok_other_000000001111", "sk_other_secret_999")
    transport.request("GET", "/on-demand", credentials=creds)
    transport.request("GET", "/on-demand", credentials=other)
    assert mocked.calls[0].request.headers["Authorization"] == BASIC
    assert mocked.calls[1].request.headers["Authorization"] == other.basic_auth_header()


def test_netrc_entry_does_not_replace_the_header(
    mocked: responses.RequestsMock,
    transport: Transport,
    creds: Credentials,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.fastpix.test login intruder password wrong\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    mocked.get(f"{BASE}/on-demand", json=OK)
    transport.request("GET", "/on-demand", credentials=creds)
    assert mocked.calls[0].request.headers["Authorization"] == BASIC


def test_base_url_trailing_slash_is_normalised(
    mocked: responses.RequestsMock, make_transport: Callable[..., Transport], creds: Credentials
) -> None:
    mocked.get(f"{BASE}/on-demand", json=OK)
    make_transport(base_url=BASE + "/").request("GET", "/on-demand", credentials=creds)
    assert mocked.calls[0].request.url == f"{BASE}/on-demand"


# --- retries ---


@pytest.mark.parametrize("status", RETRYABLE)
def test_retryable_status_is_retried_max_retries_times(
    mocked: responses.RequestsMock,
    transport: Transport,
    creds: Credentials,
    sleeps: list[float],
    status: int,
) -> None:
    mocked.get(f"{BASE}/on-demand/m1", json=error_body(status), status=status)
    with pytest.raises(FastPixAPIError) as info:
        transport.request("GET", "/on-demand/m1", credentials=creds)
    assert type(info.value) is error_class_for(status)
    assert info.value.status == status
    assert len(mocked.calls) == 4
    # random() == 1.0, so the waits are the jitter caps: base * 2**n capped at backoff_max.
    assert sleeps == [0.5, 1.0, 2.0]


def test_backoff_is_capped_at_backoff_max(
    mocked: responses.RequestsMock,
    make_transport: Callable[..., Transport],
    creds: Credentials,
    sleeps: list[float],
) -> None:
    mocked.get(f"{BASE}/x", status=503)
    with pytest.raises(ServerError):
        make_transport(max_retries=6).request("GET", "/x", credentials=creds)
    assert sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_full_jitter_stays_within_bounds(
    mocked: responses.RequestsMock,
    make_transport: Callable[..., Transport],
    creds: Credentials,
    sleeps: list[float],
) -> None:
    mocked.get(f"{BASE}/x", status=500)
    rng = random.Random(1234)
    for _ in range(20):
        with pytest.raises(ServerError):
            make_transport(max_retries=6, random=rng.random).request("GET", "/x", credentials=creds)
    assert len(sleeps) == 120
    for index, wait in enumerate(sleeps):
        cap = min(4.0, 0.5 * 2 ** (index % 6))
        assert 0.0 <= wait <= cap
    assert len(set(sleeps)) > 100  # jittered, not a fixed schedule


def test_zero_retries_means_one_attempt(
    mocked: responses.RequestsMock,
    make_transport: Callable[..., Transport],
    creds: Credentials,
    sleeps: list[float],
) -> None:
    mocked.get(f"{BASE}/x", status=503)
    with pytest.raises(ServerError):
        make_transport(max_retries=0).request("GET", "/x", credentials=creds)
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_success_after_transient_errors(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, sleeps: list[float]
) -> None:
    mocked.get(f"{BASE}/x", status=502)
    mocked.get(f"{BASE}/x", status=503)
    mocked.get(f"{BASE}/x", json=OK)
    assert transport.request("GET", "/x", credentials=creds) == OK
    assert len(mocked.calls) == 3
    assert sleeps == [0.5, 1.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_client_errors_are_not_retried(
    mocked: responses.RequestsMock,
    transport: Transport,
    creds: Credentials,
    sleeps: list[float],
    status: int,
) -> None:
    mocked.get(f"{BASE}/x", json=error_body(status), status=status)
    with pytest.raises(FastPixAPIError):
        transport.request("GET", "/x", credentials=creds)
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_retry_after_seconds_is_honoured(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, sleeps: list[float]
) -> None:
    mocked.get(f"{BASE}/x", status=429, headers={"Retry-After": "7"}, json=error_body(429))
    mocked.get(f"{BASE}/x", json=OK)
    assert transport.request("GET", "/x", credentials=creds) == OK
    assert sleeps == [7.0]


def test_retry_after_http_date_is_honoured(
    mocked: responses.RequestsMock,
    make_transport: Callable[..., Transport],
    creds: Credentials,
    sleeps: list[float],
) -> None:
    now = 1_700_000_000.0
    mocked.get(f"{BASE}/x", status=503, headers={"Retry-After": formatdate(now + 12, usegmt=True)})
    mocked.get(f"{BASE}/x", json=OK)
    make_transport(clock=lambda: now).request("GET", "/x", credentials=creds)
    assert sleeps == [12.0]


def test_retry_after_in_the_past_waits_zero(
    mocked: responses.RequestsMock,
    make_transport: Callable[..., Transport],
    creds: Credentials,
    sleeps: list[float],
) -> None:
    now = 1_700_000_000.0
    mocked.get(f"{BASE}/x", status=429, headers={"Retry-After": formatdate(now - 60, usegmt=True)})
    mocked.get(f"{BASE}/x", json=OK)
    make_transport(clock=lambda: now).request("GET", "/x", credentials=creds)
    assert sleeps == [0.0]


def test_unparseable_retry_after_falls_back_to_backoff(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, sleeps: list[float]
) -> None:
    mocked.get(f"{BASE}/x", status=429, headers={"Retry-After": "soon-ish"})
    mocked.get(f"{BASE}/x", json=OK)
    transport.request("GET", "/x", credentials=creds)
    assert sleeps == [0.5]


def test_retry_after_over_the_cap_raises_immediately(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, sleeps: list[float]
) -> None:
    mocked.get(f"{BASE}/x", status=429, headers={"Retry-After": "120"}, json=error_body(429))
    with pytest.raises(RateLimitedError) as info:
        transport.request("GET", "/x", credentials=creds)
    assert info.value.retry_after == 120.0
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_exhausted_rate_limit_carries_retry_after(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, sleeps: list[float]
) -> None:
    mocked.get(f"{BASE}/x", status=429, headers={"Retry-After": "1"}, json=error_body(429))
    with pytest.raises(RateLimitedError) as info:
        transport.request("GET", "/x", credentials=creds)
    assert info.value.retry_after == 1.0
    assert len(mocked.calls) == 4
    assert sleeps == [1.0, 1.0, 1.0]


def test_post_without_idempotency_key_is_not_retried(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, sleeps: list[float]
) -> None:
    mocked.post(f"{BASE}/on-demand", status=503, json=error_body(503))
    with pytest.raises(ServerError):
        transport.request("POST", "/on-demand", credentials=creds, json={"inputs": []})
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_post_with_idempotency_key_is_retried_with_the_same_key(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, sleeps: list[float]
) -> None:
    mocked.post(f"{BASE}/on-demand", status=503)
    mocked.post(f"{BASE}/on-demand", status=429, headers={"Retry-After": "2"})
    mocked.post(f"{BASE}/on-demand", json=OK, status=201)
    transport.request("POST", "/on-demand", credentials=creds, json={}, idempotency_key="k-1")
    assert [c.request.headers["Idempotency-Key"] for c in mocked.calls] == ["k-1"] * 3
    assert sleeps == [0.5, 2.0]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_retried(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, method: str
) -> None:
    mocked.add(method, f"{BASE}/x", status=500)
    mocked.add(method, f"{BASE}/x", json={"success": True})
    assert transport.request(method, "/x", credentials=creds) == {"success": True}
    assert len(mocked.calls) == 2


# --- transport failures ---


def test_connection_error_is_retried_then_raised(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, sleeps: list[float]
) -> None:
    mocked.get(f"{BASE}/x", body=requests.exceptions.ConnectionError("reset by peer"))
    with pytest.raises(ConnectionFailedError) as info:
        transport.request("GET", "/x", credentials=creds)
    assert len(mocked.calls) == 4
    assert len(sleeps) == 3
    assert info.value.method == "GET"
    assert info.value.url == "/v1/x"
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


def test_connection_error_on_post_without_key_is_not_retried(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.post(f"{BASE}/on-demand", body=requests.exceptions.ConnectionError("reset"))
    with pytest.raises(ConnectionFailedError):
        transport.request("POST", "/on-demand", credentials=creds, json={})
    assert len(mocked.calls) == 1


def test_read_timeout_on_post_without_key_raises_immediately(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, sleeps: list[float]
) -> None:
    mocked.post(f"{BASE}/on-demand", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(RequestTimeoutError) as info:
        transport.request("POST", "/on-demand", credentials=creds, json={})
    assert len(mocked.calls) == 1
    assert sleeps == []
    assert "2s" in str(info.value)


def test_read_timeout_on_get_is_retried(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.get(f"{BASE}/x", body=requests.exceptions.ReadTimeout("slow"))
    mocked.get(f"{BASE}/x", json=OK)
    assert transport.request("GET", "/x", credentials=creds) == OK


def test_connect_timeout_on_post_without_key_is_retried_as_nothing_was_sent(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.post(f"{BASE}/on-demand", body=requests.exceptions.ConnectTimeout("no route"))
    with pytest.raises(RequestTimeoutError):
        transport.request("POST", "/on-demand", credentials=creds, json={})
    assert len(mocked.calls) == 4


# --- error mapping ---


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, InvalidPayloadError),
        (500, ServerError),
        (524, ServerError),
        (418, FastPixAPIError),
    ],
)
def test_status_maps_to_exception(
    mocked: responses.RequestsMock,
    make_transport: Callable[..., Transport],
    creds: Credentials,
    status: int,
    error_class: type[FastPixAPIError],
) -> None:
    body = error_body(status, "media workspace relation not found", description="no such media")
    mocked.get(f"{BASE}/on-demand/m1", json=body, status=status)
    with pytest.raises(error_class) as info:
        make_transport(max_retries=0).request(
            "GET", "/on-demand/m1", credentials=creds, params={"a": "b"}
        )
    error = info.value
    assert type(error) is error_class
    assert error.status == status
    assert error.code == status
    assert error.message == "media workspace relation not found"
    assert error.description == "no such media"
    assert error.method == "GET"
    assert error.url == "/v1/on-demand/m1?a=b"
    assert error.token_hint == "WXYZ"
    assert "…WXYZ" in str(error)


def test_422_fields_and_legacy_errors_are_collected(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    body = {
        "success": False,
        "error": {
            "code": 422,
            "message": "payload validation failed",
            "fields": [{"field": "accessPolicy", "message": "must be one of public, private"}],
        },
        "errors": [{"field": "metadata", "message": "at most 10 keys"}, "title too long"],
    }
    mocked.post(f"{BASE}/on-demand", json=body, status=422)
    with pytest.raises(InvalidPayloadError) as info:
        transport.request("POST", "/on-demand", credentials=creds, json={})
    assert info.value.fields == [
        {"field": "accessPolicy", "message": "must be one of public, private"},
        {"field": "metadata", "message": "at most 10 keys"},
        {"field": None, "message": "title too long"},
    ]
    assert "accessPolicy: must be one of public, private" in str(info.value)


def test_legacy_errors_only(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    body = {"success": False, "errors": [{"param": "limit", "msg": "must be <= 50"}]}
    mocked.get(f"{BASE}/on-demand", json=body, status=422)
    with pytest.raises(InvalidPayloadError) as info:
        transport.request("GET", "/on-demand", credentials=creds)
    assert info.value.fields == [{"field": "limit", "message": "must be <= 50"}]
    # The reason phrase stands in for the missing message (its wording varies by library).
    assert info.value.message in ("Unprocessable Entity", "Unprocessable Content")


def test_non_json_error_body_gives_reason_and_truncated_snippet(
    mocked: responses.RequestsMock,
    make_transport: Callable[..., Transport],
    creds: Credentials,
) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1>" + "x" * 5000 + "</body></html>"
    mocked.get(f"{BASE}/x", body=html, status=502, content_type="text/html")
    with pytest.raises(ServerError) as info:
        make_transport(max_retries=0).request("GET", "/x", credentials=creds)
    error = info.value
    assert error.message == "Bad Gateway"
    assert error.description is not None
    assert "non-JSON response body" in error.description
    assert "502 Bad Gateway" in error.description
    assert len(error.description) < 300


def test_error_body_echoing_credentials_is_redacted(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    echoed = f"bad header {BASIC} for {creds.token_id} with {SECRET}"
    mocked.get(f"{BASE}/a", body=echoed, status=401)
    mocked.get(f"{BASE}/b", json=error_body(401, echoed, description=echoed), status=401)
    for path in ("/a", "/b"):
        with pytest.raises(AuthenticationError) as info:
            transport.request("GET", path, credentials=creds)
        assert_clean(str(info.value))
        assert_clean(repr(info.value))
        assert "[redacted]" in str(info.value)


def test_empty_error_body(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.delete(f"{BASE}/x", status=404, body=b"")
    with pytest.raises(NotFoundError) as info:
        transport.request("DELETE", "/x", credentials=creds)
    assert info.value.message == "Not Found"
    assert info.value.description == "empty response body"


@pytest.mark.parametrize("body", ["<html>ok</html>", "[1, 2]", '"text"', "{truncated"])
def test_success_with_non_object_body_is_invalid_response(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials, body: str
) -> None:
    mocked.get(f"{BASE}/x", body=body, status=200)
    with pytest.raises(InvalidResponseError) as info:
        transport.request("GET", "/x", credentials=creds)
    assert "GET /v1/x" in str(info.value)


def test_success_with_empty_body_is_an_empty_envelope(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.delete(f"{BASE}/x", status=204, body=b"")
    assert transport.request("DELETE", "/x", credentials=creds) == {}


def test_success_false_in_a_200_is_an_error(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.get(f"{BASE}/x", json=error_body(400, "nope"), status=200)
    with pytest.raises(FastPixAPIError) as info:
        transport.request("GET", "/x", credentials=creds)
    assert info.value.message == "nope"


def test_redirects_are_not_followed(
    mocked: responses.RequestsMock, transport: Transport, creds: Credentials
) -> None:
    mocked.post(
        f"{BASE}/on-demand",
        status=301,
        headers={"Location": "https://elsewhere.test/v1/on-demand"},
    )
    with pytest.raises(FastPixAPIError) as info:
        transport.request("POST", "/on-demand", credentials=creds, json={})
    assert info.value.status == 301
    assert "API_BASE_URL" in str(info.value)
    assert len(mocked.calls) == 1


def test_a_forked_child_opens_its_own_session(
    transport: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django_fastpix.client import transport as module

    before = transport.session()
    # What os.register_at_fork(after_in_child=...) does in a real fork.
    monkeypatch.setattr(module, "_fork_generation", module._fork_generation + 1)
    after = transport.session()
    assert after is not before
    assert transport.session() is after


def test_close_drops_this_threads_session(transport: Transport) -> None:
    before = transport.session()
    transport.close()
    assert transport.session() is not before
