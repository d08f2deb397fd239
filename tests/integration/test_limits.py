"""Shared per-workspace limits: a 429 pauses every caller, failures open a circuit, one probe.

Against the fake FastPix with injected faults; "other processes" are other threads with their
own database connections here (tests/integration/test_limits_processes.py uses a real one).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.core import checks
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from django_fastpix.client import FastPixClient
from django_fastpix.exceptions import (
    NotFoundError,
    NoUsableTokenError,
    RateLimitedError,
    ServerError,
    WorkspaceLimitedError,
)
from django_fastpix.models import AccessToken, TokenStatus, WorkspaceLimits
from django_fastpix.services import api, limits
from django_fastpix.services.doctor import limits_findings
from django_fastpix.services.tokens import revoke_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(fake_api: Any, settings: Any) -> Any:
    """Fast failures (no resend) and a short cooling period."""
    settings.FASTPIX = {
        **settings.FASTPIX,
        "MAX_RETRIES": 0,
        "CIRCUIT_FAILURE_THRESHOLD": 3,
        "CIRCUIT_COOLDOWN_SECONDS": 0.3,
    }
    return fake_api


def list_media(workspace: Any) -> Any:
    return api.call(workspace, FastPixClient.list_media)


# --- 429: a pause for everyone ---


def test_a_429_pauses_the_workspace_for_later_calls(limited, fake_token, workspace):
    fake_token()
    limited.inject("GET /on-demand", status=429, retry_after=60)
    with pytest.raises(RateLimitedError) as first:
        list_media(workspace)
    assert not isinstance(first.value, WorkspaceLimitedError) and first.value.retry_after == 60
    limited.clear_faults()
    with pytest.raises(WorkspaceLimitedError) as refused:
        list_media(workspace)
    assert len(limited.requests) == 1  # the refused call made no request
    assert 55 < refused.value.retry_after <= 60 and refused.value.state == "paused"
    assert isinstance(refused.value, RateLimitedError)  # transient for every existing handler
    assert "HTTP 429 on GET /v1/on-demand" in str(refused.value)
    state = limits.read(workspace)
    assert state.paused(timezone.now()) and "429" in state.pause_reason


def test_the_pause_is_capped(limited, fake_token, workspace, settings):
    settings.FASTPIX = {**settings.FASTPIX, "RATE_LIMIT_PAUSE_MAX": 5.0}
    fake_token()
    limited.inject("GET /on-demand", status=429, retry_after=3600)
    with pytest.raises(RateLimitedError):
        list_media(workspace)
    paused_until = limits.read(workspace).paused_until
    assert paused_until is not None
    assert paused_until - timezone.now() <= timedelta(seconds=5)


def test_a_pause_another_caller_recorded_holds_this_one(limited, fake_token, workspace):
    fake_token()
    list_media(workspace)  # a healthy call first: the route is cached in this process
    limits.store().pause(workspace.pk, timezone.now() + timedelta(seconds=30), "HTTP 429 test")
    with pytest.raises(WorkspaceLimitedError):
        list_media(workspace)
    assert len(limited.requests) == 1


def test_a_short_retry_after_is_waited_for_and_the_call_succeeds(fake_api, fake_token, workspace):
    fake_token()
    fake_api.inject("GET /on-demand", status=429, retry_after=0.2, times=1)
    list_media(workspace)
    assert [r.status for r in fake_api.requests] == [429, 200]
    time.sleep(0.05)
    list_media(workspace)  # the pause ran out while the call waited


def test_a_pause_never_shortens_a_longer_one(workspace):
    store = limits.store()
    now = timezone.now()
    store.pause(workspace.pk, now + timedelta(seconds=60), "long")
    store.pause(workspace.pk, now + timedelta(seconds=5), "short")
    assert limits.read(workspace).pause_reason == "long"


# --- the circuit ---


def fail_calls(workspace: Any, n: int) -> None:
    for _ in range(n):
        with pytest.raises(ServerError):
            list_media(workspace)


def test_consecutive_failures_open_the_circuit_then_one_probe_closes_it(
    limited, fake_token, workspace, django_assert_max_num_queries
):
    fake_token()
    limited.inject("GET /on-demand", status=503)
    fail_calls(workspace, 3)
    assert limits.read(workspace).circuit(timezone.now()) == limits.OPEN
    with django_assert_max_num_queries(2), pytest.raises(WorkspaceLimitedError) as refused:
        list_media(workspace)
    assert refused.value.state == "circuit open" and 0 < refused.value.retry_after <= 0.3
    assert len(limited.requests) == 3
    limited.clear_faults()
    time.sleep(0.35)
    assert limits.read(workspace).circuit(timezone.now()) == limits.HALF_OPEN
    list_media(workspace)  # the probe
    state = limits.read(workspace)
    assert state.circuit_opened_at is None and state.consecutive_failures == 0
    with django_assert_max_num_queries(1):  # closed again: one query per call
        list_media(workspace)


def test_a_failed_probe_reopens_the_circuit(limited, fake_token, workspace):
    fake_token()
    limited.inject("GET /on-demand", status=503)
    fail_calls(workspace, 3)
    opened = limits.read(workspace)
    time.sleep(0.35)
    fail_calls(workspace, 1)  # the probe went out, and failed
    reopened = limits.read(workspace)
    assert reopened.circuit(timezone.now()) == limits.OPEN
    assert reopened.circuit_opened_at == opened.circuit_opened_at  # open since the first time
    assert reopened.circuit_retry_at > opened.circuit_retry_at
    assert reopened.probe_until is None
    with pytest.raises(WorkspaceLimitedError):
        list_media(workspace)
    assert len(limited.requests) == 4


@pytest.mark.parametrize("status", [400, 404, 422])
def test_answers_about_the_request_do_not_count(limited, fake_token, workspace, status):
    fake_token()
    limited.inject("GET /on-demand/{mediaId}", status=status)
    for _ in range(5):
        with pytest.raises(Exception) as excinfo:
            api.call(workspace, FastPixClient.get_media, "m-1")
        assert not isinstance(excinfo.value, WorkspaceLimitedError)
    assert limits.read(workspace) == limits.EMPTY


def test_a_success_resets_the_count(limited, fake_token, workspace):
    fake_token()
    fault = limited.inject("GET /on-demand", status=503)
    fail_calls(workspace, 2)
    assert limits.read(workspace).consecutive_failures == 2
    limited.clear_faults(fault)
    list_media(workspace)
    limited.inject("GET /on-demand", status=503)
    fail_calls(workspace, 2)
    assert limits.read(workspace).circuit_opened_at is None  # 2, not 4, in a row


def test_connection_failures_count(limited, fake_token, workspace):
    fake_token()
    limited.inject("GET /on-demand", reset=True)
    for _ in range(3):
        with pytest.raises(Exception):  # noqa: B017 (ConnectionFailedError)
            list_media(workspace)
    assert limits.read(workspace).circuit_opened_at is not None


def test_a_local_refusal_does_not_count(limited, workspace):
    for _ in range(5):
        with pytest.raises(NoUsableTokenError):
            list_media(workspace)
    assert limits.read(workspace) == limits.EMPTY


@pytest.mark.django_db(transaction=True)
def test_exactly_one_of_many_concurrent_callers_claims_the_probe(workspace, settings):
    settings.FASTPIX = {**settings.FASTPIX, "CIRCUIT_FAILURE_THRESHOLD": 1}
    now = timezone.now()
    store = limits.store()
    store.record_failure(workspace.pk, "ServerError: test", now - timedelta(minutes=5))
    claims: list[bool] = []
    barrier = threading.Barrier(6)

    def claim() -> None:
        try:
            barrier.wait()
            claims.append(limits.store().claim_probe(workspace.pk, timezone.now()))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(claims) == [False] * 5 + [True]


@pytest.mark.django_db(transaction=True)
def test_calls_are_refused_while_another_caller_probes(limited, fake_token, workspace):
    fake_token()
    fault = limited.inject("GET /on-demand", status=503)
    fail_calls(workspace, 3)
    limited.clear_faults(fault)
    time.sleep(0.35)
    slow = limited.inject("GET /on-demand", latency=0.5, times=1)
    probe_error: list[BaseException] = []

    def probe() -> None:
        try:
            list_media(workspace)
        except BaseException as exc:  # inspected below
            probe_error.append(exc)
        finally:
            connection.close()

    prober = threading.Thread(target=probe)
    prober.start()
    deadline = time.monotonic() + 5
    while not limited.requests_for("GET /on-demand")[3:] and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(WorkspaceLimitedError) as refused:
        list_media(workspace)
    assert refused.value.state == "probing"
    prober.join(10)
    assert probe_error == []
    assert slow.times == 1 and limits.read(workspace).circuit_opened_at is None
    list_media(workspace)


# --- the token pick stays absolute ---


def test_a_revoke_committed_elsewhere_stops_the_cached_route(fake_api, fake_token, workspace):
    first = fake_token()
    list_media(workspace)
    # As another process would: a committed UPDATE, no signal in this process.
    AccessToken.objects.filter(pk=first.pk).update(status=TokenStatus.REVOKED)
    with pytest.raises(NoUsableTokenError):
        list_media(workspace)
    assert len(fake_api.requests) == 1


def test_a_replaced_secret_elsewhere_is_picked_up(fake_api, fake_token, workspace):
    token = fake_token()
    list_media(workspace)
    other = fake_token()  # a second token, then the first one's row changes under the route
    AccessToken.objects.filter(pk=token.pk).update(
        secret_key=AccessToken.objects.values_list("secret_key", flat=True).get(pk=other.pk)
    )
    api._ROUTES.clear()  # as in a process that did not see the add
    list_media(workspace)
    list_media(workspace)
    assert fake_api.requests[-1].status == 200


def test_a_healthy_call_costs_one_query(fake_api, fake_token, workspace, django_assert_num_queries):
    fake_token()
    list_media(workspace)
    for _ in range(3):
        with django_assert_num_queries(1):
            list_media(workspace)


def test_a_revoke_in_this_process_drops_the_route_at_once(fake_api, fake_token, workspace):
    first, second = fake_token(), fake_token()
    list_media(workspace)
    used = fake_api.requests[-1].authenticated_token_id
    revoke_token(first if used == first.credentials().token_id else second, reason="x", by="t")
    list_media(workspace)
    assert fake_api.requests[-1].authenticated_token_id != used


# --- the cache store ---


@pytest.fixture
def cache_store(settings: Any) -> None:
    settings.FASTPIX = {**settings.FASTPIX, "LIMITS_STORE": "cache", "LIMITS_CACHE": "default"}


def test_the_cache_store_pauses_and_opens_the_circuit(cache_store, limited, fake_token, workspace):
    fake_token()
    limited.inject("GET /on-demand", status=429, retry_after=60, times=1)
    with pytest.raises(RateLimitedError):
        list_media(workspace)
    with pytest.raises(WorkspaceLimitedError):
        list_media(workspace)
    limits.clear(workspace, by="test")
    limited.inject("GET /on-demand", status=503)
    fail_calls(workspace, 3)
    with pytest.raises(WorkspaceLimitedError):
        list_media(workspace)
    assert not WorkspaceLimits.objects.exists()  # nothing in the database
    time.sleep(0.35)
    store = limits.store()
    assert store.claim_probe(workspace.pk, timezone.now())
    assert not store.claim_probe(workspace.pk, timezone.now())


def test_a_per_process_cache_is_warned_about(cache_store, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ids = [m.id for m in checks.run_checks() if m.id and m.id.startswith("fastpix.")]
    assert "fastpix.W006" in ids


def test_an_unknown_store_is_an_error(settings):
    settings.FASTPIX = {**settings.FASTPIX, "LIMITS_STORE": "redis"}
    ids = [m.id for m in checks.run_checks() if m.id and m.id.startswith("fastpix.")]
    assert "fastpix.E012" in ids


# --- operators ---


def test_doctor_and_admin_show_the_state_and_the_action_clears_it(
    limited, fake_token, workspace, admin_client
):
    fake_token()
    assert limits_findings(workspace, "w") == []
    limited.inject("GET /on-demand", status=503)
    fail_calls(workspace, 3)
    (finding,) = limits_findings(workspace, "w")
    assert finding.level == "WARN" and "circuit open since" in finding.message
    limits.store().pause(workspace.pk, timezone.now() + timedelta(seconds=60), "HTTP 429 x")
    (finding,) = limits_findings(workspace, "w")
    assert "paused until" in finding.message and "circuit open" in finding.message

    changelist = reverse("admin:django_fastpix_workspace_changelist")
    page = admin_client.get(changelist)
    assert "paused until" in page.content.decode()
    change = admin_client.get(reverse("admin:django_fastpix_workspace_change", args=[workspace.pk]))
    assert "paused until" in change.content.decode()
    done = admin_client.post(
        changelist,
        {"action": "clear_call_limits", "_selected_action": [workspace.pk]},
        follow=True,
    )
    assert "pause cleared and circuit closed" in done.content.decode()
    assert limits.read(workspace) == limits.EMPTY
    limited.clear_faults()
    list_media(workspace)


def test_the_refusal_is_transient_for_media_creation(limited, fake_token, workspace):
    """attempt_creation reschedules a refused creation like a 429 (with its retry_after)."""
    from django_fastpix.models import Media
    from django_fastpix.services.media import attempt_creation

    fake_token()
    limits.store().pause(workspace.pk, timezone.now() + timedelta(seconds=60), "HTTP 429 x")
    media = Media.objects.create(workspace=workspace, source_url="https://cdn.example.com/a.mp4")
    attempt_creation(media.pk)
    media.refresh_from_db()
    assert media.status == "pending" and "WorkspaceLimitedError" in media.error
    assert media.next_attempt_at is not None
    assert media.next_attempt_at - timezone.now() >= timedelta(seconds=55)
    assert limited.requests_for("POST /on-demand") == []
    # No request went out: a long pause cannot use up CREATION_MAX_ATTEMPTS.
    for _ in range(3):
        attempt_creation(media.pk)
    media.refresh_from_db()
    assert media.creation_attempts == 0 and media.status == "pending"


def test_not_found_is_an_answer(limited, fake_token, workspace):
    fake_token()
    with pytest.raises(NotFoundError):
        api.call(workspace, FastPixClient.get_media, "nope")
    assert limits.read(workspace) == limits.EMPTY
