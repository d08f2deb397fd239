"""Fixtures for tests that run real queue workers: a Redis database of the test's own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# Redis databases 1-15 are handed out to tests; 0 holds only the claims (keys below).
CLAIM_KEY = "django-fastpix-tests:redis-db:{}"
CLAIM_SECONDS = 1800


def _server_url() -> str:
    base, _, tail = REDIS_URL.rpartition("/")
    return base if tail.isdigit() else REDIS_URL.rstrip("/")


@pytest.fixture
def redis_url(settings) -> Iterator[str]:
    """A Redis database (1-15) no other test run uses meanwhile, empty, as RQ_QUEUES' URL.

    Parallel runs (tox -p, two checkouts on one machine) each claim their own, so no worker
    ever takes a job that another run queued. Fails, never skips, if Redis is unreachable:
    a run that silently left RQ out would pass for the wrong reason.
    """
    import redis

    server = _server_url()
    claims = redis.Redis.from_url(f"{server}/0", socket_connect_timeout=2)
    try:
        claims.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is unreachable at {server} ({exc}). Start it (redis-server), set "
            'REDIS_URL, or deselect these tests with -m "not rq".',
            pytrace=False,
        )
    owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    number = next(
        (
            n
            for n in range(1, 16)
            if claims.set(CLAIM_KEY.format(n), owner, nx=True, ex=CLAIM_SECONDS)
        ),
        None,
    )
    if number is None:
        pytest.fail("All 15 Redis databases are claimed by other test runs", pytrace=False)
    url = f"{server}/{number}"
    db = redis.Redis.from_url(url)
    db.flushdb()
    settings.RQ_QUEUES = {"default": {"URL": url}}
    try:
        yield url
    finally:
        db.flushdb()
        if claims.get(CLAIM_KEY.format(number)) == owner.encode():
            claims.delete(CLAIM_KEY.format(number))
        db.close()
        claims.close()
