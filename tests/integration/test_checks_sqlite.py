"""fastpix.W002: SQLite must take its write lock at BEGIN, and wait for it, once tasks run in
worker processes; otherwise a webhook holding the lock makes a task die on "database is locked".

Each case is a real `manage.py check` in its own process, with a settings module written for
it: DATABASES and TASKS are read the way Django reads them, unset TASKS included.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SQLITE = "django.db.backends.sqlite3"
WORKER_BACKEND = "{'BACKEND': 'django_tasks_db.DatabaseBackend', 'QUEUES': ['default']}"


def run_check(
    tmp_path: Path, settings_body: str, *args: str, command: str = "check"
) -> subprocess.CompletedProcess[str]:
    """`python -m django COMMAND ARGS` under tests.settings plus ``settings_body``.

    The database is a fresh, unmigrated SQLite file unless the body replaces DATABASES.
    """
    module = tmp_path / "check_settings.py"
    module.write_text(f"from tests.settings import *  # noqa: F403\n\n{settings_body}\n")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "check_settings",
        "PYTHONPATH": f"{tmp_path}:{ROOT}",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    return subprocess.run(
        [sys.executable, "-m", "django", command, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def sqlite(name: str, options: str = "") -> str:
    option_line = f", 'OPTIONS': {options}" if options else ""
    return f"{{'ENGINE': '{SQLITE}', 'NAME': {name!r}{option_line}}}"


def warned_aliases(output: str) -> set[str]:
    """The aliases W002 names (one message line each)."""
    return {
        line.split("DATABASES['", 1)[1].split("']", 1)[0]
        for line in output.splitlines()
        if "fastpix.W002" in line
    }


def test_sqlite_aliases_without_write_lock_warn_with_a_worker_backend(tmp_path):
    db = str(tmp_path / "db.sqlite3")
    databases = {
        "default": sqlite(db, "{'transaction_mode': 'IMMEDIATE', 'timeout': 20}"),
        "bare": sqlite(str(tmp_path / "bare.sqlite3")),
        "timeout_only": sqlite(str(tmp_path / "t.sqlite3"), "{'timeout': 30}"),
        "mode_only": sqlite(str(tmp_path / "m.sqlite3"), "{'transaction_mode': 'IMMEDIATE'}"),
        "deferred": sqlite(
            str(tmp_path / "d.sqlite3"), "{'transaction_mode': 'DEFERRED', 'timeout': 5}"
        ),
        # Django upper-cases the mode itself; EXCLUSIVE also locks at BEGIN.
        "lower": sqlite(
            str(tmp_path / "l.sqlite3"), "{'transaction_mode': 'immediate', 'timeout': 5}"
        ),
        "exclusive": sqlite(
            str(tmp_path / "e.sqlite3"), "{'transaction_mode': 'EXCLUSIVE', 'timeout': 5}"
        ),
        "pg": "{'ENGINE': 'django.db.backends.postgresql', 'NAME': 'never_connected'}",
    }
    body = (
        "DATABASES = {" + ", ".join(f"{k!r}: {v}" for k, v in databases.items()) + "}\n"
        f"TASKS = {{**TASKS, 'workers': {WORKER_BACKEND}}}\n"
        "FASTPIX = {**FASTPIX, 'TASK_BACKEND': 'workers'}\n"
    )
    result = run_check(tmp_path, body, "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output  # a warning, which --fail-level WARNING fails on
    assert "Traceback" not in output
    assert warned_aliases(output) == {"bare", "timeout_only", "mode_only", "deferred"}
    assert "django_tasks_db.DatabaseBackend" in output and "database is locked" in output
    # The hint is the exact OPTIONS to set; a timeout already there is kept.
    hints = [line for line in output.splitlines() if "HINT" in line]
    assert any(
        "DATABASES['bare']['OPTIONS']" in h
        and "{'transaction_mode': 'IMMEDIATE', 'timeout': 20}" in h
        for h in hints
    ), output
    assert any(
        "DATABASES['timeout_only']['OPTIONS']" in h
        and "{'transaction_mode': 'IMMEDIATE', 'timeout': 30}" in h
        for h in hints
    ), output


@pytest.mark.parametrize(
    "tasks",
    [
        # Unset: Django 6.x and the 5.2 backport both default to one immediate backend.
        "del TASKS",
        "TASKS = {'default': {'BACKEND': IMMEDIATE_BACKEND}}",
    ],
    ids=["tasks-unset", "immediate"],
)
def test_immediate_backend_needs_no_write_lock_but_a_worker_does(tmp_path, tasks):
    bare = f"DATABASES = {{'default': {sqlite(str(tmp_path / 'db.sqlite3'))}}}\n"
    result = run_check(tmp_path, bare + tasks, "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "fastpix.W002" not in output

    # The same database once FASTPIX's backend runs jobs in other processes.
    workers = f"TASKS = {{'default': {WORKER_BACKEND}}}\n"
    result = run_check(tmp_path, bare + workers, "--fail-level", "WARNING")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert warned_aliases(output) == {"default"}
