"""A resource FastPix created that the site could not store is undone in FastPix, not left
behind untracked (signing keys, live streams; uploads: tests/integration/test_uploads.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from django_fastpix.models import LiveStream, SigningKey
from django_fastpix.scopes import Scope
from django_fastpix.services.live import create_live_stream
from django_fastpix.services.signing_keys import create_signing_key

pytestmark = pytest.mark.django_db


def broken(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("database went away")


def test_a_signing_key_not_stored_is_deleted_in_fastpix(
    fake_token, workspace, fake_api, monkeypatch
):
    fake_token(system=Scope.READ_WRITE)
    monkeypatch.setattr(SigningKey.objects, "create", broken)
    with pytest.raises(RuntimeError, match="database went away"):
        create_signing_key(workspace)
    assert len(fake_api.requests_for("POST /iam/signing-keys")) == 1
    assert len(fake_api.requests_for("DELETE /iam/signing-keys/*")) == 1
    assert fake_api.store.signing_keys == {}  # gone in FastPix
    assert not SigningKey.objects.exists()


def test_a_live_stream_not_stored_is_deleted_in_fastpix(
    fake_token, workspace, fake_api, monkeypatch
):
    fake_token()
    monkeypatch.setattr(LiveStream.objects, "select_for_update", broken)
    with pytest.raises(RuntimeError, match="database went away"):
        create_live_stream(workspace, title="Launch")
    assert [s for s in fake_api.live_streams() if s.get("status") != "deleted"] == []
    assert not LiveStream.objects.exists()


def test_when_fastpix_cannot_undo_either_the_leftover_is_logged_by_id(
    fake_token, workspace, fake_api, monkeypatch, caplog
):
    fake_token()
    monkeypatch.setattr(LiveStream.objects, "select_for_update", broken)
    fake_api.inject("DELETE /live/streams/*", status=500)
    with caplog.at_level(logging.ERROR), pytest.raises(RuntimeError, match="database went"):
        create_live_stream(workspace, title="Launch")
    [stream] = fake_api.live_streams()
    assert f"Live stream {stream['streamId']} was created in FastPix but not stored" in caplog.text
