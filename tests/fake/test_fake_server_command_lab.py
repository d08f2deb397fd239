"""`manage.py fastpix_fake_server` takes the lab options of `python -m django_fastpix.testing`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
COMMAND = [sys.executable, "-m", "django", "fastpix_fake_server", "--token", "tok-cmd-0009:s"]


def test_command_applies_faults_and_schedule_and_prints_counts_as_json() -> None:
    proc = subprocess.Popen(
        [
            *COMMAND, "--json",
            "--fault", "GET /on-demand:status=429,retry_after=7,times=1",
            "--webhook-retries", "1,2m", "--time-scale", "0.5",
        ],
        env=ENV, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        summary = json.loads(proc.stdout.readline())
        assert summary["faults"] == [
            {"route": "GET /on-demand", "status": 429, "retry_after": 7.0, "times": 1}
        ]
        assert summary["webhook_retries"] == [1.0, 120.0] and summary["time_scale"] == 0.5
        url = summary["base_url"] + "/on-demand"
        first = requests.get(url, auth=("tok-cmd-0009", "s"), timeout=5)
        assert first.status_code == 429 and first.headers["Retry-After"] == "7"
        assert requests.get(url, auth=("tok-cmd-0009", "s"), timeout=5).ok
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        counts = json.loads(proc.stdout.readline())["request_counts"]
        assert counts["by_token"] == {"…009": 2}
        assert counts["faulted_by_route"] == {"GET /on-demand": 1}
        assert "s" not in counts["by_token"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_command_rejects_a_bad_fault_naming_the_problem() -> None:
    done = subprocess.run(
        [*COMMAND, "--fault", "GET /on-demand:status=503,rate=3"],
        env=ENV, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "argument --fault" in done.stderr and "between 0 and 1" in done.stderr
