"""fastpix_signing_keys against the fake FastPix: create, list, rotate, revoke, prune; errors
end as CommandErrors (non-zero exit); no output, log record or stored column holds the key."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from django_fastpix.models import SigningKey, SigningKeyStatus
from django_fastpix.scopes import Scope
from django_fastpix.services.signing_keys import (
    CLOCK_SKEW,
    create_signing_key,
    signing_key_for,
    token_lifetime,
)
from tests.commands.conftest import ROOT, run, run_capturing
from tests.conftest import subprocess_env
from tests.integration.test_signing_key_admin import (
    assert_no_private_key,
    key_requests,
    private_key_fragments,
    stored_rows,
)

pytestmark = pytest.mark.django_db


def keys(*args: str) -> str:
    return run("fastpix_signing_keys", *args)


def refused(*args: str) -> str:
    output, error = run_capturing("fastpix_signing_keys", *args)
    assert isinstance(error, CommandError), (output, error)
    return str(error)


@pytest.fixture
def system_token(fake_token):
    return fake_token(scope=Scope.READ_WRITE, system=Scope.READ_WRITE)


def test_create_list_rotate_and_prune(workspace, system_token, fake_api):
    out = keys("create", "--workspace", "prod")
    key = SigningKey.objects.get()
    assert f"Created signing key {key.fastpix_id} for workspace 'prod'" in out
    assert key.created_by.startswith("cli:") and key.status == SigningKeyStatus.ACTIVE

    out = keys("rotate", "--workspace", "prod")
    key.refresh_from_db()
    new = SigningKey.objects.get(status=SigningKeyStatus.ACTIVE)
    assert key.status == SigningKeyStatus.RETIRING
    expected = timezone.now() + timedelta(seconds=token_lifetime()) + CLOCK_SKEW
    assert abs((key.expires_at - expected).total_seconds()) < 10
    assert f"{new.fastpix_id} signs new tokens" in out and f"{key.fastpix_id} is retiring" in out

    listing = keys("list")
    assert "KEY ID" in listing and new.fastpix_id in listing and "retiring" in listing
    rows = json.loads(keys("list", "--json"))
    assert [(r["fastpix_id"], r["status"]) for r in rows] == [
        (new.fastpix_id, "active"),
        (key.fastpix_id, "retiring"),
    ]
    assert rows[1]["expires_at"] == key.expires_at.isoformat()
    assert set(rows[0]) == {
        "id", "workspace", "fastpix_id", "status", "status_reason", "status_changed_at",
        "status_changed_by", "created_at", "created_by", "expires_at", "deleted_in_fastpix_at",
    }  # fmt: skip
    assert json.loads(keys("list", "--status", "retiring", "--json"))[0]["id"] == key.pk
    assert json.loads(keys("list", "--workspace", "prod", "--status", "revoked", "--json")) == []

    assert json.loads(keys("prune", "--json")) == {"deleted": 0, "failed": 0}
    SigningKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(1))
    assert "Deleted 1 signing key(s) in FastPix." in keys("prune")
    key.refresh_from_db()
    assert key.status == SigningKeyStatus.RETIRED and key.deleted_in_fastpix_at
    assert fake_api.signing_key_public_pem(key.fastpix_id) is None


def test_revoke_needs_a_reason_deletes_in_fastpix_and_the_key_is_never_picked_again(
    workspace, system_token, fake_api
):
    key = create_signing_key(workspace, by="test")
    assert "--reason" in refused("revoke", key.fastpix_id)
    out = json.loads(keys("revoke", key.fastpix_id, "--reason", "leaked", "--json"))
    assert out["status"] == "revoked" and out["deleted_in_fastpix_at"]
    assert fake_api.signing_key_public_pem(key.fastpix_id) is None
    key.refresh_from_db()
    assert key.status_reason == "leaked" and key.status_changed_by.startswith("cli:")
    assert signing_key_for(workspace).pk != key.pk
    assert "already revoked" in keys("revoke", key.fastpix_id, "--reason", "again")
    assert "No signing key 'nope'" in refused("revoke", "nope", "--reason", "x")


def test_revoke_that_fastpix_could_not_finish_exits_non_zero_and_prune_retries(
    workspace, system_token, fake_api
):
    key = create_signing_key(workspace, by="test")
    fake_api.inject("DELETE /iam/signing-keys/*", status=500)
    message = refused("revoke", key.fastpix_id, "--reason", "leak")
    assert "still accepts tokens signed with it" in message and "prune" in message
    assert SigningKey.objects.get().status == SigningKeyStatus.REVOKED
    assert "could not be deleted" in refused("prune")
    fake_api.clear_faults()
    assert "Deleted 1 signing key(s)" in keys("prune")
    assert fake_api.signing_key_public_pem(key.fastpix_id) is None


def test_a_token_without_system_permission_is_never_sent(workspace, fake_token, fake_api):
    video_only = fake_token(scope=Scope.READ_WRITE, fake_system="read_write")
    for args in (("create", "--workspace", "prod"), ("rotate", "--workspace", "prod")):
        message = refused(*args)
        assert "system permission" in message
        assert "fastpix_token permissions ID --system read_write" in message
    assert key_requests(fake_api, video_only.credentials().token_id) == []
    assert key_requests(fake_api) == []
    assert not SigningKey.objects.exists()


def test_fastpix_refusing_the_recorded_system_permission(workspace, fake_token, fake_api):
    fake_token(system=Scope.READ_WRITE, fake_system="none")
    message = refused("create", "--workspace", "prod")
    assert "403" in message and "record what it really has" in message


def test_unknown_workspace_and_ambiguous_key_ids(workspace, other_workspace, system_token):
    assert "No workspace 'nope'" in refused("create", "--workspace", "nope")
    for ws in (workspace, other_workspace):
        SigningKey.objects.create(workspace=ws, fastpix_id="same-id", private_key="x")
    assert "--workspace SLUG" in refused("revoke", "same-id", "--reason", "x")
    assert keys("list", "--status", "retired").strip() == "No signing keys."


def test_no_output_log_or_stored_column_holds_the_private_key(
    workspace, system_token, fake_api, caplog, settings
):
    settings.DEBUG = True  # Django logs every SQL statement with its parameters
    caplog.set_level(logging.DEBUG)
    outputs = [
        keys("create", "--workspace", "prod"),
        keys("rotate", "--workspace", "prod", "--json"),
    ]
    outputs += [
        keys("rotate", "--workspace", "prod"),
        keys("create", "--workspace", "prod", "--json"),
    ]
    outputs += [keys("list"), keys("list", "--json")]
    first = SigningKey.objects.order_by("pk").first()
    outputs += [keys("revoke", first.fastpix_id, "--reason", "test", "--json")]
    outputs += [keys("prune"), keys("prune", "--json")]
    assert any(r.name == "django.db.backends" for r in caplog.records)
    stored = stored_rows()
    for key in SigningKey.objects.all():
        assert_no_private_key(private_key_fragments(key), *outputs, caplog.text, stored)


@pytest.mark.django_db(transaction=True)
def test_a_failure_exits_non_zero_with_one_line(workspace, fake_token, fake_api):
    fake_token()  # video only: no key can be created
    result = subprocess.run(
        [sys.executable, "-m", "django", "fastpix_signing_keys", "create", "--workspace", "prod"],
        env=subprocess_env(FASTPIX_API_BASE_URL=fake_api.base_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    # The last line (system checks warn first: the fake is plain http).
    line = result.stderr.strip().splitlines()[-1]
    assert (
        line.startswith("CommandError: FastPix did not create a signing key") and "system" in line
    )
    assert key_requests(fake_api) == []
