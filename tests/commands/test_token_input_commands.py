"""The shared token-id rule in the commands: clear refusals, and stored rows that break it.

A row stored before the rule (an id with ':' was once accepted by the commands) must neither
crash ``fastpix_fake_server --from-db`` nor ``fastpix_token verify``: it is skipped or reported
by name and hint, never by its id.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from django_fastpix.client.credentials import token_id_problem
from django_fastpix.models import AccessToken, Workspace
from tests.commands.conftest import ROOT, assert_no_secret, run_capturing
from tests.commands.test_fake_server_command import server, stop
from tests.conftest import SECRET

GOOD_ID = "tok_good_0000_c0de"
COLON_ID = "legacy:id_0000_b0b5"
NUL_ID = "tok\x00nul_0000_a1b2"


def stored_before_the_rule(workspace: Workspace, token_id: str, name: str) -> AccessToken:
    """A row as an older release stored it: the model's save applies no input rule."""
    token = AccessToken(workspace=workspace, name=name, token_id=token_id, secret_key=SECRET)
    token.save()
    return token


def add_from_stdin(env: dict[str, str], data: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "django", "fastpix_token", "add", "--workspace", "prod",
         "--name", "piped", "--stdin"],
        env=env, cwd=ROOT, input=data, capture_output=True, timeout=60,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("token_id", "secret", "message"),
    [
        (NUL_ID, SECRET, token_id_problem(NUL_ID)),
        (GOOD_ID, SECRET[:8] + "\x00" + SECRET[8:], "The secret key contains control characters."),
    ],
    ids=["nul-in-id", "nul-in-secret"],
)
def test_stdin_with_a_nul_is_a_one_line_command_error(
    workspace, child_env, token_id, secret, message
):
    result = add_from_stdin(child_env, f"{token_id}\n{secret}\n".encode())
    out, err = result.stdout.decode(), result.stderr.decode()
    assert result.returncode == 1, err
    assert err.strip() == f"CommandError: {message}"
    assert "Traceback" not in err
    assert_no_secret(out, err)
    assert SECRET[:8] not in out + err and "nul_0000" not in out + err
    assert not AccessToken.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("decoding", "message"),
    [
        ("utf-8:strict", "Standard input is not UTF-8 text."),
        # Under a C locale Python smuggles the bytes in as lone surrogates instead.
        ("utf-8:surrogateescape", "The secret key contains control characters."),
    ],
)
def test_stdin_that_is_not_utf8_is_a_one_line_command_error(
    workspace, child_env, decoding, message
):
    env = {**child_env, "PYTHONIOENCODING": decoding}
    result = add_from_stdin(env, GOOD_ID.encode() + b"\n\xff\xfe" + SECRET.encode() + b"\n")
    err = result.stderr.decode()
    assert result.returncode == 1 and err.strip() == f"CommandError: {message}", err
    assert SECRET not in err and not AccessToken.objects.exists()


@pytest.mark.django_db
def test_import_refuses_an_id_with_a_colon_without_echoing_it(workspace, tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"FASTPIX_TOKEN_ID={COLON_ID}\nFASTPIX_SECRET_KEY={SECRET}\n")
    out, error = run_capturing(
        "fastpix_token", "import", "--env-file", str(env_file), "--workspace", "prod",
        "--name", "colon",
    )  # fmt: skip
    assert isinstance(error, CommandError)
    assert str(error) == token_id_problem(COLON_ID)
    assert COLON_ID not in out + str(error) and "legacy" not in str(error)
    assert not AccessToken.objects.exists()


@pytest.mark.django_db
def test_verify_reports_a_stored_id_that_breaks_the_rule(workspace, fake_api):
    bad = stored_before_the_rule(workspace, COLON_ID, "legacy")
    out, error = run_capturing("fastpix_token", "verify", str(bad.pk))
    assert isinstance(error, CommandError) and "1 of 1 token(s) failed" in str(error)
    assert f"{bad}: " in out and token_id_problem(COLON_ID) in out
    assert COLON_ID not in out and "legacy:" not in out
    assert fake_api.requests == []  # nothing was sent with a pair FastPix could not parse
    bad.refresh_from_db()
    assert bad.status == "active"  # the doctor reports it; verify does not guess a status


@pytest.mark.django_db(transaction=True)
def test_fake_server_from_db_skips_a_stored_id_with_a_colon(workspace, child_env, make_token):
    good = make_token(token_id=GOOD_ID, name="good")
    bad = stored_before_the_rule(workspace, COLON_ID, "legacy")
    with server("--from-db", "--json", "--port", "0", env=child_env) as proc:
        assert proc.stdout is not None
        summary = json.loads(proc.stdout.readline())
        out, err = stop(proc, signal.SIGTERM)
    assert [t["token"] for t in summary["tokens"]] == [f"#{good.pk} {good}"]
    warnings = err.strip().splitlines()
    assert warnings == [f"Skipped token #{bad.pk} {bad}: {token_id_problem(COLON_ID)}"]
    assert "legacy (…b0b5)" in warnings[0]  # the name and the hint name it
    everything = json.dumps(summary) + out + err
    assert COLON_ID not in everything and "legacy:" not in everything and "Traceback" not in err
    assert_no_secret(everything)
