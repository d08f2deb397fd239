"""Helpers for the management command tests: in-process runs and real `manage.py` processes."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.conftest import SECRET, subprocess_env

ROOT = Path(__file__).parents[2]


def run(command: str, *args: str) -> str:
    """Run a command in-process; returns stdout and stderr together."""
    out, err = io.StringIO(), io.StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def run_capturing(command: str, *args: str) -> tuple[str, Exception | None]:
    """Run a command in-process; returns its output and the error it raised, if any."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=err)
    except Exception as exc:
        return out.getvalue() + err.getvalue(), exc
    return out.getvalue() + err.getvalue(), None


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def child_env() -> dict[str, str]:
    """Environment for a `python -m django` child on the test database (transactional tests)."""
    return subprocess_env()


@pytest.fixture
def manage(child_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m django ARGS` in a real process; returns the completed process."""

    def run_process(
        *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "django", *args],
            env={**child_env, **(env or {})},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run_process
