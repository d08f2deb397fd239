"""fastpix_token add asks FastPix first, like the admin form; re-adding a stored id says which row.

A pair FastPix rejects is not stored (``--no-verify`` stores it unverified); a token id the
workspace already holds is refused with that row's name, hint and status and the way out
(``--replace``, or a new token when the stored one is revoked).
"""

from __future__ import annotations

import io
import json
import socket
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_fastpix import signals
from django_fastpix.models import AccessToken, TokenStatus
from django_fastpix.services.tokens import invalidate_token, revoke_token
from tests.commands.conftest import assert_no_secret
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

TOKEN_ID = "tok_verify_add_0000_5e1f"
WRONG = "sk_wrong_Hq2mN8vB4xZ7cL1pR5tY9wK3"
NEW_SECRET = "sk_new_Tz6yU1iO8pA3sD5fG7hJ2kL4"


def add(
    monkeypatch: pytest.MonkeyPatch, *args: str, secret: str = SECRET, token_id: str = TOKEN_ID
) -> str:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{token_id}\n{secret}\n"))
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "fastpix_token", "add", "--workspace", "prod", "--name", "web", "--stdin", *args,
        stdout=out, stderr=err,
    )  # fmt: skip
    return out.getvalue() + err.getvalue()


def refused(monkeypatch: pytest.MonkeyPatch, *args: str, secret: str = SECRET) -> str:
    with pytest.raises(CommandError) as excinfo:
        add(monkeypatch, *args, secret=secret)
    message = str(excinfo.value)
    for text in (SECRET, WRONG, NEW_SECRET, TOKEN_ID):
        assert text not in message
    return message


@pytest.fixture
def fastpix(fake_api, workspace):
    """FastPix (the fake) knows TOKEN_ID with SECRET."""
    fake_api.add_token(TOKEN_ID, SECRET, "read_write")
    return fake_api


def test_a_pair_fastpix_accepts_is_stored_verified(fastpix, monkeypatch, all_logs):
    out = add(monkeypatch)
    token = AccessToken.objects.get()
    assert token.status == TokenStatus.ACTIVE and token.last_verified_at is not None
    assert token.credentials().secret_key == SECRET
    assert (
        f"Added token #{token.pk} web (…5e1f), video: read and write. FastPix accepted it." in out
    )
    assert len(fastpix.requests_for("GET /on-demand")) == 1
    assert_no_secret(out, all_logs.text)


def test_a_wrong_secret_is_refused_and_nothing_is_stored(fastpix, monkeypatch, all_logs):
    message = refused(monkeypatch, secret=WRONG)
    assert "FastPix rejected this token id / secret key (401)" in message
    assert "Nothing was stored." in message
    assert not AccessToken.objects.exists()
    assert WRONG not in all_logs.text


def test_no_verify_stores_without_asking(fastpix, monkeypatch):
    out = add(monkeypatch, "--no-verify", "--json", secret=WRONG)
    data = json.loads(out)
    assert data["verified"] is False and data["replaced"] is False
    token = AccessToken.objects.get()
    assert token.status == TokenStatus.ACTIVE and token.last_verified_at is None
    assert fastpix.requests == []


def test_fastpix_unreachable_points_at_no_verify(workspace, settings, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.FASTPIX = {
        **settings.FASTPIX,
        "API_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "CONNECT_TIMEOUT": 1.0,
    }
    message = refused(monkeypatch)
    assert "could not be reached" in message and "--no-verify" in message
    assert not AccessToken.objects.exists()


def test_an_active_row_is_named_with_the_way_to_replace_it(fastpix, monkeypatch):
    token = AccessToken.objects.get(pk=json.loads(add(monkeypatch, "--json"))["id"])
    fastpix.clear_requests()
    message = refused(monkeypatch, secret=NEW_SECRET)
    assert f"already holds this token id as token #{token.pk} 'web' (…5e1f), active." in message
    assert "--replace" in message and f"fastpix_token verify {token.pk}" in message
    assert fastpix.requests == []  # refused before FastPix is asked


def test_replace_an_invalid_row_with_the_right_secret(
    fastpix, monkeypatch, django_capture_on_commit_callbacks
):
    add(monkeypatch, "--no-verify", secret=WRONG)
    token = AccessToken.objects.get()
    invalidate_token(token, reason="FastPix answered 401", by="test")
    message = refused(monkeypatch)
    assert f"token #{token.pk} 'web' (…5e1f), invalid (FastPix answered 401)." in message
    assert "--replace" in message

    verified = []

    def on_verified(sender, token, reactivated, **kwargs):
        verified.append((token.pk, reactivated))

    signals.token_verified.connect(on_verified)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            out = add(monkeypatch, "--replace")
    finally:
        signals.token_verified.disconnect(on_verified)
    token.refresh_from_db()
    assert token.status == TokenStatus.ACTIVE and token.last_verified_at is not None
    assert token.credentials().secret_key == SECRET
    assert token.status_reason == "secret key replaced and verified"
    assert f"Replaced the secret key of token #{token.pk} web (…5e1f) (active)." in out
    assert verified == [(token.pk, True)]  # pending media of the workspace are queued again
    assert AccessToken.objects.count() == 1
    assert_no_secret(out)


def test_replace_with_a_wrong_secret_keeps_the_stored_one(fastpix, monkeypatch):
    add(monkeypatch, "--no-verify", secret=NEW_SECRET)
    token = AccessToken.objects.get()
    invalidate_token(token, reason="401", by="test")
    assert "(401)" in refused(monkeypatch, "--replace", secret=WRONG)
    token.refresh_from_db()
    assert token.status == TokenStatus.INVALID
    assert token.credentials().secret_key == NEW_SECRET


def test_replace_without_verifying_leaves_an_invalid_row_invalid(fastpix, monkeypatch):
    add(monkeypatch, "--no-verify", secret=WRONG)
    token = AccessToken.objects.get()
    invalidate_token(token, reason="401", by="test")
    out = add(monkeypatch, "--replace", "--no-verify")
    token.refresh_from_db()
    assert token.status == TokenStatus.INVALID and token.credentials().secret_key == SECRET
    assert f"`fastpix_token verify {token.pk}`" in out
    assert fastpix.requests == []


def test_a_revoked_row_cannot_be_replaced(fastpix, monkeypatch):
    add(monkeypatch)
    token = AccessToken.objects.get()
    revoke_token(token, reason="pasted in a chat", by="test")
    fastpix.clear_requests()
    for args in ((), ("--replace",)):
        message = refused(monkeypatch, *args, secret=NEW_SECRET)
        assert "revoked (pasted in a chat)" in message
        assert "never stored again" in message and "new token in FastPix" in message
    token.refresh_from_db()
    assert token.status == TokenStatus.REVOKED and token.credentials().secret_key == SECRET
    assert fastpix.requests == []


def test_replace_of_an_id_not_held_adds_it(fastpix, monkeypatch):
    data = json.loads(add(monkeypatch, "--replace", "--json"))
    assert data["replaced"] is False and data["verified"] is True
    assert AccessToken.objects.get().name == "web"


def test_import_verifies_too(fastpix, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(f"FASTPIX_TOKEN_ID={TOKEN_ID}\nFASTPIX_SECRET_KEY={WRONG}\n")
    with pytest.raises(CommandError, match=r"\(401\)"):
        call_command(
            "fastpix_token", "import", "--env-file", str(env_file), "--workspace", "prod",
            "--name", "x", stdout=io.StringIO(),
        )  # fmt: skip
    assert not AccessToken.objects.exists()
