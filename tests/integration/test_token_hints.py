"""One hint rule: at most the last 4 characters and at most a quarter of the id, everywhere.

The stored ``token_id_hint`` column (admin, command output, logs, str/repr) and
``Credentials.hint`` (client errors, redaction) must agree, and never show a short id whole.
"""

from __future__ import annotations

import json
import string

import pytest
from django.core.management import call_command

from django_fastpix.client import Credentials
from django_fastpix.exceptions import DuplicateTokenError
from django_fastpix.models import AccessToken
from django_fastpix.services.tokens import add_token
from tests.admin.conftest import admin_url
from tests.commands.conftest import run
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

# 4 characters: the hint may show 1. "~" and "-" keep it out of random page content (CSRF
# tokens are letters and digits), so finding it means it leaked.
SHORT_ID = "q~-x"
ALPHABET = string.ascii_letters + string.digits


def test_stored_and_client_hints_agree_and_show_at_most_a_quarter(workspace):
    for length in range(1, 41):
        token_id = (ALPHABET * 2)[:length]
        token = add_token(
            workspace=workspace, name=f"len {length}", token_id=token_id, secret_key=SECRET
        )
        stored = AccessToken.objects.get(pk=token.pk).token_id_hint
        assert stored == Credentials(token_id, SECRET).hint, length
        # 1-3 characters show nothing, 4 show 1, 8 show 2, 16 and more show 4.
        assert stored == token_id[length - min(4, length // 4) :], length


def test_a_short_id_is_never_shown_whole(workspace, admin_client, caplog):
    caplog.set_level("DEBUG")
    token = add_token(workspace=workspace, name="short", token_id=SHORT_ID, secret_key=SECRET)
    with pytest.raises(DuplicateTokenError) as duplicate:
        add_token(workspace=workspace, name="again", token_id=SHORT_ID, secret_key=SECRET)
    listing = run("fastpix_token", "list") + run("fastpix_token", "list", "--json")
    changelist = admin_client.get(admin_url("accesstoken", "changelist")).content.decode()
    change = admin_client.get(admin_url("accesstoken", "change", token.pk)).content.decode()
    texts = [
        str(token),
        repr(token),
        repr(token.credentials()),
        str(duplicate.value),
        listing,
        changelist,
        change,
        caplog.text,
    ]
    for text in texts:
        assert SHORT_ID not in text and SHORT_ID[1:] not in text
    assert "short (…x)" in str(token)
    assert json.loads(run("fastpix_token", "list", "--json"))[0]["hint"] == "x"


def test_dumpdata_shows_no_more_than_the_hint(workspace, capsys):
    add_token(workspace=workspace, name="short", token_id=SHORT_ID, secret_key=SECRET)
    call_command("dumpdata", "django_fastpix.accesstoken")
    out = capsys.readouterr().out
    assert SHORT_ID not in out and '"token_id_hint": "x"' in out
