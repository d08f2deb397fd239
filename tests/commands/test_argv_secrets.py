"""A value typed on a fastpix_* command line is never echoed back in a usage error.

argparse repeats what it could not use (``unrecognized arguments: --secret sk_live…``,
``invalid choice: 'sk_live…'``); a secret pasted there would land in a terminal, a log or a CI
transcript as well as in the shell history. Real ``python -m django`` processes, as an operator
runs them, and call_command as a site's code does.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_fastpix.management.base import HIDDEN, redact_usage_error
from tests.commands.conftest import ROOT
from tests.conftest import SECRET

V = SECRET

CASES = [
    ["fastpix_token", "add", "--workspace", "prod", "--name", "x", "--secret", V],
    ["fastpix_token", "add", "--workspace", "prod", "--name", "x", f"--secret={V}"],
    ["fastpix_token", "add", "--workspace", "prod", "--name", "x", "--scope", V],
    ["fastpix_token", "add", "--workspace", "prod", "--name", "x", f"--stdin={V}"],
    ["fastpix_token", "add", "--workspace", "prod", "--name", "x", f"--s={V}"],
    ["fastpix_token", "add", "--workspace", "prod", "--name", "x", V],
    ["fastpix_token", V],
    ["fastpix_token", "verify", V],
    ["fastpix_token", "add", "--workspace", "prod", "--name", "x", "--system", V],
    ["fastpix_token", "permissions", V],
    ["fastpix_token", "permissions", "1", "--video", V],
    ["fastpix_signing_keys", V],
    ["fastpix_signing_keys", "list", "--status", V],
    ["fastpix_signing_keys", "create", "--workspace", "prod", V],
    ["fastpix_workspace", "set-webhook-secret", "prod", "--secret", V],
    ["fastpix_workspace", "set-webhook-secret", "prod", V],
    ["fastpix_workspace", "create", "prod", "--environment", V],
    ["fastpix_media", "list", "--limit", V],
    ["fastpix_webhooks", "list", "--outcome", V],
    ["fastpix_doctor", "--stuck-minutes", V],
    ["fastpix_sync_media", "--bogus", V],
    ["fastpix_rotate_keys", V],
    ["fastpix_fake_server", "--port", V],
    ["fastpix_live", V],
    ["fastpix_live", "simulcast-add", "1", "--url", "rtmps://x/live", "--stream-key", V],
    ["fastpix_live", "create", "--workspace", "prod", "--reconnect-window", V],
    ["fastpix_live", "reveal-key", "1", "--user", "ops", V],
    ["fastpix_uploads", "list", "--status", V],
    ["fastpix_uploads", V],
]


def django(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a).replace(V, "VALUE"))
def test_a_usage_error_hides_the_value(args: list[str]) -> None:
    result = django(args)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "error:" in result.stderr and HIDDEN in result.stderr, output
    assert V not in output and V[8:20] not in output
    assert "Traceback" not in output


def test_an_unknown_secret_option_says_how_secrets_are_read() -> None:
    result = django(["fastpix_token", "add", "--workspace", "prod", "--name", "x", "--secret", V])
    assert f"unrecognized arguments: --secret {HIDDEN}" in result.stderr
    assert "never taken on the command line" in result.stderr and "--stdin" in result.stderr


def test_call_command_raises_a_command_error_without_the_value() -> None:
    with pytest.raises(CommandError) as excinfo:
        call_command("fastpix_token", "add", "--workspace", "prod", "--name", "x", "--secret", V)
    assert V not in str(excinfo.value) and "--secret" in str(excinfo.value)
    with pytest.raises(CommandError) as excinfo:
        call_command("fastpix_workspace", "set-webhook-secret", "prod", V)
    assert V not in str(excinfo.value)


def test_redaction_keeps_option_names_and_choices() -> None:
    known = {"--scope", "--name", "read", "read_write", "add"}
    message = "argument --scope: invalid choice: 'raed' (choose from 'read', 'read_write')"
    assert redact_usage_error(message, ["add", "--scope", "raed"], known) == (
        f"argument --scope: invalid choice: {HIDDEN} (choose from 'read', 'read_write')"
    )
    # A value equal to part of an option name or of the message's own words stays put there.
    message = "the following arguments are required: --name"
    assert redact_usage_error(message, ["name", "the"], known) == message
    message = "unrecognized arguments: --token-id abc --x=1"
    assert redact_usage_error(message, ["--token-id", "abc", "--x=1"], known) == (
        f"unrecognized arguments: --token-id {HIDDEN} --x={HIDDEN}"
    )
