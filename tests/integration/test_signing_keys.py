"""Signing keys and playback tokens against the fake FastPix: create on first need, claims
verified with the public key FastPix holds, rotation overlap, revoke, and the key kept secret."""

from __future__ import annotations

import logging
from datetime import timedelta

import jwt
import pytest
import requests
from django.db import connection
from django.utils import timezone

from django_fastpix.client import FastPixClient
from django_fastpix.exceptions import SigningKeyError
from django_fastpix.models import Media, MediaStatus, PlaybackId, SigningKey, SigningKeyStatus
from django_fastpix.scopes import Scope
from django_fastpix.services import api, playback
from django_fastpix.services.signing_keys import (
    CLOCK_SKEW,
    delete_pending_keys,
    revoke_signing_key,
    rotate_signing_key,
    signing_key_for,
    token_lifetime,
)

pytestmark = pytest.mark.django_db

KEY_ROUTE = "POST /iam/signing-keys"


@pytest.fixture
def system_token(fake_token):
    """A token granted video and system (signing keys) read+write, here and in the fake."""
    return fake_token(scope=Scope.READ_WRITE, system=Scope.READ_WRITE)


def private_playback(workspace, pid: str = "pb-private-0001", policy: str = "private"):
    media = Media.objects.create(
        workspace=workspace, status=MediaStatus.READY, fastpix_id=f"m-{pid}", access_policy=policy
    )
    return PlaybackId.objects.create(media=media, fastpix_id=pid, access_policy=policy)


def public_key_of(workspace, key_id: str) -> str:
    remote = api.call(workspace, FastPixClient.get_signing_key, key_id)
    assert remote.public_key_pem
    return remote.public_key_pem


def decode(workspace, token: str, audience: str) -> tuple[dict, dict]:
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token, public_key_of(workspace, header["kid"]), algorithms=["RS256"], audience=audience
    )
    return header, claims


def test_a_key_is_created_on_first_need_and_reused(workspace, system_token, fake_api):
    first = signing_key_for(workspace)
    again = signing_key_for(workspace)
    assert first.pk == again.pk and first.status == SigningKeyStatus.ACTIVE
    assert len(fake_api.requests_for(KEY_ROUTE)) == 1
    assert first.created_by == "system:on-demand"


def test_claims_and_signature_verify_with_the_public_key(workspace, system_token, fake_api):
    pb = private_playback(workspace)
    token = playback.playback_token(pb, subject="viewer-7")
    assert token is not None
    header, claims = decode(workspace, token, "media:pb-private-0001")
    key = SigningKey.objects.get()
    assert header["alg"] == "RS256" and header["kid"] == key.fastpix_id
    assert claims["kid"] == key.fastpix_id
    assert claims["sub"] == "viewer-7"
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - timezone.now().timestamp()) < 5


def test_drm_audience_and_clamped_lifetimes(workspace, system_token, fake_api):
    pb = private_playback(workspace, policy="drm")
    short = playback.playback_token(pb, audience="drm", lifetime=5)
    long = playback.playback_token(pb, audience="drm", lifetime=10**7)
    _, claims = decode(workspace, short, "drm:pb-private-0001")
    assert claims["exp"] - claims["iat"] == 60
    _, claims = decode(workspace, long, "drm:pb-private-0001")
    # The setting is the ceiling: a rotation keeps old keys only that long.
    assert claims["exp"] - claims["iat"] == 900
    assert "sub" not in claims
    with pytest.raises(ValueError, match="audience"):
        playback.mint_token(workspace, "pb", audience="live")  # type: ignore[arg-type]
    assert token_lifetime("nonsense") == 60


def test_public_playback_gets_no_token_and_makes_no_key(workspace, system_token, fake_api):
    pb = private_playback(workspace, "pb-public-01", policy="public")
    assert playback.playback_token(pb) is None
    assert SigningKey.objects.count() == 0
    assert fake_api.requests_for(KEY_ROUTE) == []


