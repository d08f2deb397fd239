"""fastpix_doctor on private playback: private media without a way to sign, signing keys
FastPix should no longer hold, keys that do not decrypt, and tokens by area (a Data-only
token reported as unverifiable, a workspace without a Video token)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from django_fastpix.models import Media, MediaStatus, SigningKey, SigningKeyStatus
from django_fastpix.scopes import Scope
from django_fastpix.services.signing_keys import create_signing_key, revoke_signing_key
from django_fastpix.services.tokens import add_token
from tests.commands.conftest import run_capturing
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(workspace, settings):
    settings.DEBUG = True  # the fake is plain http: no fastpix.W001 in these reports
    workspace.webhook_secret = base64.b64encode(b"webhook-signing-secret-of-32-bytes!").decode()
    workspace.save()
    return workspace


def doctor(*args: str) -> tuple[dict, Exception | None]:
    out, error = run_capturing("fastpix_doctor", "--json", *args)
    return json.loads(out), error


def findings(report: dict, level: str, text: str) -> list[dict]:
    return [f for f in report["findings"] if f["level"] == level and text in f["message"]]


def private_media(workspace, policy: str = "private", status: str = MediaStatus.READY) -> Media:
    return Media.objects.create(workspace=workspace, access_policy=policy, status=status)


def test_private_media_without_a_key_or_a_system_token_fail(site, fake_token):
    fake_token()  # video only
    private_media(site, "public")
    report, error = doctor("--no-verify")
    assert error is None and findings(report, "FAIL", "private media") == []
    private_media(site, "private")
    private_media(site, "drm")
    private_media(site, "private", status=MediaStatus.DELETED)  # gone: plays nothing
    report, error = doctor("--no-verify")
    assert isinstance(error, CommandError)
    [finding] = findings(report, "FAIL", "private media")
    assert (
        finding["message"].startswith("2 private media") and "playback fails" in finding["message"]
    )
    assert (
        "--system read_write" in finding["remedy"]
        and "fastpix_signing_keys create" in finding["remedy"]
    )


def test_a_system_token_or_an_active_key_is_enough(site, fake_token, settings):
    private_media(site)
    fake_token(system=Scope.READ_WRITE)
    report, error = doctor("--no-verify")
    assert error is None
    [ok] = findings(report, "OK", "no signing key yet")
    assert "created through FastPix on the first private playback" in ok["message"]

    settings.FASTPIX = {**settings.FASTPIX, "CREATE_SIGNING_KEY_ON_DEMAND": False}
    report, error = doctor("--no-verify")
    [fail] = findings(report, "FAIL", "CREATE_SIGNING_KEY_ON_DEMAND")
    assert "fastpix_signing_keys create --workspace prod" in fail["remedy"]

    key = create_signing_key(site, by="test")
    report, error = doctor("--no-verify")
    assert error is None and findings(report, "OK", f"signed with key {key.fastpix_id}")


def test_revoked_and_expired_retiring_keys_still_in_fastpix(site, fake_token, fake_api):
    fake_token(system=Scope.READ_WRITE)
    leaked = create_signing_key(site, by="test")
    old = create_signing_key(site, by="test")
    create_signing_key(site, by="test")
    fake_api.inject("DELETE /iam/signing-keys/*", status=500)
    revoke_signing_key(leaked, reason="leak")
    fake_api.clear_faults()
    SigningKey.objects.filter(pk=old.pk).update(
        status=SigningKeyStatus.RETIRING, expires_at=timezone.now() + timedelta(minutes=5)
    )
    report, error = doctor("--no-verify")
    assert isinstance(error, CommandError)
    [fail] = findings(report, "FAIL", "Revoked signing key(s)")
    assert leaked.fastpix_id in fail["message"] and "fastpix_signing_keys prune" in fail["remedy"]
    assert findings(report, "WARN", "Retiring signing key(s)") == []  # overlap not over

    SigningKey.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    report, _ = doctor("--no-verify")
    [warn] = findings(report, "WARN", "Retiring signing key(s)")
    assert old.fastpix_id in warn["message"] and "prune" in warn["remedy"]

    run_capturing("fastpix_signing_keys", "prune")
    report, error = doctor("--no-verify")
    assert error is None
    assert findings(report, "FAIL", "signing key") == findings(report, "WARN", "signing key") == []


def test_an_active_key_that_does_not_decrypt(site, fake_token, settings, new_key):
    fake_token(system=Scope.READ_WRITE)
    key = create_signing_key(site, by="test")
    old_key = settings.FIELD_ENCRYPTION_KEY
    SigningKey.objects.filter(pk=key.pk).update(status=SigningKeyStatus.ACTIVE)
    settings.FIELD_ENCRYPTION_KEY = [new_key]  # the key's encryption key is no longer listed
    report, error = doctor("--no-verify")
    assert isinstance(error, CommandError)
    [fail] = findings(report, "FAIL", f"Signing key {key.fastpix_id} cannot be decrypted")
    assert "fastpix_signing_keys rotate --workspace prod" in fail["remedy"]
    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]
    report, _ = doctor("--no-verify")
    assert findings(report, "FAIL", "cannot be decrypted") == []


def test_tokens_by_area(site, fake_api):
    add_token(
        workspace=site, name="signer", token_id="tok_signer_0001", secret_key=SECRET,
        scope=Scope.NONE, system_scope=Scope.READ_WRITE,
    )  # fmt: skip
    report, _ = doctor("--no-verify")
    [fail] = findings(report, "FAIL", "No active token with Video permission")
    assert "--video read_write" in fail["remedy"]

    analytics = add_token(
        workspace=site, name="analytics", token_id="tok_data_0002", secret_key=SECRET,
        scope=Scope.NONE, data_scope=Scope.READ,
    )  # fmt: skip
    fake_api.add_token("tok_signer_0001", SECRET, "none", "ws-default", system="read_write")
    report, _ = doctor()
    [warn] = findings(report, "WARN", f"Token #{analytics.pk} analytics")
    assert "Not verified" in warn["message"]
    assert f"fastpix_token permissions {analytics.pk}" in warn["remedy"]
    assert findings(report, "OK", "signer (…")[0]["message"].endswith("FastPix accepted it.")
    assert [r.path for r in fake_api.requests] == ["/v1/iam/signing-keys"]
