"""Helpers for tests that drive other processes or wait on other threads: one copy of each."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds passed (one last look at the end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def start_db_worker(
    worker_id: str,
    env: dict[str, str],
    *,
    backend: str = "queue",
    interval: float = 0.1,
    stderr: int | IO[bytes] = subprocess.PIPE,
) -> subprocess.Popen[bytes]:
    """One real ``db_worker`` process (django-tasks-db) on ``backend``."""
    command = [sys.executable, "-m", "django", "db_worker", "--backend", backend]
    command += ["--interval", str(interval), "--no-startup-delay", "--no-reload"]
    command += ["--worker-id", worker_id]
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate, then kill what is still running after 15 s."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
