"""Webhook retries on a configurable schedule, compressed by a time scale for tests."""

from __future__ import annotations

import base64
import itertools

import pytest

from django_fastpix.testing import FakeFastPix

from .conftest import Api, Receiver

SECRET = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def test_schedule_is_followed_at_the_time_scale(
    api: Api, fastpix_fake: FakeFastPix, receiver: Receiver
) -> None:
    fastpix_fake.auto_advance = False
    fastpix_fake.webhook_retry_schedule = (100, 200, 400, 800)
    fastpix_fake.webhook_time_scale = 0.001  # 0.1 s, 0.2 s, 0.4 s, 0.8 s
    fastpix_fake.set_webhook("ws-default", receiver.url, SECRET)
    receiver.statuses = [500, 502, 503]  # the first three deliveries fail, the fourth succeeds
    api.create_media()
    assert fastpix_fake.wait_for_webhooks(timeout=10)
    [delivery] = fastpix_fake.webhook_deliveries
    assert [a.status_code for a in delivery.attempts] == [500, 502, 503, 200]
    assert delivery.delivered and delivery.done and delivery.next_attempt_at is None
    measured = gaps([a.at for a in delivery.attempts])
    for got, want in zip(measured, (0.1, 0.2, 0.4), strict=True):
        assert want - 0.005 <= got <= want + 0.15, measured
    assert len({body for _, body in receiver.received}) == 1  # the same signed bytes


def test_gives_up_after_the_last_scheduled_retry(
    api: Api, fastpix_fake: FakeFastPix, receiver: Receiver
) -> None:
    fastpix_fake.auto_advance = False
    # FastPix-like: about a day of retries, replayed 50 000 times faster (1.7 s in all).
    fastpix_fake.webhook_retry_schedule = FakeFastPix.FASTPIX_WEBHOOK_RETRIES
    fastpix_fake.webhook_time_scale = 0.00002
    assert fastpix_fake.webhook_max_attempts == 11
    fastpix_fake.set_webhook("ws-default", receiver.url, SECRET)
    receiver.statuses = [500] * 20
    api.create_media()
    assert fastpix_fake.wait_for_webhooks(timeout=15)
    [delivery] = fastpix_fake.webhook_deliveries
    assert [a.status_code for a in delivery.attempts] == [500] * 11
    assert delivery.done and not delivery.delivered
    measured = gaps([a.at for a in delivery.attempts])
    span = delivery.attempts[-1].at - delivery.attempts[0].at
    assert sum(FakeFastPix.FASTPIX_WEBHOOK_RETRIES) * 0.00002 <= span + 0.01 < 4.0
    assert measured[-1] > 10 * measured[0]  # the schedule grows, it is not a flat retry loop


def test_a_waiting_retry_does_not_hold_back_other_deliveries(
    api: Api, fastpix_fake: FakeFastPix, receiver: Receiver
) -> None:
    fastpix_fake.auto_advance = False
    fastpix_fake.webhook_retry_schedule = (3600,)  # one retry, an hour later
    fastpix_fake.set_webhook("ws-default", receiver.url, SECRET)
    receiver.statuses = [500]
    first = api.create_media()["id"]
    second = api.create_media()["id"]
    assert not fastpix_fake.wait_for_webhooks(timeout=0.5)  # the retry is still pending
    failed, delivered = fastpix_fake.webhook_deliveries
    assert failed.event["object"]["id"] == first and not failed.done
    assert failed.next_attempt_at is not None
    assert 3590 < failed.next_attempt_at - failed.attempts[0].at <= 3600.5
    assert delivered.event["object"]["id"] == second and delivered.delivered
    fastpix_fake.reset()  # drops the pending retry
    assert fastpix_fake.wait_for_webhooks(timeout=1)


def test_no_retries_and_the_quick_default(fastpix_fake: FakeFastPix) -> None:
    assert fastpix_fake.webhook_retry_schedule == (0.05, 0.1, 0.2)  # in-process default
    assert fastpix_fake.webhook_time_scale == 1.0
    fastpix_fake.webhook_retry_schedule = ()
    assert fastpix_fake.webhook_max_attempts == 1
    fastpix_fake.webhook_max_attempts = 3  # the older knobs still give a doubling schedule
    fastpix_fake.webhook_retry_backoff = 0.5
    assert fastpix_fake.webhook_retry_schedule == (0.5, 1.0)
    with pytest.raises(ValueError, match="time scale"):
        fastpix_fake.webhook_time_scale = 0
    with pytest.raises(ValueError, match=">= 0"):
        fastpix_fake.webhook_retry_schedule = (5, -1)
    fake = FakeFastPix(webhook_retries=(5, 30), webhook_time_scale=0.01)
    assert fake.webhook_retry_schedule == (5, 30) and fake.webhook_time_scale == 0.01
    fake.reset()  # reset restores the constructor's choice
    assert fake.webhook_retry_schedule == (5, 30) and fake.webhook_time_scale == 0.01
