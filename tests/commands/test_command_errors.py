"""Every fastpix_* command ends database and encryption failures in one clear line, exit 1.

Real `python -m django` processes, as an operator runs them: an unmigrated database, a database
that cannot be opened, a malformed or a wrong FIELD_ENCRYPTION_KEY. Never a traceback, and never
a secret in what they print.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from django_fastpix.fields import MALFORMED_KEY
from django_fastpix.management.base import MIGRATE_HINT
from tests.commands.conftest import ROOT, assert_no_secret
from tests.conftest import SECRET, subprocess_env

TOKEN_ID = "tok_cmd_errors_0000_e7a1"

# One run per command, each reaching the database first.
COMMANDS = [
    ["fastpix_token", "list"],
    ["fastpix_token", "verify", "1"],
    ["fastpix_token", "add", "--workspace", "prod", "--name", "ci", "--stdin"],
    ["fastpix_webhooks", "list"],
    ["fastpix_webhooks", "replay", "--failed"],
    ["fastpix_media", "list"],
    ["fastpix_sync_media"],
    ["fastpix_rotate_keys"],
    ["fastpix_token", "permissions", "1", "--system", "read_write"],
    ["fastpix_signing_keys", "list"],
    ["fastpix_signing_keys", "prune"],
    ["fastpix_live", "list"],
    ["fastpix_uploads", "list"],
    ["fastpix_uploads", "sweep"],
]


def django(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        env=env,
        cwd=ROOT,
        input=f"{TOKEN_ID}\n{SECRET}\n",
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"CommandError: {message}"]
    assert_no_secret(result.stdout, result.stderr)
    assert TOKEN_ID not in result.stdout + result.stderr


def sqlite_env(path: Path) -> dict[str, str]:
    return subprocess_env(DATABASE_URL=f"sqlite:///{path}")


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_an_unmigrated_database_says_run_migrate(tmp_path, args):
    assert_one_line_error(django(args, sqlite_env(tmp_path / "empty.sqlite3")), MIGRATE_HINT)


def test_a_database_that_cannot_be_opened_names_the_error(tmp_path):
    result = django(["fastpix_token", "list"], sqlite_env(tmp_path / "missing" / "db.sqlite3"))
    assert_one_line_error(result, "Database error (OperationalError): unable to open database file")


@pytest.fixture
def stored(make_token, workspace):
    """A token and a webhook secret written under the test key, for children on other keys."""
    workspace.webhook_secret = "d2ViaG9vay1zZWNyZXQtZm9yLWNvbW1hbmQtZXJyb3Jz"
    workspace.save()
    return make_token(token_id=TOKEN_ID, name="main")


def key_env(key: str) -> dict[str, str]:
    return subprocess_env(
        DJANGO_SETTINGS_MODULE="tests.commands.key_settings", FASTPIX_TEST_ENCRYPTION_KEY=key
    )


@pytest.mark.django_db(transaction=True)
def test_a_malformed_key_is_one_line(stored):
    # --skip-checks: the system check (fastpix.E001) would say it first; this is the path of a
    # site that skips checks, or of a key changed under a running deployment.
    result = django(["fastpix_token", "--skip-checks", "list"], key_env("not-a-fernet-key"))
    assert_one_line_error(result, MALFORMED_KEY)


def test_a_malformed_key_is_a_system_check_error_in_a_fresh_process(tmp_path):
    # The encryption library validates the key when first imported, in a fresh process that is
    # inside our check: its own ImproperlyConfigured must still come out as fastpix.E001.
    env = {**key_env("not-a-fernet-key"), "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = django(["check"], env)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"(fastpix.E001) {MALFORMED_KEY}" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_wrong_key_names_the_row_and_the_remedy(stored, new_key):
    result = django(["fastpix_token", "--skip-checks", "verify", str(stored.pk)], key_env(new_key))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"CommandError: The token id of access token #{stored.pk} 'main'")
    assert "fastpix_rotate_keys" in line and new_key not in line
    assert_no_secret(result.stdout, result.stderr)
    assert TOKEN_ID not in result.stdout + result.stderr
