"""fastpix_doctor: what is wrong, and what to do about it; non-zero exit on any FAIL."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from django_fastpix.models import AccessToken, Media, MediaStatus, TokenStatus
from django_fastpix.scopes import Scope
from tests.commands.conftest import assert_no_secret, run_capturing

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = base64.b64encode(b"webhook-signing-secret-of-32-bytes!").decode()


@pytest.fixture
def healthy(workspace, fake_token):
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    return [fake_token(), fake_token(scope=Scope.READ, fake_scope="read")]


def doctor(*args: str) -> tuple[str, Exception | None]:
    return run_capturing("fastpix_doctor", *args)


def lines(out: str, level: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(level)]


def test_healthy_setup_passes(healthy, fake_api, all_logs):
    out, error = doctor()
    assert error is None, out
    assert lines(out, "FAIL") == []
    assert "workspace prod: Writes: 1 active read_write token(s)." in out
    assert out.count("FastPix accepted it.") == 2
    assert "Webhook secret is set." in out and "No stuck or failed media" in out
    assert "Every stored FastPix secret decrypts." in out
    # The fake is plain http while DEBUG is off: the system check's warning, not a failure.
    assert any("fastpix.W001" in line for line in lines(out, "WARN"))
    assert len(fake_api.requests_for("GET /on-demand")) == 2
    assert_no_secret(out, all_logs.text)
    assert WEBHOOK_SECRET not in out + all_logs.text


def test_json_and_no_verify(healthy, fake_api, settings):
    settings.DEBUG = True  # http is fine for development: no warning then
    out, error = doctor("--json", "--no-verify")
    assert error is None
    report = json.loads(out)
    assert report["ok"] and report["counts"]["FAIL"] == 0 and report["counts"]["WARN"] == 0
    assert {f["area"] for f in report["findings"]} == {"settings", "encryption", "workspace prod"}
    assert fake_api.requests == []


def test_wrong_encryption_key_fails_with_the_remedy(healthy, fake_api, settings, new_key):
    settings.FIELD_ENCRYPTION_KEY = new_key  # the key that encrypted everything is gone
    out, error = doctor()
    assert isinstance(error, CommandError)
    failed = "\n".join(lines(out, "FAIL"))
    assert "[fastpix.E002]" in failed and "cannot be decrypted" in failed
    assert "webhook secret cannot be decrypted" in failed
    assert "fastpix_rotate_keys" in out and "FIELD_ENCRYPTION_KEY" in out
    assert fake_api.requests == []  # nothing to verify with
    assert_no_secret(out, str(error))


def test_malformed_encryption_key_is_reported_not_raised(healthy, settings):
    settings.FIELD_ENCRYPTION_KEY = "not-a-fernet-key"
    out, error = doctor("--json")
    assert isinstance(error, CommandError)
    failed = [f for f in json.loads(out)["findings"] if f["level"] == "FAIL"]
    assert [f["check_id"] for f in failed] == ["fastpix.E001"]
    assert "Fernet key" in failed[0]["remedy"]


def test_workspace_without_write_token(workspace, fake_token, fake_api):
    fake_token(scope=Scope.READ, fake_scope="read")
    out, _ = doctor("--json")
    findings = json.loads(out)["findings"]
    (write,) = [f for f in findings if "read_write" in f["message"]]
    assert write["level"] == "WARN" and "--video read_write" in write["remedy"]


def test_workspace_without_any_token_fails(workspace, other_workspace, fake_token, fake_api):
    fake_token()
    out, error = doctor()
    assert isinstance(error, CommandError)
    (failed,) = lines(out, "FAIL")
    assert "workspace dev: No active token" in failed
    assert "fastpix_token add --workspace dev" in out


def test_token_revoked_at_fastpix_fails_verify(healthy, fake_api):
    writer = healthy[0]
    fake_api.revoke_token(writer.credentials().token_id)
    out, error = doctor()
    assert isinstance(error, CommandError)
    (failed,) = lines(out, "FAIL")
    assert f"Token #{writer.pk}" in failed and "401" in failed
    assert f"fastpix_token revoke {writer.pk}" in out
    assert AccessToken.objects.get(pk=writer.pk).status == TokenStatus.INVALID
    assert_no_secret(out)
    # Next time the token is no longer active: the doctor says so, and what to do.
    out, _ = doctor("--no-verify")
    assert "1 token(s) invalid" in out and "fastpix_token verify --workspace prod" in out


def test_stuck_and_failed_media_are_counted(healthy, workspace):
    old = Media.objects.create(workspace=workspace, source_url="https://x.example/a.mp4")
    Media.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=1))
    Media.objects.create(workspace=workspace, source_url="https://x.example/b.mp4")  # recent
    Media.objects.create(workspace=workspace, status=MediaStatus.FAILED, error="bad input")
    out, error = doctor("--no-verify")
    assert error is None  # warnings only
    warned = "\n".join(lines(out, "WARN"))
    assert "1 media pending for over 15 min" in warned and "1 media failed" in warned
    assert "fastpix_media list --workspace prod --status failed" in out
    out, _ = doctor("--no-verify", "--stuck-minutes", "0")
    assert "2 media pending for over 0 min" in out


def test_missing_webhook_secret_and_undecodable_one(workspace, fake_token):
    fake_token()
    out, _ = doctor("--no-verify")
    assert "No webhook secret" in "\n".join(lines(out, "WARN"))
    workspace.webhook_secret = "not base64!"
    workspace.save()
    out, error = doctor("--no-verify")
    assert isinstance(error, CommandError) and "not base64" in out


def test_no_workspace_yet(db):
    out, error = doctor()
    assert error is None and "No workspace yet." in out


@pytest.mark.django_db(transaction=True)
def test_exit_status_is_non_zero_on_failure(
    manage, workspace, other_workspace, fake_token, fake_api
):
    fake_token()
    result = manage("fastpix_doctor", env={"FASTPIX_API_BASE_URL": fake_api.base_url})
    assert result.returncode != 0, result.stdout
    assert "FastPix accepted it." in result.stdout
    assert "workspace dev: No active token" in result.stdout
    assert "1 problem(s) to fix" in result.stderr
    assert_no_secret(result.stdout, result.stderr)
