"""fastpix_token from a shell: secrets come from prompts, stdin or .env, never argv or output."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_fastpix.models import AccessToken, TokenStatus
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

TOKEN_ID = "tok_cmd_51f0a9c2"


def run(*args: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> str:
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None and monkeypatch is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    call_command("fastpix_token", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # root: the app, Django's SQL logger, everything
    return caplog


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text
        assert TOKEN_ID not in text


def test_add_from_stdin_then_list(workspace, monkeypatch, all_logs, settings):
    settings.DEBUG = True  # makes django.db.backends log every SQL statement with params
    out = run(
        "add",
        "--workspace",
        "prod",
        "--name",
        "ci",
        "--scope",
        "read",
        "--stdin",
        "--no-verify",
        stdin=f"{TOKEN_ID}\n{SECRET}\n",
        monkeypatch=monkeypatch,
    )
    token = AccessToken.objects.get()
    assert token.credentials().secret_key == SECRET and token.scope == "read"
    assert "a9c2" in out
    listing = run("list")
    as_json = json.loads(run("list", "--json"))
    assert as_json[0]["hint"] == "a9c2" and as_json[0]["scope"] == "read"
    assert_no_secret(out, listing, json.dumps(as_json), all_logs.text)
    assert any(r.name == "django.db.backends" for r in all_logs.records)  # SQL was logged


def test_add_from_env_file_leaves_environment_alone(workspace, tmp_path: Path, all_logs):
    env_file = tmp_path / ".env"
    env_file.write_text(f"FASTPIX_TOKEN_ID={TOKEN_ID}\nFASTPIX_SECRET_KEY={SECRET}\n")
    out = run(
        "add", "--workspace", "prod", "--name", "from file", "--env-file", str(env_file),
        "--no-verify",
    )  # fmt: skip
    assert AccessToken.objects.get().credentials().token_id == TOKEN_ID
    assert "FASTPIX_SECRET_KEY" not in os.environ
    assert_no_secret(out, all_logs.text)


def test_add_from_environment(workspace, monkeypatch):
    monkeypatch.setenv("FASTPIX_TOKEN_ID", TOKEN_ID)
    monkeypatch.setenv("FASTPIX_SECRET_KEY", SECRET)
    out = run("add", "--workspace", "prod", "--name", "env", "--from-env", "--json", "--no-verify")
    assert json.loads(out)["hint"] == "a9c2"
    assert_no_secret(out)


def test_secret_is_not_accepted_on_the_command_line(workspace):
    with pytest.raises(CommandError):
        run("add", "--workspace", "prod", "--name", "x", "--secret", SECRET)
    assert not AccessToken.objects.exists()


def test_failures_are_command_errors(workspace, monkeypatch, tmp_path):
    with pytest.raises(CommandError, match=r"No workspace 'nope'.*prod"):
        run(
            "add",
            "--workspace",
            "nope",
            "--name",
            "x",
            "--stdin",
            stdin="a\nb\n",
            monkeypatch=monkeypatch,
        )
    with pytest.raises(CommandError, match="two non-empty lines"):
        run(
            "add",
            "--workspace",
            "prod",
            "--name",
            "x",
            "--stdin",
            stdin="only-one\n",
            monkeypatch=monkeypatch,
        )
    with pytest.raises(CommandError, match="Missing FASTPIX_SECRET_KEY"):
        (tmp_path / ".env").write_text(f"FASTPIX_TOKEN_ID={TOKEN_ID}\n")
        run("add", "--workspace", "prod", "--name", "x", "--env-file", str(tmp_path / ".env"))
    run(
        "add",
        "--workspace",
        "prod",
        "--name",
        "x",
        "--stdin",
        "--no-verify",
        stdin=f"{TOKEN_ID}\n{SECRET}\n",
        monkeypatch=monkeypatch,
    )
    with pytest.raises(CommandError, match="already holds") as excinfo:
        run(
            "add",
            "--workspace",
            "prod",
            "--name",
            "y",
            "--stdin",
            stdin=f"{TOKEN_ID}\n{SECRET}\n",
            monkeypatch=monkeypatch,
        )
    assert_no_secret(str(excinfo.value))
    with pytest.raises(CommandError, match="No token #999"):
        run("revoke", "999", "--reason", "leak")
    assert AccessToken.objects.count() == 1


def test_no_terminal_means_no_prompt(workspace, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="No terminal"):
        run("add", "--workspace", "prod", "--name", "x")


def test_revoke_and_invalidate(make_token):
    token = make_token()
    out = run("invalidate", str(token.pk), "--reason", "FastPix said 401")
    token.refresh_from_db()
    assert token.status == TokenStatus.INVALID and "invalid" in out
    with pytest.raises(CommandError):
        run("revoke", str(token.pk))  # --reason is required
    out = run("revoke", str(token.pk), "--reason", "pasted in a chat", "--json")
    assert json.loads(out)["status"] == "revoked"
    with pytest.raises(CommandError, match="revoked"):
        run("invalidate", str(token.pk))
    token.refresh_from_db()
    assert token.status == TokenStatus.REVOKED and token.status_reason == "pasted in a chat"
    assert token.status_changed_by.startswith("cli:")


@pytest.mark.django_db(transaction=True)
def test_exit_status_is_non_zero_on_failure(tmp_path):
    # A real process: CommandError must become a non-zero exit, not a traceback with status 0.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    manage = [sys.executable, "-m", "django"]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=Path(__file__).parents[2])
    result = subprocess.run(
        [*manage, "fastpix_token", "revoke", "1", "--reason", "x"],
        env=env,
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "No token #1" in result.stderr