def test_on_demand_creation_can_be_turned_off(workspace, system_token, fake_api, settings):
    settings.FASTPIX = {**settings.FASTPIX, "CREATE_SIGNING_KEY_ON_DEMAND": False}
    with pytest.raises(SigningKeyError, match="fastpix_signing_keys create"):
        playback.playback_token(private_playback(workspace))
    assert fake_api.requests_for(KEY_ROUTE) == []


def test_a_video_only_token_is_never_sent_to_signing_key_endpoints(workspace, fake_token, fake_api):
    video_only = fake_token(scope=Scope.READ_WRITE)
    with pytest.raises(SigningKeyError, match="system permission"):
        signing_key_for(workspace)
    assert fake_api.requests_for(KEY_ROUTE) == []
    video_only.refresh_from_db()
    assert video_only.status == "active"


def test_a_token_fastpix_did_not_grant_system_gets_a_clear_error(workspace, fake_token, fake_api):
    # Recorded locally as system, but FastPix says otherwise: 403, and the token stays active.
    token = fake_token(scope=Scope.READ_WRITE, system=Scope.READ_WRITE, fake_system="none")
    with pytest.raises(SigningKeyError, match=r"403|permission"):
        signing_key_for(workspace)
    token.refresh_from_db()
    assert token.status == "active"
    assert SigningKey.objects.count() == 0


def test_rotation_overlap(workspace, system_token, fake_api):
    pb = private_playback(workspace)
    old_key = signing_key_for(workspace)
    old_token = playback.playback_token(pb)
    new_key = rotate_signing_key(workspace, by="alice")
    new_token = playback.playback_token(pb)

    old_key.refresh_from_db()
    assert old_key.status == SigningKeyStatus.RETIRING
    expected = timezone.now() + timedelta(seconds=token_lifetime()) + CLOCK_SKEW
    assert abs((old_key.expires_at - expected).total_seconds()) < 5
    assert jwt.get_unverified_header(new_token)["kid"] == new_key.fastpix_id
    # Tokens minted before the rotation still verify against the key FastPix still has.
    header, _ = decode(workspace, old_token, "media:pb-private-0001")
    assert header["kid"] == old_key.fastpix_id

    assert delete_pending_keys() == (0, 0)  # overlap not over: nothing deleted
    assert fake_api.signing_key_public_pem(old_key.fastpix_id) is not None
    SigningKey.objects.filter(pk=old_key.pk).update(expires_at=timezone.now() - timedelta(1))
    assert delete_pending_keys() == (1, 0)
    old_key.refresh_from_db()
    assert old_key.status == SigningKeyStatus.RETIRED and old_key.deleted_in_fastpix_at
    assert fake_api.signing_key_public_pem(old_key.fastpix_id) is None
    assert fake_api.signing_key_public_pem(new_key.fastpix_id) is not None


def test_a_revoked_key_is_never_used_again(workspace, system_token, fake_api):
    pb = private_playback(workspace)
    key = signing_key_for(workspace)
    signer = playback.PlaybackSigner()
    revoke_signing_key(key, by="alice", reason="leaked in a log")
    key.refresh_from_db()
    assert key.status == SigningKeyStatus.REVOKED and key.deleted_in_fastpix_at
    assert fake_api.signing_key_public_pem(key.fastpix_id) is None
    with pytest.raises(SigningKeyError):
        playback.mint_token(workspace, pb.fastpix_id, key=key)
    # The next token comes from a new key; the revoked one is never picked.
    token = signer.token(pb)
    assert jwt.get_unverified_header(token)["kid"] != key.fastpix_id
    assert SigningKey.objects.filter(status=SigningKeyStatus.ACTIVE).count() == 1


def test_revoke_holds_locally_when_fastpix_is_down_and_prune_finishes(
    workspace, system_token, fake_api
):
    key = signing_key_for(workspace)
    fake_api.inject("DELETE /iam/signing-keys/*", status=500)
    revoke_signing_key(key, reason="leak")
    key.refresh_from_db()
    assert key.status == SigningKeyStatus.REVOKED and key.deleted_in_fastpix_at is None
    assert fake_api.signing_key_public_pem(key.fastpix_id) is not None
    fake_api.clear_faults()
    assert delete_pending_keys() == (1, 0)
    assert fake_api.signing_key_public_pem(key.fastpix_id) is None


