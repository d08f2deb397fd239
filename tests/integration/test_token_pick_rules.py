"""The token pick skips stored rows that break the one token-id rule instead of crashing."""

from __future__ import annotations

import logging

import pytest
from django.utils import timezone

from django_fastpix.client import FastPixClient
from django_fastpix.models import AccessToken
from django_fastpix.scopes import Scope
from django_fastpix.services import api
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

BAD_ID = "tok:with-colon-0001"  # stored before the rule existed (a direct save, as old code did)


def stored_bad_token(workspace) -> AccessToken:
    token = AccessToken(
        workspace=workspace,
        name="legacy",
        token_id=BAD_ID,
        secret_key=SECRET,
        scope=Scope.READ_WRITE,
        # Most recently verified: without the rule it would be the first pick.
        last_verified_at=timezone.now(),
    )
    token.save()
    return token


def test_a_stored_id_breaking_the_rule_is_skipped_and_the_next_token_used(
    fake_token, workspace, fake_api, caplog
):
    good = fake_token(token_id="tok_good_pick_000001")
    stored_bad_token(workspace)
    with caplog.at_level(logging.DEBUG):
        media = api.call(workspace, FastPixClient.create_media, "https://cdn.example.com/a.mp4")
    assert media.id
    used = {r.authenticated_token_id for r in fake_api.requests}
    assert used == {good.credentials().token_id}
    assert "Skipping FastPix token 'legacy'" in caplog.text
    assert BAD_ID not in caplog.text and SECRET not in caplog.text


def test_only_broken_rows_means_no_usable_token_before_any_request(workspace, fake_api):
    stored_bad_token(workspace)
    from django_fastpix.exceptions import NoUsableTokenError

    with pytest.raises(NoUsableTokenError):
        api.call(workspace, FastPixClient.get_media, "m1")
    assert fake_api.requests == []


def test_call_refuses_iterating_methods(workspace):
    with pytest.raises(TypeError, match=r"api\.pages"):
        api.call(workspace, FastPixClient.iter_media)
