"""The encrypted token store: plaintext never reaches the database, status rules hold."""

from __future__ import annotations

import pytest
from django.core.exceptions import FieldError
from django.db import IntegrityError, connection, transaction

from django_fastpix.exceptions import DuplicateTokenError, TokenError, TokenRevokedError
from django_fastpix.models import AccessToken, TokenStatus
from django_fastpix.scopes import Scope
from django_fastpix.services.tokens import add_token, invalidate_token, revoke_token
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db(transaction=False)


def raw_row(pk: int) -> tuple[str, ...]:
    table = AccessToken._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT token_id, secret_key, token_id_hint, token_id_digest "
            f"FROM {table} WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()


def test_raw_columns_hold_no_plaintext(make_token):
    token = make_token(token_id="tok_visible_9f3e")
    raw_token_id, raw_secret, hint, digest = raw_row(token.pk)
    assert SECRET not in raw_secret and "tok_visible_9f3e" not in raw_token_id
    assert raw_secret.startswith("gAAAA")  # a Fernet token
    assert hint == "9f3e"
    assert "tok_visible" not in digest and len(digest) == 64
    fresh = AccessToken.objects.get(pk=token.pk)
    assert fresh.secret_key == SECRET and fresh.token_id == "tok_visible_9f3e"
    assert fresh.credentials().secret_key == SECRET


def test_no_secret_in_dumped_fixtures(make_token, capsys):
    from django.core.management import call_command

    make_token()
    call_command("dumpdata", "django_fastpix.accesstoken")
    out = capsys.readouterr().out
    assert SECRET not in out and "tok_0001" not in out and '"<encrypted>"' in out


def test_repr_and_str_show_name_and_hint_only(make_token):
    token = make_token(token_id="tok_repr_0000_7777", name="main")
    for text in (repr(token), str(token), repr(AccessToken.objects.get(pk=token.pk))):
        assert SECRET not in text
        assert "tok_repr" not in text
        assert "7777" in text and "main" in text
    assert SECRET not in repr(token.credentials()) and SECRET not in str(token.credentials())


def test_digest_keeps_token_unique_per_workspace(make_token, other_workspace):
    make_token(token_id="tok_same_0000_1234")
    with pytest.raises(DuplicateTokenError) as excinfo:
        make_token(token_id="tok_same_0000_1234")
    assert "tok_same" not in str(excinfo.value) and "1234" in str(excinfo.value)
    # The same id in another workspace is a different token.
    make_token(token_id="tok_same_0000_1234", ws=other_workspace)
    assert AccessToken.objects.count() == 2


def test_database_constraint_backs_the_digest(make_token, workspace):
    original = make_token(token_id="tok_dupe_0001")
    twin = AccessToken(workspace=workspace, name="twin", token_id="tok_dupe_0001", secret_key="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
    assert AccessToken.objects.get().pk == original.pk


def test_filters_on_encrypted_columns_are_refused(make_token):
    token = make_token(token_id="tok_filter_0001")
    with pytest.raises(FieldError, match="digest"):
        AccessToken.objects.filter(token_id="tok_filter_0001").count()
    assert AccessToken.objects.for_token_id(token.workspace, "tok_filter_0001").get() == token


def test_empty_or_spaced_credentials_are_refused(workspace):
    for token_id, secret in (("", "s"), ("id", ""), ("id with space", "s"), ("id", "a b")):
        with pytest.raises(TokenError):
            add_token(workspace=workspace, name="n", token_id=token_id, secret_key=secret)
    assert not AccessToken.objects.exists()


def test_usable_for_prefers_least_privilege(make_token, other_workspace):
    rw = make_token(scope=Scope.READ_WRITE)
    ro = make_token(scope=Scope.READ)
    make_token(scope=Scope.READ, ws=other_workspace)
    revoked = make_token(scope=Scope.READ)
    revoke_token(revoked, reason="leaked", by="test")
    invalid = make_token(scope=Scope.READ_WRITE)
    invalidate_token(invalid, reason="401", by="test")

    assert list(AccessToken.objects.usable_for(rw.workspace, Scope.READ)) == [ro, rw]
    assert list(AccessToken.objects.usable_for(rw.workspace, Scope.READ_WRITE)) == [rw]


def test_revocation_is_irreversible(make_token):
    token = make_token()
    stale = AccessToken.objects.get(pk=token.pk)
    assert revoke_token(token, reason="leaked in a log", by="alice") is True
    assert token.status == TokenStatus.REVOKED
    assert token.status_reason == "leaked in a log" and token.status_changed_by == "alice"
    assert token.status_changed_at is not None

    assert revoke_token(token, reason="again", by="bob") is False
    with pytest.raises(TokenRevokedError):
        invalidate_token(token, reason="x", by="bob")
    # A copy loaded before the revoke cannot write it back to active.
    stale.name = "renamed"
    with pytest.raises(TokenRevokedError):
        stale.save()
    token.refresh_from_db()
    assert token.status == TokenStatus.REVOKED and token.status_changed_by == "alice"


def test_revoke_needs_a_reason(make_token):
    token = make_token()
    with pytest.raises(TokenError):
        revoke_token(token, reason="  ", by="alice")
    token.refresh_from_db()
    assert token.status == TokenStatus.ACTIVE


def test_token_signals_fire_after_commit(make_token, django_capture_on_commit_callbacks):
    from django_fastpix import signals

    received: list[tuple[str, str]] = []

    def on_revoked(sender, token, reason, by, **kwargs):
        received.append(("revoked", reason))

    def on_invalid(sender, token, reason, **kwargs):
        received.append(("invalid", reason))

    signals.token_revoked.connect(on_revoked)
    signals.token_invalidated.connect(on_invalid)
    try:
        a, b = make_token(), make_token()
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            revoke_token(a, reason="leak", by="t")
            invalidate_token(b, reason="401", by="t")
        assert received == []  # nothing before commit
        for callback in callbacks:
            callback()
        assert received == [("revoked", "leak"), ("invalid", "401")]
    finally:
        signals.token_revoked.disconnect(on_revoked)
        signals.token_invalidated.disconnect(on_invalid)


def test_a_revoked_token_cannot_come_back_after_a_secret_key_rotation(make_token, settings):
    token = make_token(token_id="tok_leaked_0042")
    revoke_token(token, reason="leaked", by="ops")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-after-the-leak"
    with pytest.raises(DuplicateTokenError):
        make_token(token_id="tok_leaked_0042")
    # fastpix_rotate_keys moves every digest to the new key; then the fallback can go.
    from django_fastpix.services.encryption import rotate_encryption_keys

    assert rotate_encryption_keys().rotated == 1
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(DuplicateTokenError):
        make_token(token_id="tok_leaked_0042")
    assert AccessToken.objects.get().status == TokenStatus.REVOKED


def test_loaddata_cannot_overwrite_secrets_with_the_dump_placeholder(make_token, tmp_path):
    from django.core.management import call_command

    token = make_token()
    dump = tmp_path / "tokens.json"
    call_command("dumpdata", "django_fastpix.accesstoken", output=str(dump))
    with pytest.raises(Exception, match="placeholder"):
        call_command("loaddata", str(dump), verbosity=0)
    token.refresh_from_db()
    assert token.credentials().secret_key == SECRET
