"""The service layer over real sockets against the fake FastPix: tokens, scopes, faults."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from django_fastpix import signals
from django_fastpix.client import FastPixClient
from django_fastpix.exceptions import (
    AuthenticationError,
    ConnectionFailedError,
    NotFoundError,
    NoUsableTokenError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
)
from django_fastpix.models import AccessToken, TokenStatus
from django_fastpix.scopes import Scope
from django_fastpix.services import api
from django_fastpix.services.tokens import revoke_token
from tests.conftest import SECRET, subprocess_env

pytestmark = pytest.mark.django_db

VIDEO = "https://example.com/video.mp4"


def status_of(token: AccessToken) -> str:
    token.refresh_from_db()
    return token.status


def test_calls_are_signed_with_exact_basic_auth(fake_token, workspace, fake_api):
    token = fake_token(token_id="tok_header_check_01")
    media = api.call(workspace, FastPixClient.create_media, VIDEO, access_policy="public")
    assert media.id and media.status == "Created"
    record = fake_api.requests_for("POST /on-demand")[0]
    expected = "Basic " + base64.b64encode(f"tok_header_check_01:{SECRET}".encode()).decode()
    assert record.header("Authorization") == expected
    assert record.authenticated_token_id == "tok_header_check_01"
    assert status_of(token) == TokenStatus.ACTIVE


def test_reads_prefer_the_least_privileged_token(fake_token, workspace, fake_api):
    writer = fake_token(scope=Scope.READ_WRITE)
    reader = fake_token(scope=Scope.READ)
    created = api.call(workspace, FastPixClient.create_media, VIDEO)
    api.call(workspace, FastPixClient.get_media, created.id)
    by_path = {(r.method, r.path): r.authenticated_token_id for r in fake_api.requests}
    assert by_path[("POST", "/v1/on-demand")] == writer.credentials().token_id
    assert by_path[("GET", f"/v1/on-demand/{created.id}")] == reader.credentials().token_id


def test_write_without_a_write_token_fails_before_any_request(fake_token, workspace, fake_api):
    fake_token(scope=Scope.READ)
    with pytest.raises(NoUsableTokenError) as excinfo:
        api.call(workspace, FastPixClient.create_media, VIDEO)
    assert "prod" in str(excinfo.value) and "read_write" in str(excinfo.value)
    assert fake_api.requests == []


def test_no_token_at_all_fails_before_any_request(workspace, fake_api):
    with pytest.raises(NoUsableTokenError):
        api.call(workspace, FastPixClient.list_media)
    assert fake_api.requests == []


def test_401_invalidates_and_fails_over_to_the_next_token(
    fake_token, workspace, fake_api, django_capture_on_commit_callbacks
):
    first = fake_token(scope=Scope.READ)
    second = fake_token(scope=Scope.READ_WRITE)
    fake_api.revoke_token(first.credentials().token_id)  # FastPix no longer accepts it
    received = []

    def on_invalid(sender, token, reason, **kwargs):
        received.append((token.pk, reason))

    signals.token_invalidated.connect(on_invalid)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            page = api.call(workspace, FastPixClient.list_media)
    finally:
        signals.token_invalidated.disconnect(on_invalid)
    assert page.items == []
    assert status_of(first) == TokenStatus.INVALID and status_of(second) == TokenStatus.ACTIVE
    assert "401" in first.status_reason and first.status_changed_at is not None
    assert received and received[0][0] == first.pk
    used = [r.authenticated_token_id for r in fake_api.requests]
    assert used == [None, second.credentials().token_id]  # the fake authenticates no 401


def test_failover_happens_once(fake_token, workspace, fake_api):
    tokens = [fake_token() for _ in range(3)]
    for token in tokens:
        fake_api.revoke_token(token.credentials().token_id)
    with pytest.raises(AuthenticationError) as excinfo:
        api.call(workspace, FastPixClient.list_media)
    assert len(fake_api.requests) == 2
    assert [status_of(t) for t in tokens] == ["invalid", "invalid", "active"]
    assert SECRET not in str(excinfo.value)


def test_401_with_no_other_token_raises_the_401(fake_token, workspace, fake_api):
    token = fake_token()
    fake_api.revoke_token(token.credentials().token_id)
    with pytest.raises(AuthenticationError):
        api.call(workspace, FastPixClient.list_media)
    assert status_of(token) == TokenStatus.INVALID


def test_403_is_a_scope_problem_not_invalidity(fake_token, workspace, fake_api):
    # Stored as read+write, but FastPix granted it read only.
    token = fake_token(scope=Scope.READ_WRITE, fake_scope="read")
    with pytest.raises(PermissionDeniedError):
        api.call(workspace, FastPixClient.create_media, VIDEO)
    assert status_of(token) == TokenStatus.ACTIVE


def test_workspace_isolation(fake_token, workspace, other_workspace, fake_api):
    fake_token(ws=workspace, fake_workspace="ws-prod")
    fake_token(ws=other_workspace, fake_workspace="ws-dev")
    media = api.call(workspace, FastPixClient.create_media, VIDEO)
    with pytest.raises(NotFoundError):
        api.call(other_workspace, FastPixClient.get_media, media.id)
    assert api.call(other_workspace, FastPixClient.list_media).items == []
    assert [m.id for m in api.call(workspace, FastPixClient.list_media).items] == [media.id]


def test_revoked_elsewhere_is_never_used_again(fake_token, workspace, fake_api):
    first = fake_token(scope=Scope.READ)
    second = fake_token(scope=Scope.READ_WRITE)
    api.call(workspace, FastPixClient.list_media)
    # What another process's committed revoke looks like to this one: only the row changed.
    AccessToken.objects.filter(pk=first.pk).update(status=TokenStatus.REVOKED)
    api.call(workspace, FastPixClient.list_media)
    used = [r.authenticated_token_id for r in fake_api.requests]
    assert used == [first.credentials().token_id, second.credentials().token_id]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_transient_5xx_is_retried_then_succeeds(fake_token, workspace, fake_api, status):
    token = fake_token()
    fake_api.inject("GET /on-demand", status=status, times=2)
    api.call(workspace, FastPixClient.list_media)
    assert [r.status for r in fake_api.requests] == [status, status, 200]
    assert status_of(token) == TokenStatus.ACTIVE


def test_retries_are_bounded_and_leave_the_token_alone(fake_token, workspace, fake_api, settings):
    token = fake_token()
    settings.FASTPIX = {**settings.FASTPIX, "MAX_RETRIES": 2}
    fake_api.inject("GET /on-demand", status=503)
    with pytest.raises(ServerError):
        api.call(workspace, FastPixClient.list_media)
    assert len(fake_api.requests) == 3  # first try + MAX_RETRIES
    assert status_of(token) == TokenStatus.ACTIVE


def test_create_without_idempotency_key_is_not_retried(fake_token, workspace, fake_api):
    fake_token()
    fake_api.inject("POST /on-demand", status=503, times=1)
    with pytest.raises(ServerError):
        api.call(workspace, FastPixClient.create_media, VIDEO)
    assert len(fake_api.requests) == 1


def test_create_with_idempotency_key_is_retried_and_replayed(fake_token, workspace, fake_api):
    fake_token()
    fake_api.inject("POST /on-demand", status=502, times=1)
    first = api.call(workspace, FastPixClient.create_media, VIDEO, idempotency_key="ref-1")
    again = api.call(workspace, FastPixClient.create_media, VIDEO, idempotency_key="ref-1")
    assert first.id == again.id
    assert len(fake_api.media()) == 1


def test_429_honours_retry_after(fake_token, workspace, fake_api):
    fake_token()
    fake_api.inject("GET /on-demand", status=429, retry_after=1, times=1)
    api.call(workspace, FastPixClient.list_media)
    first, second = fake_api.requests
    assert first.status == 429 and second.status == 200
    assert second.time - first.time >= 0.9


def test_429_beyond_the_cap_is_raised(fake_token, workspace, fake_api):
    fake_token()
    fake_api.inject("GET /on-demand", status=429, retry_after=60)
    with pytest.raises(RateLimitedError) as excinfo:
        api.call(workspace, FastPixClient.list_media)
    assert excinfo.value.retry_after == 60 and len(fake_api.requests) == 1


def test_connection_reset_is_retried(fake_token, workspace, fake_api):
    fake_token()
    fake_api.inject("GET /on-demand", reset=True, times=1)
    api.call(workspace, FastPixClient.list_media)
    assert len(fake_api.requests) == 2


def test_persistent_reset_raises_connection_error(fake_token, workspace, fake_api, settings):
    token = fake_token()
    settings.FASTPIX = {**settings.FASTPIX, "MAX_RETRIES": 1}
    fake_api.inject("GET /on-demand", reset=True)
    with pytest.raises(ConnectionFailedError):
        api.call(workspace, FastPixClient.list_media)
    assert status_of(token) == TokenStatus.ACTIVE


def test_response_that_never_comes_times_out(fake_token, workspace, fake_api, settings):
    token = fake_token()
    settings.FASTPIX = {**settings.FASTPIX, "MAX_RETRIES": 0, "READ_TIMEOUT": 0.3}
    fault = fake_api.inject("GET /on-demand", hang=True)
    try:
        with pytest.raises(RequestTimeoutError):
            api.call(workspace, FastPixClient.list_media)
    finally:
        fake_api.clear_faults(fault)
    assert status_of(token) == TokenStatus.ACTIVE


def test_nth_request_fault(fake_token, workspace, fake_api):
    fake_token()
    fake_api.inject("GET /on-demand", status=500, nth=2)
    for _ in range(3):
        api.call(workspace, FastPixClient.list_media)
    assert [r.status for r in fake_api.requests] == [200, 500, 200, 200]


def test_last_used_is_written_at_most_once_per_interval(
    fake_token, workspace, fake_api, django_assert_num_queries
):
    token = fake_token()
    api.call(workspace, FastPixClient.list_media)
    token.refresh_from_db()
    stamped = token.last_used_at
    assert stamped is not None and timezone.now() - stamped < timezone.timedelta(seconds=5)
    with django_assert_num_queries(1):  # the token lookup, no UPDATE
        api.call(workspace, FastPixClient.list_media)
    token.refresh_from_db()
    assert token.last_used_at == stamped


def test_no_secret_in_any_log_at_debug(fake_token, workspace, fake_api, caplog, settings):
    caplog.set_level(logging.DEBUG)
    settings.DEBUG = True  # SQL logging too
    first = fake_token(scope=Scope.READ)
    fake_token(scope=Scope.READ_WRITE)
    fake_api.revoke_token(first.credentials().token_id)
    fake_api.inject("POST /on-demand", status=503, times=1)
    api.call(workspace, FastPixClient.list_media)
    api.call(workspace, FastPixClient.create_media, VIDEO, idempotency_key="k")
    with pytest.raises(NotFoundError):
        api.call(workspace, FastPixClient.get_media, "missing")
    header = base64.b64encode(f"{first.credentials().token_id}:{SECRET}".encode()).decode()
    assert caplog.records
    for text in (caplog.text, *(repr(r.args) for r in caplog.records)):
        assert SECRET not in text and header not in text
        assert first.credentials().token_id not in text


def test_revoked_token_is_refused_by_verify(fake_token):
    from django_fastpix.exceptions import TokenRevokedError
    from django_fastpix.services.verify import verify_token

    token = fake_token()
    revoke_token(token, reason="leak", by="t")
    with pytest.raises(TokenRevokedError):
        verify_token(token)


@pytest.mark.django_db(transaction=True)
def test_a_revoke_in_another_process_applies_at_once(fake_token, workspace, fake_api):
    first = fake_token(scope=Scope.READ)
    second = fake_token(scope=Scope.READ_WRITE)
    api.call(workspace, FastPixClient.list_media)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "fastpix_token",
            "revoke",
            str(first.pk),
            "--reason",
            "leaked",
        ],
        env=subprocess_env(),
        cwd=Path(__file__).parents[2],
        check=True,
        capture_output=True,
    )
    api.call(workspace, FastPixClient.list_media)
    used = [r.authenticated_token_id for r in fake_api.requests]
    assert used == [first.credentials().token_id, second.credentials().token_id]
    assert status_of(first) == TokenStatus.REVOKED


def test_failover_continues_when_the_401_token_was_revoked_meanwhile(
    fake_token, workspace, fake_api, monkeypatch
):
    first = fake_token(scope=Scope.READ)
    second = fake_token(scope=Scope.READ_WRITE)
    fake_api.revoke_token(first.credentials().token_id)
    real_pick = api.pick_token

    def pick_then_revoke(*args, **kwargs):
        token = real_pick(*args, **kwargs)
        if token.pk == first.pk:  # an operator revokes it while the call is on the wire
            AccessToken.objects.filter(pk=first.pk).update(status=TokenStatus.REVOKED)
        return token

    monkeypatch.setattr(api, "pick_token", pick_then_revoke)
    api.call(workspace, FastPixClient.list_media)
    assert status_of(first) == TokenStatus.REVOKED
    assert fake_api.requests[-1].authenticated_token_id == second.credentials().token_id


def test_verify_refuses_a_token_revoked_since_it_was_loaded(fake_token, fake_api):
    from django_fastpix.exceptions import TokenRevokedError
    from django_fastpix.services.verify import verify_token

    token = fake_token()
    AccessToken.objects.filter(pk=token.pk).update(status=TokenStatus.REVOKED)
    with pytest.raises(TokenRevokedError):
        verify_token(token)  # the in-memory copy still says active
    assert fake_api.requests == []
