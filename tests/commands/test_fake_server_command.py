"""fastpix_fake_server: the bundled fake FastPix in the foreground, as a developer runs it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests
from django.core.management.base import CommandError

from django_fastpix.scopes import Scope
from django_fastpix.services.webhooks import signature
from tests.commands.conftest import ROOT, assert_no_secret, run
from tests.conftest import SECRET

WEBHOOK_SECRET = "d2ViaG9vay1zZWNyZXQtZm9yLWZha2Utc2VydmVyLXRlc3Q="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(*args: str, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "django", "fastpix_fake_server", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def stop(proc: subprocess.Popen[str], signum: int) -> tuple[str, str]:
    proc.send_signal(signum)
    assert proc.wait(timeout=10) == 0
    assert proc.stdout is not None and proc.stderr is not None
    return proc.stdout.read(), proc.stderr.read()


def test_serves_tokens_and_stops_cleanly_on_sigterm() -> None:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    with server("--port", str(port), "--token", f"tid_cli_0000_7f3a:{SECRET}", env=env) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        base_url = f"http://127.0.0.1:{port}/v1"
        assert first.strip() == f"FastPix fake listening on {base_url}"
        lines = [proc.stdout.readline() for _ in range(2)]
        origin = f"http://127.0.0.1:{port}"
        hosts = {
            "API_BASE_URL": base_url,
            "STREAM_BASE_URL": f"{origin}/stream",
            "IMAGE_BASE_URL": f"{origin}/images",
        }
        assert json.dumps(hosts) in lines[1]
        ok = requests.get(f"{base_url}/on-demand", auth=("tid_cli_0000_7f3a", SECRET), timeout=5)
        assert ok.status_code == 200
        assert requests.get(f"{base_url}/on-demand", timeout=5).status_code == 401
        out, err = stop(proc, signal.SIGTERM)
    text = first + "".join(lines) + out + err
    assert "…7f3a (read_write) in ws-default" in text and "stopped" in out
    assert_no_secret(text)
    assert "tid_cli_0000_7f3a" not in text  # hints only


@contextmanager
def hook_receiver() -> Iterator[tuple[str, list[tuple[bytes, str]]]]:
    """A local webhook endpoint recording (body, FastPix-Signature) of each delivery."""
    received: list[tuple[bytes, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append((body, self.headers.get("FastPix-Signature", "")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", received
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.django_db(transaction=True)
def test_from_db_registers_the_sites_tokens_without_printing_them(child_env, make_token, workspace):
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    token = make_token(name="prod main")
    reader = make_token(name="prod reader", scope=Scope.READ)
    signer = make_token(name="prod signer", scope=Scope.NONE, system=Scope.READ_WRITE)
    token_id = token.credentials().token_id
    with (
        hook_receiver() as (hook_url, received),
        server("--from-db", "--json", "--webhook-url", f"prod={hook_url}", env=child_env) as proc,
    ):
        assert proc.stdout is not None
        first = proc.stdout.readline()
        summary = json.loads(first)
        base_url = summary["base_url"]
        labels = [t["token"] for t in summary["tokens"]]
        assert labels == [
            f"#{token.pk} {token}",
            f"#{reader.pk} {reader}",
            f"#{signer.pk} {signer}",
        ]
        assert [t["scope"] for t in summary["tokens"]] == [
            "read_write",
            "read",
            "video=none,system=read_write,data=none",
        ]
        # Each area as recorded: the signer may list signing keys, the video token may not.
        keys = f"{base_url}/iam/signing-keys"
        assert requests.get(keys, auth=(signer.credentials().token_id, SECRET), timeout=5).ok
        assert requests.get(keys, auth=(token_id, SECRET), timeout=5).status_code == 403
        assert set(summary["workspaces"]) == {"prod"}
        assert requests.get(f"{base_url}/on-demand", auth=(token_id, SECRET), timeout=5).ok
        wrong = requests.get(f"{base_url}/on-demand", auth=(token_id, "nope"), timeout=5)
        assert wrong.status_code == 401
        created = requests.post(
            f"{base_url}/on-demand",
            json={
                "inputs": [{"type": "video", "url": "https://example.com/a.mp4"}],
                "accessPolicy": "public",
            },
            auth=(token_id, SECRET),
            timeout=5,
        )
        assert created.status_code in (200, 201)
        deadline = time.monotonic() + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)
        out, err = stop(proc, signal.SIGINT)  # Ctrl-C
    # Deliveries are signed with the webhook secret stored for the workspace.
    body, given = received[0]
    assert given == signature(WEBHOOK_SECRET, body)
    assert_no_secret(first, out, err)
    assert token_id not in first + out + err and WEBHOOK_SECRET not in first + out + err


def test_bad_arguments_are_command_errors() -> None:
    with pytest.raises(CommandError):
        run("fastpix_fake_server", "--token", "only-an-id")
    with pytest.raises(CommandError):
        run("fastpix_fake_server", "--webhook-url", "no-equals-sign")
    with pytest.raises(CommandError, match="must be http"):
        run("fastpix_fake_server", "--webhook-url", "ws=ftp://example.com/hook")


def test_port_in_use_is_a_command_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        previous = signal.getsignal(signal.SIGTERM)
        with pytest.raises(CommandError, match="Cannot listen"):
            run("fastpix_fake_server", "--port", port)
        assert signal.getsignal(signal.SIGTERM) == previous  # no handler left behind
        result = subprocess.run(
            [sys.executable, "-m", "django", "fastpix_fake_server", "--port", port],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode != 0 and "Cannot listen" in result.stderr
