"""Verifying tokens against the fake FastPix, from the service and from the command."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_fastpix import signals
from django_fastpix.models import TokenStatus
from django_fastpix.services.tokens import invalidate_token
from django_fastpix.services.verify import verify_token
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db


def test_verify_stamps_and_reactivates_only_through_success(
    fake_token, fake_api, django_capture_on_commit_callbacks
):
    token = fake_token()
    invalidate_token(token, reason="operator suspicion", by="alice")
    seen = []
    signals.token_verified.connect(
        lambda sender, token, reactivated, **kw: seen.append(reactivated),
        weak=False,
        dispatch_uid="t",
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = verify_token(token, by="bob")
    finally:
        signals.token_verified.disconnect(dispatch_uid="t")
    assert result.ok and result.reactivated
    token.refresh_from_db()
    assert token.status == TokenStatus.ACTIVE and token.last_verified_at is not None
    assert token.status_changed_by == "bob" and seen == [True]
    request = fake_api.requests[-1]
    assert request.path == "/v1/on-demand" and request.query["limit"] == "1"


def test_verify_401_invalidates(fake_token, fake_api):
    token = fake_token()
    fake_api.revoke_token(token.credentials().token_id)
    result = verify_token(token)
    assert not result.ok and result.invalidated
    token.refresh_from_db()
    assert token.status == TokenStatus.INVALID and token.last_verified_at is None


def test_verify_network_fault_changes_nothing(fake_token, fake_api, settings):
    token = fake_token()
    invalidate_token(token, reason="x", by="t")
    settings.FASTPIX = {**settings.FASTPIX, "MAX_RETRIES": 0}
    fake_api.inject("GET /on-demand", status=503)
    result = verify_token(token)
    assert not result.ok and "503" in result.detail
    token.refresh_from_db()
    assert token.status == TokenStatus.INVALID


def test_verify_command(fake_token, fake_api, workspace):
    good, bad = fake_token(), fake_token()
    fake_api.revoke_token(bad.credentials().token_id)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 of 2"):
        call_command("fastpix_token", "verify", "--workspace", "prod", "--json", stdout=out)
    rows = {r["id"]: r for r in json.loads(out.getvalue())}
    assert rows[good.pk]["ok"] is True and rows[bad.pk]["ok"] is False
    assert rows[bad.pk]["status"] == "invalid"
    assert SECRET not in out.getvalue()
    out = io.StringIO()
    call_command("fastpix_token", "verify", str(good.pk), stdout=out)
    assert "accepted" in out.getvalue()
