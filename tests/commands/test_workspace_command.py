"""fastpix_workspace: a site set up from a shell, without the admin.

create, list, show, set-webhook-secret (prompt, --stdin, --env-file, --from-env; never the
command line, never printed) and webhook-url (--base-url, or the Sites framework's domain).
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_fastpix.models import Workspace
from django_fastpix.services.tokens import revoke_token
from django_fastpix.services.webhooks import signature, signature_valid
from tests.commands.conftest import run, run_capturing

pytestmark = pytest.mark.django_db

SECRET_B64 = base64.b64encode(b"a-webhook-signing-secret-of-some-length").decode()
OTHER_B64 = base64.b64encode(b"the-next-webhook-signing-secret-after-rotation").decode()


def ws(*args: str, stdin: str | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> str:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return run("fastpix_workspace", *args)


def test_create_then_list_and_show(db):
    out = ws("create", "prod", "--name", "Production", "--environment", "production")
    assert "Created workspace prod: Production (production)." in out
    assert "set-webhook-secret prod" in out and "fastpix_token add --workspace prod" in out
    created = Workspace.objects.get(slug="prod")
    assert created.environment == "production" and created.name == "Production"
    data = json.loads(ws("create", "dev", "--fastpix-id", "ws_123", "--json"))
    assert data["slug"] == "dev" and data["name"] == "dev" and data["environment"] == "development"
    assert data["fastpix_workspace_id"] == "ws_123" and data["webhook_secret_set"] is False
    listing = ws("list")
    assert listing.splitlines()[1].startswith("dev ") and "prod" in listing.splitlines()[2]
    rows = json.loads(ws("list", "--json"))
    assert [r["slug"] for r in rows] == ["dev", "prod"]
    assert rows[1]["webhook_path"] == "/fastpix/webhooks/prod/" and rows[1]["webhook_url"] is None
    shown = ws("show", "prod")
    assert "webhook secret: none" in shown and "/fastpix/webhooks/prod/" in shown


def test_create_refuses_a_bad_or_taken_slug(workspace):
    with pytest.raises(CommandError, match="already exists"):
        ws("create", "prod")
    with pytest.raises(CommandError, match="slug"):
        ws("create", "not a slug")
    with pytest.raises(CommandError, match="invalid choice"):
        ws("create", "qa", "--environment", "moon")
    assert Workspace.objects.count() == 1


def test_token_counts_are_shown(workspace, make_token):
    make_token()
    revoke_token(make_token(), reason="leak", by="test")
    (row,) = json.loads(ws("list", "--json"))
    assert (row["active_tokens"], row["invalid_tokens"], row["revoked_tokens"]) == (1, 0, 1)
    assert "1 active, 0 invalid, 1 revoked" in ws("show", "prod")


def test_set_webhook_secret_from_stdin_then_rotate(workspace, monkeypatch, all_logs):
    out = ws(
        "set-webhook-secret", "prod", "--stdin", stdin=f"{SECRET_B64}\n", monkeypatch=monkeypatch
    )
    assert out.strip() == "Set the webhook secret of prod."
    body = b'{"type": "video.media.ready"}'
    workspace.refresh_from_db()
    assert signature_valid(workspace, body, signature(SECRET_B64, body))
    out = ws(
        "set-webhook-secret", "prod", "--stdin", stdin=f"{OTHER_B64}\n", monkeypatch=monkeypatch
    )
    assert "Rotated the webhook secret of prod" in out and "86400 s" in out
    workspace.refresh_from_db()
    # The previous secret stays accepted for the rotation window.
    assert signature_valid(workspace, body, signature(SECRET_B64, body))
    assert signature_valid(workspace, body, signature(OTHER_B64, body))
    shown = ws("show", "prod") + ws("show", "prod", "--json") + ws("list", "--json")
    for text in (out, shown, all_logs.text):
        assert SECRET_B64 not in text and OTHER_B64 not in text
    assert json.loads(ws("show", "prod", "--json"))["webhook_secret_rotated_at"]


def test_set_webhook_secret_from_env_file_and_environment(workspace, tmp_path, monkeypatch):
    env_file = tmp_path / "fastpix.env"
    env_file.write_text(f"FASTPIX_WEBHOOK_SECRET={SECRET_B64}\n")
    ws("set-webhook-secret", "prod", "--env-file", str(env_file))
    assert "FASTPIX_WEBHOOK_SECRET" not in os.environ  # read from the file only
    workspace.refresh_from_db()
    assert str(workspace.webhook_secret) == SECRET_B64
    monkeypatch.setenv("FASTPIX_WEBHOOK_SECRET", OTHER_B64)
    data = json.loads(ws("set-webhook-secret", "prod", "--from-env", "--json"))
    assert data["webhook_secret_set"] is True
    workspace.refresh_from_db()
    assert str(workspace.webhook_secret) == OTHER_B64


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--stdin"], "not base64!\n", "not base64"),
        (["--stdin"], "", "one non-empty line"),
        (["--stdin"], f"{SECRET_B64}\n{SECRET_B64}\n", "one non-empty line"),
        (["--from-env"], None, "Missing FASTPIX_WEBHOOK_SECRET"),
        ([], "", "No terminal to prompt on"),
    ],
    ids=["not-base64", "empty", "two-lines", "env-missing", "no-tty"],
)
def test_set_webhook_secret_refusals(workspace, monkeypatch, args, stdin, message):
    monkeypatch.delenv("FASTPIX_WEBHOOK_SECRET", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
    _, error = run_capturing("fastpix_workspace", "set-webhook-secret", "prod", *args)
    assert isinstance(error, CommandError) and message in str(error)
    assert "not base64!" not in str(error)
    workspace.refresh_from_db()
    assert not workspace.webhook_secret


def test_set_webhook_secret_prompts_on_a_terminal(workspace, monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    prompts = []

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return SECRET_B64

    monkeypatch.setattr("getpass.getpass", getpass)
    out = ws("set-webhook-secret", "prod")
    assert prompts == ["FastPix webhook signing secret (not echoed): "]
    assert "Set the webhook secret" in out and SECRET_B64 not in out


def test_webhook_url_from_base_url_or_sites(workspace, settings):
    out = ws("webhook-url", "prod", "--base-url", "https://www.example.org/")
    assert out.strip() == "https://www.example.org/fastpix/webhooks/prod/"
    data = json.loads(ws("webhook-url", "prod", "--base-url", "http://127.0.0.1:8000", "--json"))
    assert data == {
        "workspace": "prod",
        "webhook_url": "http://127.0.0.1:8000/fastpix/webhooks/prod/",
    }
    with pytest.raises(CommandError, match=r"/fastpix/webhooks/prod/; give --base-url"):
        ws("webhook-url", "prod")
    with pytest.raises(CommandError, match="http"):
        ws("webhook-url", "prod", "--base-url", "www.example.org")
    with pytest.raises(CommandError, match=r"No workspace 'nope' \(known: prod\)"):
        ws("webhook-url", "nope")


@pytest.fixture
def sites(settings):
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django.contrib.sites"]
    settings.SITE_ID = 1
    call_command("migrate", "sites", verbosity=0)
    from django.contrib.sites.models import Site

    Site.objects.update_or_create(pk=1, defaults={"domain": "video.example.net", "name": "x"})
    Site.objects.clear_cache()
    yield
    Site.objects.clear_cache()


@pytest.mark.django_db(transaction=True)
def test_webhook_url_from_the_sites_framework(workspace, sites):
    assert ws("webhook-url", "prod").strip() == "https://video.example.net/fastpix/webhooks/prod/"
    shown = json.loads(ws("show", "prod", "--json"))
    assert shown["webhook_url"] == "https://video.example.net/fastpix/webhooks/prod/"


def test_without_the_route_webhook_url_says_what_to_add(workspace, settings):
    settings.ROOT_URLCONF = "tests.admin.urls_no_webhook"
    with pytest.raises(CommandError, match=r'include\("django_fastpix.urls"\)'):
        ws("webhook-url", "prod", "--base-url", "https://x.example")
    assert "webhook URL: none" in ws("show", "prod")
    assert json.loads(ws("show", "prod", "--json"))["webhook_path"] is None


def test_every_sub_command_takes_json(workspace, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{SECRET_B64}\n"))
    for args in (
        ["create", "other", "--json"],
        ["list", "--json"],
        ["show", "prod", "--json"],
        ["set-webhook-secret", "prod", "--stdin", "--json"],
        ["webhook-url", "prod", "--base-url", "https://x.example", "--json"],
    ):
        out = io.StringIO()
        call_command("fastpix_workspace", *args, stdout=out)
        json.loads(out.getvalue())
