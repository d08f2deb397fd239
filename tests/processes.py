"""Helpers for tests that drive other processes or wait on other threads: one copy of each."""

from __future__ import annotations

import contextlib
import os
import signal
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
    return _spawn(command, env, stderr)


def start_rq_worker(
    name: str,
    env: dict[str, str],
    *,
    queue: str = "default",
    stderr: int | IO[bytes] = subprocess.PIPE,
    worker_class: str | None = None,
) -> subprocess.Popen[bytes]:
    """One real RQ worker (django-rq's ``rqworker``) with RQ's scheduler, which runs deferred
    jobs (``run_after``). The Redis database is the one ``env["REDIS_URL"]`` names.

    RQ's default worker forks a work horse per job; ``worker_class="rq.SimpleWorker"`` runs
    jobs in the worker itself. The worker, its horses and the scheduler process share one
    process group, so ``kill_hard`` takes them all down, as a crashed machine would.
    """
    command = [sys.executable, "-m", "django", "rqworker", queue, "--with-scheduler"]
    if worker_class:
        command += ["--worker-class", worker_class]
    # django-tasks-rq's job class: RQ's own cannot call a Task object.
    command += ["--job-class", "django_tasks_rq.Job", "--name", name, "--verbosity", "0"]
    return _spawn(command, env, stderr)


def _spawn(
    command: list[str], env: dict[str, str], stderr: int | IO[bytes]
) -> subprocess.Popen[bytes]:
    # A session (and process group) of its own: signals reach the worker's children too.
    return subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        start_new_session=True,
    )


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    # Only while the leader is unreaped: its pid (the group id) cannot have been reused.
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, signum)
            else:
                # Not started in a session of its own (e.g. the example site of the browser
                # tests): signal the process itself, or a kill would silently reach nothing
                # and the wait after it would never return.
                proc.send_signal(signum)


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a worker started here and every process it forked (no cleanup, no goodbye)."""
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate (SIGTERM to each worker's group), then kill what still runs after 15 s."""
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            kill_hard(proc)
