"""A 429 seen by one process pauses another; a circuit opened by one refuses calls in another.

Each "other process" is a real ``python -m django shell`` on this test's database and fake.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from django_fastpix.client import FastPixClient
from django_fastpix.exceptions import WorkspaceLimitedError
from django_fastpix.services import api, limits
from tests.conftest import subprocess_env

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]

CALL = """
from django_fastpix.client import FastPixClient
from django_fastpix.exceptions import FastPixError
from django_fastpix.models import Workspace
from django_fastpix.services import api
workspace = Workspace.objects.get(slug={slug!r})
for _ in range({calls}):
    try:
        api.call(workspace, FastPixClient.list_media)
        print("OK")
    except FastPixError as exc:
        print("ERROR", type(exc).__name__, getattr(exc, "retry_after", None))
"""


def other_process(fake_api: Any, slug: str, calls: int = 1, **env: str) -> list[str]:
    """Run ``calls`` list calls in a separate Django process; one line per call."""
    done = subprocess.run(
        [sys.executable, "-m", "django", "shell", "-c", CALL.format(slug=slug, calls=calls)],
        env=subprocess_env(FASTPIX_API_BASE_URL=fake_api.base_url, **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [line for line in done.stdout.splitlines() if line.startswith(("OK", "ERROR"))]


def test_a_429_in_another_process_pauses_this_one(fake_api, fake_token, workspace):
    fake_token()
    api.call(workspace, FastPixClient.list_media)  # healthy; the route is cached here
    fake_api.inject("GET /on-demand", status=429, retry_after=30, times=1)
    # The other process does not wait 30 s (its cap is 1 s): it gets the 429 and records it.
    assert other_process(fake_api, workspace.slug, FASTPIX_RETRY_AFTER_MAX="1") == [
        "ERROR RateLimitedError 30.0"
    ]
    before = len(fake_api.requests)
    with pytest.raises(WorkspaceLimitedError) as refused:
        api.call(workspace, FastPixClient.list_media)
    assert len(fake_api.requests) == before  # no request from this process
    assert 25 < refused.value.retry_after <= 30


def test_a_circuit_opened_in_this_process_refuses_calls_in_another(
    fake_api, fake_token, workspace, settings
):
    settings.FASTPIX = {**settings.FASTPIX, "MAX_RETRIES": 0, "CIRCUIT_COOLDOWN_SECONDS": 60}
    fake_token()
    fake_api.inject("GET /on-demand", status=503)
    for _ in range(5):  # the default threshold
        with pytest.raises(Exception):  # noqa: B017 (ServerError)
            api.call(workspace, FastPixClient.list_media)
    assert limits.read(workspace).circuit_opened_at is not None
    before = len(fake_api.requests)
    lines = other_process(fake_api, workspace.slug, calls=2)
    assert [line.split()[:2] for line in lines] == [["ERROR", "WorkspaceLimitedError"]] * 2
    assert len(fake_api.requests) == before
