"""fastpix_token import: `add --env-file` under the name operators look for."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from django_fastpix.models import AccessToken
from tests.commands.conftest import assert_no_secret, run
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

TOKEN_ID = "tok_import_9c1e4b7d"


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    path = tmp_path / ".env"
    path.write_text(f"FASTPIX_TOKEN_ID={TOKEN_ID}\nFASTPIX_SECRET_KEY={SECRET}\n")
    return path


def test_import_stores_the_pair_and_prints_only_the_hint(workspace, env_file, all_logs):
    out = run(
        "fastpix_token", "import", "--env-file", str(env_file), "--workspace", "prod",
        "--name", "from .env", "--scope", "read", "--no-verify",
    )  # fmt: skip
    token = AccessToken.objects.get()
    credentials = token.credentials()
    assert credentials.token_id == TOKEN_ID and credentials.secret_key == SECRET
    assert token.scope == "read" and token.name == "from .env"
    assert "4b7d" in out and "FASTPIX_SECRET_KEY" not in os.environ
    assert_no_secret(out, all_logs.text)
    assert TOKEN_ID not in out + all_logs.text


def test_import_json_and_the_same_errors_as_add(workspace, env_file, tmp_path):
    args = ["--workspace", "prod", "--name", "x", "--json", "--no-verify"]
    data = json.loads(run("fastpix_token", "import", "--env-file", str(env_file), *args))
    assert data["hint"] == "4b7d" and data["scope"] == "read_write"
    with pytest.raises(CommandError, match="already holds") as excinfo:
        run("fastpix_token", "import", "--env-file", str(env_file), *args)
    assert_no_secret(str(excinfo.value))
    with pytest.raises(CommandError, match=r"No such \.env file"):
        run("fastpix_token", "import", "--env-file", str(tmp_path / "missing"), *args)
    partial = tmp_path / "partial.env"
    partial.write_text(f"FASTPIX_TOKEN_ID={TOKEN_ID}\n")
    with pytest.raises(CommandError, match="Missing FASTPIX_SECRET_KEY"):
        run("fastpix_token", "import", "--env-file", str(partial), *args)
    with pytest.raises(CommandError):  # the .env file is the only source
        run("fastpix_token", "import", "--stdin", *args)
    assert AccessToken.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_exit_status_is_non_zero_on_failure(manage, workspace, tmp_path):
    result = manage(
        "fastpix_token", "import", "--env-file", str(tmp_path / "nope.env"),
        "--workspace", "prod", "--name", "x",
    )  # fmt: skip
    assert result.returncode != 0 and "No such .env file" in result.stderr
