"""The fake as a lab from the shell: faults, webhook retry schedule and request counts.

Each test runs `python -m django_fastpix.testing` in a real subprocess and talks to it over HTTP.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import requests

from .conftest import Receiver

AUTH = ("tok-lab-0001", "secret")


@contextmanager
def fake_cli(*args: str) -> Iterator[tuple[str, list[str], subprocess.Popen[str]]]:
    """Start the CLI; yield its base URL, the banner lines and the process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "django_fastpix.testing", "--token", ":".join(AUTH), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("FastPix fake listening on "), first + proc.stderr.read()  # type: ignore[union-attr]
        banner = [first]
        while not banner[-1].startswith("webhook retries:"):
            banner.append(proc.stdout.readline())
        yield first.strip().rsplit(" ", 1)[-1], banner, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert proc.stdout is not None
    return proc.stdout.read()


def test_faults_from_the_command_line() -> None:
    with fake_cli(
        "--fault", "POST /on-demand:status=503,rate=0.5,seed=7",
        "--fault", "GET /on-demand:status=429,retry_after=30,times=1",
        "--fault", "DELETE /on-demand/{mediaId}:reset",
        "--fault", "GET /live/*:hang",
        "--fault", "GET /on-demand/{mediaId}:latency=300ms",
    ) as (base, banner, proc):  # fmt: skip
        assert "fault POST /on-demand: status=503 rate=0.5 seed=7\n" in banner
        session = requests.Session()
        session.auth = AUTH

        limited = session.get(base + "/on-demand", timeout=5)
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "30"
        assert limited.json()["success"] is False
        assert session.get(base + "/on-demand", timeout=5).status_code == 200  # times=1

        body = {"inputs": [{"type": "video", "url": "https://e/v.mp4"}], "accessPolicy": "public"}
        statuses = [session.post(base + "/on-demand", json=body, timeout=5).status_code
                    for _ in range(40)]  # fmt: skip
        assert set(statuses) == {201, 503}
        assert 8 <= statuses.count(503) <= 32  # rate=0.5 of 40
        media_id = next(m["id"] for m in session.get(base + "/on-demand", timeout=5).json()["data"])

        started = time.monotonic()
        assert session.get(f"{base}/on-demand/{media_id}", timeout=5).ok
        assert time.monotonic() - started >= 0.3

        try:
            session.delete(f"{base}/on-demand/{media_id}", timeout=5)
            raise AssertionError("expected a connection reset")
        except requests.ConnectionError:
            pass

        started = time.monotonic()
        try:
            requests.get(base + "/live/streams", auth=AUTH, timeout=0.5)
            raise AssertionError("expected the request to hang")
        except requests.Timeout:
            assert time.monotonic() - started >= 0.5

        out = stop(proc)
    assert "requests: 46" in out  # every one carried the token
    assert re.search(r"token …001: 46 \(POST /on-demand 40, GET /on-demand 3,", out), out
    faulted = re.search(r"faulted POST /on-demand: (\d+)", out)
    assert faulted is not None and int(faulted.group(1)) == statuses.count(503)
    assert "faulted GET /live/streams: 1" in out


def test_the_same_seed_gives_the_same_faults_in_another_process() -> None:
    runs = []
    for _ in range(2):
        with fake_cli("--fault", "GET /on-demand:503,rate=0.3,seed=42") as (base, _b, proc):
            runs.append(
                [requests.get(base + "/on-demand", auth=AUTH, timeout=5).status_code
                 for _ in range(30)]
            )  # fmt: skip
            stop(proc)
    assert runs[0] == runs[1] and 503 in runs[0] and 200 in runs[0]


def test_bad_fault_spec_exits_non_zero_naming_the_bad_part() -> None:
    for spec, named in [
        ("POST /on-demand:status=503,rat=0.2", "unknown option 'rat'"),
        ("POST /on-demand:status=503,rate=2", "between 0 and 1"),
        ("POST /on-demand", "expected ROUTE:OPTIONS"),
        ("PUSH /on-demand:503", "unknown method 'PUSH'"),
    ]:
        done = subprocess.run(
            [sys.executable, "-m", "django_fastpix.testing", "--fault", spec],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 2, done
        assert "argument --fault" in done.stderr and named in done.stderr, done.stderr
        assert repr(spec) in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "django_fastpix.testing", "--webhook-retries", "5,later"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and "retry 2 'later' is not a duration" in done.stderr


def test_webhook_schedule_compressed_from_the_command_line(receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 502]  # the first three deliveries fail
    with fake_cli(
        "--webhook-url", f"ws-default={receiver.url}",
        "--webhook-retries", "100,200,400,800",
        "--time-scale", "0.001",
        "--processing-seconds", "60",
    ) as (base, banner, proc):  # fmt: skip
        assert banner[-1] == (
            "webhook retries: 100s, 200s, 400s, 800s (5 attempts over 1500 s), "
            "time scale 0.001 (real span 1.5 s)\n"
        )
        body = {"inputs": [{"type": "video", "url": "https://e/v.mp4"}], "accessPolicy": "public"}
        assert requests.post(base + "/on-demand", json=body, auth=AUTH, timeout=5).ok
        deadline = time.monotonic() + 10
        while len(receiver.received) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        stop(proc)
    assert len(receiver.received) == 4, receiver.received
    assert len({b for _, b in receiver.received}) == 1  # one event, retried


def test_default_schedule_is_announced() -> None:
    with fake_cli() as (_base, banner, proc):
        assert banner[-1] == (
            "webhook retries: 5s, 30s, 2m, 10m, 30m, 1h, 2h, 4h, 8h, 8h (11 attempts over 23.7 h)\n"
        )
        out = stop(proc)
    assert out.startswith("requests: 0")


def test_seeded_media_from_the_command_line() -> None:
    """``--seed-media``: ready media to sync against (as benchmarks/sync_media.py uses it)."""
    with fake_cli("--seed-media", "120", "--seed-media", "3:ws-other") as (base, banner, proc):
        assert proc.stdout is not None
        banner += [proc.stdout.readline(), proc.stdout.readline()]
        assert "media in ws-default: 120\n" in banner and "media in ws-other: 3\n" in banner
        page = requests.get(
            f"{base}/on-demand", params={"limit": 50, "offset": 3}, auth=AUTH, timeout=5
        ).json()
        assert page["pagination"]["totalRecords"] == 120
        assert len(page["data"]) == 20
        assert {m["status"] for m in page["data"]} == {"Ready"}
        assert all(len(m["playbackIds"]) == 1 for m in page["data"])
    refused = subprocess.run(
        [sys.executable, "-m", "django_fastpix.testing", "--seed-media", "many"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert refused.returncode == 2
    assert "expected COUNT[:WORKSPACE]" in refused.stderr
