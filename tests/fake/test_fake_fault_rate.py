"""Probabilistic faults (`rate`, `seed`) and a write answered after the client gave up."""

from __future__ import annotations

import time

import pytest
import requests

from django_fastpix.testing import FakeFastPix

from .conftest import Api

MEDIA = {"inputs": [{"type": "video", "url": "https://e/v.mp4"}], "accessPolicy": "public"}


def faulted_pattern(api: Api, n: int) -> list[bool]:
    return [api.get("/on-demand").status_code == 503 for _ in range(n)]


def test_rate_faults_about_that_share_and_a_seed_repeats_the_pattern(
    api: Api, fastpix_fake: FakeFastPix
) -> None:
    fault = fastpix_fake.inject("GET /on-demand", status=503, rate=0.25, seed=42)
    first = faulted_pattern(api, 400)
    assert fault.seen == 400 and fault.applied == sum(first)
    assert 60 <= sum(first) <= 140  # 100 expected; far outside this is not 25 %
    fastpix_fake.clear_faults()
    fastpix_fake.inject("GET /on-demand", status=503, rate=0.25, seed=42)
    assert faulted_pattern(api, 400) == first
    fastpix_fake.clear_faults()
    fastpix_fake.inject("GET /on-demand", status=503, rate=0.25, seed=43)
    assert faulted_pattern(api, 400) != first


def test_rate_zero_and_one(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.inject("GET /on-demand", status=500, rate=0.0)
    assert not any(faulted_pattern(api, 50))
    fastpix_fake.clear_faults()
    fastpix_fake.inject("GET /on-demand", status=503, rate=1.0)
    assert all(faulted_pattern(api, 50))


def test_rate_with_times_caps_the_faults(api: Api, fastpix_fake: FakeFastPix) -> None:
    fault = fastpix_fake.inject("GET /on-demand", status=503, rate=1.0, times=3)
    assert faulted_pattern(api, 6) == [True, True, True, False, False, False]
    assert fault.exhausted()


def test_first_firing_fault_wins_and_other_routes_are_untouched(
    api: Api, fastpix_fake: FakeFastPix
) -> None:
    fastpix_fake.inject("POST /on-demand", status=503, rate=1.0, seed=1)
    fastpix_fake.inject("POST /on-demand", status=429, retry_after=0, rate=1.0, seed=2)
    assert api.post("/on-demand", json=MEDIA).status_code == 503
    assert api.get("/on-demand").status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"status": 503, "rate": 1.5}, "between 0 and 1"),
        ({"status": 503, "rate": -0.1}, "between 0 and 1"),
        ({"status": 503, "rate": 0.5, "nth": 2}, "nth and rate"),
        ({"rate": 0.5}, "needs status"),
    ],
)
def test_rate_is_validated(fastpix_fake: FakeFastPix, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fastpix_fake.inject("GET /on-demand", **kwargs)


def test_create_answered_after_the_read_timeout_still_creates_the_media(
    api: Api, fastpix_fake: FakeFastPix
) -> None:
    # FastPix did the work; only the answer came too late for the client.
    fastpix_fake.inject("POST /on-demand", latency=0.6, rate=1.0, times=1)
    headers = {"Idempotency-Key": "ref-late"}
    with pytest.raises(requests.Timeout):
        api.post("/on-demand", json=MEDIA, headers=headers, timeout=0.2)
    deadline = time.monotonic() + 5
    while not fastpix_fake.media() and time.monotonic() < deadline:
        time.sleep(0.02)
    (created,) = fastpix_fake.media()
    # The client's retry with the same key gets the first answer, not a second media.
    again = api.post("/on-demand", json=MEDIA, headers=headers)
    assert again.status_code == 201 and again.json()["data"]["id"] == created["id"]
    assert len(fastpix_fake.media()) == 1
    late, replay = fastpix_fake.requests_for("POST /on-demand")
    assert late.fault == "latency" and late.status == 201
    assert replay.replayed


def test_a_retry_sent_while_the_late_create_still_sleeps_is_not_a_duplicate(
    api: Api, fastpix_fake: FakeFastPix
) -> None:
    fastpix_fake.inject("POST /on-demand", latency=0.6, times=1)
    headers = {"Idempotency-Key": "ref-race"}
    with pytest.raises(requests.Timeout):
        api.post("/on-demand", json=MEDIA, headers=headers, timeout=0.2)
    # Sent before the first request has woken up: this one creates, the late one replays.
    retry = api.post("/on-demand", json=MEDIA, headers=headers)
    assert retry.status_code == 201
    deadline = time.monotonic() + 5
    while len(fastpix_fake.requests_for("POST /on-demand")) < 2 or any(
        r.status is None for r in fastpix_fake.requests_for("POST /on-demand")
    ):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert [m["id"] for m in fastpix_fake.media()] == [retry.json()["data"]["id"]]
    late = fastpix_fake.requests_for("POST /on-demand")[0]
    assert late.replayed and late.status == 201


def test_retry_after_zero_is_sent_as_zero(api: Api, fastpix_fake: FakeFastPix) -> None:
    fastpix_fake.inject("POST /on-demand", status=429, retry_after=0, times=1)
    response = api.post("/on-demand", json=MEDIA)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "0"
