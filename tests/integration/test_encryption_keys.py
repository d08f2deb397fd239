"""Fail-closed decryption with a wrong key, the checks that catch it, and key rotation."""

from __future__ import annotations

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from django_fastpix.exceptions import EncryptionKeyError, UndecryptableValueError
from django_fastpix.fields import UndecryptableValue
from django_fastpix.models import AccessToken
from django_fastpix.services import encryption
from tests.conftest import SECRET
from tests.settings import FIELD_ENCRYPTION_KEY as ORIGINAL_KEY

pytestmark = pytest.mark.django_db


def raw_secret(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret_key FROM {AccessToken._meta.db_table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def check_ids() -> list[str]:
    return [m.id for m in run_checks()]


def test_wrong_key_fails_closed_and_never_rewrites(make_token, settings, new_key):
    token = make_token(name="prod main")
    before = raw_secret(token.pk)
    settings.FIELD_ENCRYPTION_KEY = new_key  # the key that encrypted the row is gone

    loaded = AccessToken.objects.get(pk=token.pk)
    assert isinstance(loaded.secret_key, UndecryptableValue)
    with pytest.raises(UndecryptableValueError) as excinfo:
        loaded.credentials()
    message = str(excinfo.value)
    assert f"#{token.pk}" in message and "prod main" in message
    assert "fastpix_rotate_keys" in message and "FIELD_ENCRYPTION_KEY" in message
    assert before not in message and SECRET not in message
    with pytest.raises(UndecryptableValueError):
        str(loaded.secret_key)

    # Saving the row for another reason writes the ciphertext back byte for byte.
    loaded.name = "renamed while the key was wrong"
    loaded.save()
    assert raw_secret(token.pk) == before

    # Adding the original key back recovers the secret: nothing was lost.
    settings.FIELD_ENCRYPTION_KEY = [new_key, ORIGINAL_KEY]
    assert AccessToken.objects.get(pk=token.pk).credentials().secret_key == SECRET


def test_undecryptable_value_refuses_to_be_text():
    value = UndecryptableValue("gAAAAciphertext")
    with pytest.raises(EncryptionKeyError):
        str(value)
    assert "gAAAA" not in repr(value)


def test_checks_catch_missing_malformed_and_wrong_keys(make_token, settings, new_key):
    make_token()
    assert not {"fastpix.E001", "fastpix.E002"} & set(check_ids())

    settings.FIELD_ENCRYPTION_KEY = new_key
    assert "fastpix.E002" in check_ids()

    settings.FIELD_ENCRYPTION_KEY = "not-a-fernet-key"
    messages = [m for m in run_checks() if m.id == "fastpix.E001"]
    assert messages and "malformed" in messages[0].msg

    del settings.FIELD_ENCRYPTION_KEY
    messages = [m for m in run_checks() if m.id == "fastpix.E001"]
    assert messages and "not set" in messages[0].msg


def test_settings_checks(settings):
    settings.FASTPIX = {"API_BASE_URL": "http://127.0.0.1:9/v1"}
    settings.DEBUG = False
    assert "fastpix.W001" in check_ids()
    settings.DEBUG = True
    assert "fastpix.W001" not in check_ids()
    settings.FASTPIX = {"API_BASE_UR": "https://x"}
    errors = [m for m in run_checks() if m.id == "fastpix.E003"]
    assert errors and "API_BASE_UR" in errors[0].msg


def test_unknown_setting_key_is_named(settings):
    from django.core.exceptions import ImproperlyConfigured

    from django_fastpix.conf import fastpix_settings

    settings.FASTPIX = {"READ_TIMEOUT": 3, "RETRIES": 2}
    with pytest.raises(ImproperlyConfigured, match="RETRIES"):
        _ = fastpix_settings.READ_TIMEOUT
    settings.FASTPIX = {"READ_TIMEOUT": 3}
    assert fastpix_settings.READ_TIMEOUT == 3  # read on every access, no restart needed
    assert fastpix_settings.CONNECT_TIMEOUT == 5.0


def test_rotation_of_1000_tokens_loses_nothing(workspace, settings, new_key):
    old_key = settings.FIELD_ENCRYPTION_KEY
    tokens = [
        AccessToken(workspace=workspace, name=f"t{i}", token_id=f"tok_{i:05d}", secret_key=f"s{i}x")
        for i in range(1000)
    ]
    for t in tokens:  # what save() would fill in; bulk_create skips save()
        from django_fastpix.models.token import token_id_digest, token_id_hint

        t.token_id_hint, t.token_id_digest = token_id_hint(t.token_id), token_id_digest(t.token_id)
    AccessToken.objects.bulk_create(tokens, batch_size=250)

    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]
    out = io.StringIO()
    call_command("fastpix_rotate_keys", "--batch-size", "300", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "rotated": 1000,
        "already_current": 0,
        "undecryptable": [],
    }

    again = encryption.rotate_encryption_keys(batch_size=300)
    assert (again.rotated, again.already_current, again.undecryptable) == (0, 1000, [])

    settings.FIELD_ENCRYPTION_KEY = new_key  # the old key is removed
    values = dict(AccessToken.objects.values_list("name", "secret_key"))
    assert len(values) == 1000
    assert all(values[f"t{i}"] == f"s{i}x" for i in range(1000))
    assert "fastpix.E002" not in check_ids()


def test_rotation_resumes_after_an_interruption(make_token, settings, new_key):
    old_key = settings.FIELD_ENCRYPTION_KEY
    for _ in range(7):
        make_token()
    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]

    class Interrupted(Exception):
        pass

    def crash_after_first_batch(report: encryption.RotationReport) -> None:
        if report.total:
            raise Interrupted

    with pytest.raises(Interrupted):
        encryption.rotate_encryption_keys(batch_size=3, progress=crash_after_first_batch)
    resumed = encryption.rotate_encryption_keys(batch_size=3)
    assert (resumed.rotated, resumed.already_current) == (4, 3)
    settings.FIELD_ENCRYPTION_KEY = new_key
    assert all(t.credentials().secret_key == SECRET for t in AccessToken.objects.all())


def test_rotation_reports_rows_it_cannot_decrypt_and_fails(make_token, settings, new_key):
    token = make_token()
    before = raw_secret(token.pk)
    settings.FIELD_ENCRYPTION_KEY = [new_key, Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match=f"#{token.pk}"):
        call_command("fastpix_rotate_keys")
    assert raw_secret(token.pk) == before