def test_tokens_play_on_the_fake_and_forgeries_are_refused(workspace, system_token, fake_api):
    created = api.call(
        workspace, FastPixClient.create_media, "https://example.com/v.mp4", access_policy="private"
    )
    fake_api.finish_processing(created.id)
    pid = created.playback_ids[0].id
    media = Media.objects.create(
        workspace=workspace, fastpix_id=created.id, status="ready", access_policy="private"
    )
    pb = PlaybackId.objects.create(media=media, fastpix_id=pid, access_policy="private")
    token = playback.playback_token(pb)
    ok = requests.get(playback.stream_url(pid, token=token), timeout=5)
    assert ok.status_code == 200 and ok.text.startswith("#EXTM3U")
    thumb = requests.get(playback.image_url(pid, width=320, token=token), timeout=5)
    assert thumb.status_code == 200 and thumb.headers["Content-Type"].startswith("image/")
    assert requests.get(playback.stream_url(pid), timeout=5).status_code in (401, 403)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert requests.get(playback.stream_url(pid, token=tampered), timeout=5).status_code == 403


def test_the_private_key_never_leaks(workspace, system_token, fake_api, caplog):
    caplog.set_level(logging.DEBUG)
    pb = private_playback(workspace)
    rotate_signing_key(workspace, by="alice")
    playback.playback_token(pb)
    key = SigningKey.objects.filter(status=SigningKeyStatus.ACTIVE).get()
    pem = key.private_key_pem()
    body = "".join(pem.strip().splitlines()[1:-1])
    assert pem.startswith("-----BEGIN") and len(body) > 1000
    fragments = [body[i : i + 40] for i in range(0, len(body) - 40, 200)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {SigningKey._meta.db_table}")
        stored = repr(cursor.fetchall())
    for haystack in (
        caplog.text,
        stored,
        repr(key),
        str(key),
        repr(list(SigningKey.objects.all())),
    ):
        assert not any(fragment in haystack for fragment in fragments)


def test_interleaved_rotations_leave_the_newest_key_active(
    workspace, system_token, fake_api, monkeypatch
):
    """Rotation A creates its key, then rotation B runs whole before A retires the old keys
    (two admins clicking at once): A must not retire B's newer key."""
    from django_fastpix.services import signing_keys

    first_key = signing_key_for(workspace)
    original = signing_keys.create_signing_key
    nested: list[SigningKey] = []

    def create_then_let_another_rotation_run(ws, *, by=""):
        key = original(ws, by=by)
        if not nested:
            nested.append(key)
            monkeypatch.setattr(signing_keys, "create_signing_key", original)
            nested.append(rotate_signing_key(ws, by="bob"))
        return key

    monkeypatch.setattr(signing_keys, "create_signing_key", create_then_let_another_rotation_run)
    rotate_signing_key(workspace, by="alice")
    newest = nested[1]
    active = list(SigningKey.objects.filter(status=SigningKeyStatus.ACTIVE))
    assert [k.pk for k in active] == [newest.pk]
    statuses = dict(SigningKey.objects.values_list("pk", "status"))
    assert statuses[first_key.pk] == statuses[nested[0].pk] == SigningKeyStatus.RETIRING


def test_the_prune_runs_as_a_task(workspace, system_token, fake_api):
    from django_fastpix.tasks import enqueue_signing_key_prune

    key = signing_key_for(workspace)
    fake_api.inject("DELETE /iam/signing-keys/*", status=500)
    revoke_signing_key(key, reason="leak")
    fake_api.clear_faults()
    result = enqueue_signing_key_prune()  # the immediate backend runs it now
    assert result.return_value == {"deleted": 1, "failed": 0}
    assert fake_api.signing_key_public_pem(key.fastpix_id) is None
