"""`python -m django_fastpix.testing` serves the fake from the shell."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
import requests

from django_fastpix.testing.__main__ import build_parser


def test_token_syntax() -> None:
    args = build_parser().parse_args(
        ["--token", "a:s1", "--token", "b:s2:read", "--token", "c:s3:read_write:ws-b"]
    )
    assert args.token == [
        ("a", "s1", "read_write", "ws-default"),
        ("b", "s2", "read", "ws-default"),
        ("c", "s3", "read_write", "ws-b"),
    ]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--token", "only-id"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--token", "a:b:admin"])


def test_cli_serves_until_terminated() -> None:
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "django_fastpix.testing", "--port", "0",
            "--token", "tid:secret", "--token", "ro:ro-secret:read:ws-other",
            "--webhook-url", "ws-default=http://127.0.0.1:9/hook",
            "--webhook-secret", "ws-default=c2VjcmV0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base_url = line.strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        assert requests.get(base_url + "/on-demand", auth=("tid", "secret"), timeout=5).ok
        reader = requests.post(
            base_url + "/on-demand", json={}, auth=("ro", "ro-secret"), timeout=5
        )
        assert reader.status_code == 403
        assert (
            requests.get(base_url + "/on-demand", auth=("tid", "x"), timeout=5).status_code == 401
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        if proc.stdout is not None:
            proc.stdout.close()
