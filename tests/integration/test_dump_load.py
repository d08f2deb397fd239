"""dumpdata / loaddata: empty encrypted values round-trip; secrets are never exported."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from django_fastpix.fields import SERIALIZED_PLACEHOLDER
from django_fastpix.models import AccessToken, Workspace
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

TOKEN_ID = "tok_dumped_0000_5a7c"
WEBHOOK_SECRET = base64.b64encode(b"webhook-secret-never-exported!!").decode()


def dump(path: Path) -> list[dict]:
    call_command(
        "dumpdata", "django_fastpix.workspace", "django_fastpix.accesstoken", output=str(path)
    )
    return json.loads(path.read_text())


def write(path: Path, objects: list[dict]) -> Path:
    path.write_text(json.dumps(objects))
    return path


def test_a_workspace_without_webhook_secrets_round_trips(workspace, make_token, tmp_path):
    make_token(token_id=TOKEN_ID, name="main")
    objects = dump(tmp_path / "dump.json")
    text = (tmp_path / "dump.json").read_text()
    assert SECRET not in text and TOKEN_ID not in text
    (ws,) = [o for o in objects if o["model"] == "django_fastpix.workspace"]
    assert ws["fields"]["webhook_secret"] == "" and ws["fields"]["previous_webhook_secret"] == ""
    (token,) = [o for o in objects if o["model"] == "django_fastpix.accesstoken"]
    assert token["fields"]["secret_key"] == SERIALIZED_PLACEHOLDER

    AccessToken.objects.all().delete()
    Workspace.objects.all().delete()
    call_command("loaddata", str(write(tmp_path / "ws.json", [ws])), verbosity=0)
    loaded = Workspace.objects.get()
    assert (loaded.pk, loaded.slug, loaded.name) == (workspace.pk, "prod", "Production")
    assert loaded.webhook_secret == "" and loaded.previous_webhook_secret == ""


def test_a_dumped_token_is_still_refused_whole(workspace, make_token, tmp_path):
    make_token(token_id=TOKEN_ID, name="main")
    objects = dump(tmp_path / "dump.json")
    AccessToken.objects.all().delete()
    Workspace.objects.all().delete()
    # The token is what is refused (its workspace, with empty secrets, would load).
    with pytest.raises(ValueError, match=r"placeholder .* in AccessToken\.(token_id|secret_key)"):
        call_command("loaddata", str(write(tmp_path / "all.json", objects)), verbosity=0)
    # Nothing half-loaded: the placeholder never replaces a secret, and no row exists without one.
    assert not AccessToken.objects.exists() and not Workspace.objects.exists()


def test_a_set_webhook_secret_is_not_exported(workspace, tmp_path):
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    (ws,) = dump(tmp_path / "dump.json")
    assert WEBHOOK_SECRET not in (tmp_path / "dump.json").read_text()
    assert ws["fields"]["webhook_secret"] == SERIALIZED_PLACEHOLDER
    assert ws["fields"]["previous_webhook_secret"] == ""
