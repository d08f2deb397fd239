"""The token admin: adding with verification, read-only credentials, status actions."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from django_fastpix.models import AccessToken, TokenStatus
from django_fastpix.services.tokens import invalidate_token, revoke_token
from tests.admin.conftest import action_post, admin_url, confirm_post, messages_of
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

TOKEN_ID = "tok_admin_add_7f3a9c"


def add_data(workspace, **extra):
    data = {
        "workspace": str(workspace.pk),
        "name": "uploader",
        "scope": "read_write",
        "data_scope": "none",
        "system_scope": "none",
        "token_id": TOKEN_ID,
        "secret_key": SECRET,
    }
    data.update(extra)
    return data


def change_data(name: str, **levels: str) -> dict[str, str]:
    """The change form's POST: the name and the three recorded permission levels."""
    return {"name": name, "scope": "read_write", "data_scope": "none", "system_scope": "none"} | (
        levels
    )


def form_errors(response) -> str:
    form = response.context["adminform"].form
    return " ".join(str(e) for e in form.non_field_errors()) + " " + str(form.errors)


# --- add ---


def test_add_verifies_the_pair_with_fastpix_before_saving(admin_client, workspace, fake_api):
    fake_api.add_token(TOKEN_ID, SECRET, "read_write", "ws-default")
    response = admin_client.post(admin_url("accesstoken", "add"), add_data(workspace))
    assert response.status_code == 302, form_errors(response)
    token = AccessToken.objects.get()
    assert token.name == "uploader" and token.token_id_hint == TOKEN_ID[-4:]
    assert token.credentials().secret_key == SECRET
    assert token.status == TokenStatus.ACTIVE and token.last_verified_at is not None
    assert fake_api.requests_for("GET /on-demand")  # FastPix was asked


def test_add_refused_by_fastpix_saves_nothing(admin_client, workspace, fake_api):
    response = admin_client.post(admin_url("accesstoken", "add"), add_data(workspace))
    assert response.status_code == 200
    assert "FastPix rejected this token id / secret key (401)" in form_errors(response)
    assert not AccessToken.objects.exists()


def test_add_when_fastpix_unreachable_offers_saving_unverified(admin_client, workspace, fake_api):
    fake_api.inject("GET /on-demand", reset=True)
    response = admin_client.post(admin_url("accesstoken", "add"), add_data(workspace))
    assert response.status_code == 200
    errors = form_errors(response)
    assert "could not be reached" in errors and "Save without verifying" in errors
    assert not AccessToken.objects.exists()

    response = admin_client.post(
        admin_url("accesstoken", "add"), add_data(workspace, save_unverified="on")
    )
    assert response.status_code == 302
    token = AccessToken.objects.get()
    assert token.last_verified_at is None and token.status == TokenStatus.ACTIVE


def test_add_unverified_asks_fastpix_nothing(admin_client, workspace, fake_api):
    response = admin_client.post(
        admin_url("accesstoken", "add"), add_data(workspace, save_unverified="on")
    )
    assert response.status_code == 302
    assert fake_api.requests == []
    assert AccessToken.objects.get().last_verified_at is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("token_id", "tok with space", "contains whitespace"),
        ("secret_key", "sk 123", "contains whitespace"),
        ("token_id", "tok:colon", "which no FastPix token id has"),
        ("token_id", "", "This field is required"),
    ],
)
def test_add_rejects_malformed_credentials_locally(admin_client, workspace, field, value, message):
    response = admin_client.post(
        admin_url("accesstoken", "add"), add_data(workspace, **{field: value})
    )
    assert response.status_code == 200
    assert message in form_errors(response)
    assert not AccessToken.objects.exists()


def test_add_duplicate_in_workspace_is_a_form_error(admin_client, workspace, make_token):
    make_token(token_id=TOKEN_ID)
    response = admin_client.post(
        admin_url("accesstoken", "add"), add_data(workspace, save_unverified="on")
    )
    assert response.status_code == 200
    assert f"already holds a token ending …{TOKEN_ID[-4:]}" in form_errors(response)
    assert AccessToken.objects.count() == 1


def test_add_page_inputs_are_write_only(admin_client):
    html = admin_client.get(admin_url("accesstoken", "add")).content.decode()
    assert 'type="password" name="token_id"' in html
    assert 'type="password" name="secret_key"' in html
    assert 'name="save_unverified"' in html


# --- change page ---


def test_change_page_has_no_credential_fields_and_only_name_and_permissions_editable(
    admin_client, make_token
):
    token = make_token()
    html = admin_client.get(admin_url("accesstoken", "change", token.pk)).content.decode()
    assert 'name="token_id"' not in html and 'name="secret_key"' not in html
    assert 'name="name"' in html
    for field in ("scope", "data_scope", "system_scope"):
        assert f'name="{field}"' in html
    assert 'name="workspace"' not in html
    assert token.token_id_hint in html
    for label in ("Status reason", "Status changed at", "Last used at", "Last verified at"):
        assert label in html


def test_renaming_keeps_credentials_and_status(admin_client, make_token):
    token = make_token()
    response = admin_client.post(
        admin_url("accesstoken", "change", token.pk), change_data("renamed")
    )
    assert response.status_code == 302
    token = AccessToken.objects.get(pk=token.pk)
    assert token.name == "renamed" and token.credentials().secret_key == SECRET


def test_revoked_token_is_read_only_and_cannot_be_deleted(admin_client, make_token):
    token = make_token(name="leaked")
    revoke_token(token, reason="leak", by="test")
    change = admin_url("accesstoken", "change", token.pk)
    html = admin_client.get(change).content.decode()
    assert 'name="name"' not in html  # view-only page
    assert admin_client.post(change, {"name": "renamed"}).status_code == 403
    assert (
        admin_client.post(admin_url("accesstoken", "delete", token.pk), {"post": "yes"}).status_code
        == 403
    )
    assert AccessToken.objects.get(pk=token.pk).name == "leaked"


def test_active_token_can_be_deleted_by_a_manager(admin_client, make_token):
    token = make_token()
    response = admin_client.post(admin_url("accesstoken", "delete", token.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not AccessToken.objects.exists()


def test_no_bulk_delete_and_no_activate_action(admin_client, make_token):
    make_token()
    response = admin_client.get(admin_url("accesstoken", "changelist"))
    choices = [value for value, _ in response.context["action_form"].fields["action"].choices]
    assert choices == ["", "verify_tokens", "revoke_tokens", "invalidate_tokens"]


# --- list ---


def test_changelist_columns_filters_and_search(admin_client, make_token, other_workspace):
    make_token(name="alpha", token_id="tok_alpha_0000_aaaa")
    make_token(name="beta", token_id="tok_beta_00000_bbbb", ws=other_workspace)
    url = admin_url("accesstoken", "changelist")
    html = admin_client.get(url).content.decode()
    assert "alpha" in html and "beta" in html and "fastpix-badge-active" in html
    assert "aaaa" in html and "bbbb" in html
    by_hint = admin_client.get(url, {"q": "bbbb"})
    assert [t.name for t in by_hint.context["cl"].result_list] == ["beta"]
    by_ws = admin_client.get(url, {"workspace__id__exact": other_workspace.pk})
    assert [t.name for t in by_ws.context["cl"].result_list] == ["beta"]
    by_status = admin_client.get(url, {"status__exact": "revoked"})
    assert list(by_status.context["cl"].result_list) == []


# --- actions ---


def test_verify_action_reports_each_outcome(admin_client, fake_token, make_token, fake_api):
    good = fake_token(token_id="tok_good_0001")
    comeback = fake_token(token_id="tok_back_0002")
    invalidate_token(comeback, reason="suspected", by="test")
    rejected = make_token(token_id="tok_gone_0003")  # not known to FastPix
    revoked = make_token(token_id="tok_revk_0004")
    revoke_token(revoked, reason="leak", by="test")

    response = admin_client.post(
        admin_url("accesstoken", "changelist"),
        action_post("verify_tokens", [good.pk, comeback.pk, rejected.pk, revoked.pk]),
    )
    assert response.status_code == 302
    found = dict((text.split(":")[0], (level, text)) for level, text in messages_of(response))
    assert found[str(good)][0] == "success"
    assert found[str(comeback)][0] == "success" and "active again" in found[str(comeback)][1]
    assert found[str(rejected)][0] == "error" and "Marked invalid" in found[str(rejected)][1]
    assert found[str(revoked)][0] == "warning"
    statuses = dict(AccessToken.objects.values_list("pk", "status"))
    assert statuses == {
        good.pk: "active",
        comeback.pk: "active",
        rejected.pk: "invalid",
        revoked.pk: "revoked",
    }
    assert AccessToken.objects.get(pk=comeback.pk).status_changed_by == "admin:admin"


def test_verify_action_network_failure_changes_nothing(admin_client, fake_token, fake_api):
    token = fake_token()
    fake_api.inject("GET /on-demand", status=503)
    response = admin_client.post(
        admin_url("accesstoken", "changelist"), action_post("verify_tokens", [token.pk])
    )
    [(level, text)] = messages_of(response)
    assert level == "warning" and "could not be asked" in text
    assert AccessToken.objects.get(pk=token.pk).status == TokenStatus.ACTIVE


def test_revoke_goes_through_a_confirmation_page_with_a_required_reason(admin_client, make_token):
    token = make_token(name="leaky")
    other = make_token(name="bystander")
    url = admin_url("accesstoken", "changelist")

    page = admin_client.post(url, action_post("revoke_tokens", [token.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Revoke access tokens" in html and "leaky" in html and "bystander" not in html
    assert "irreversible" in html and 'name="reason"' in html
    assert AccessToken.objects.get(pk=token.pk).status == TokenStatus.ACTIVE

    no_reason = admin_client.post(url, confirm_post("revoke_tokens", [token.pk], reason="  "))
    assert no_reason.status_code == 200 and "This field is required" in no_reason.content.decode()
    assert AccessToken.objects.get(pk=token.pk).status == TokenStatus.ACTIVE

    done = admin_client.post(
        url, confirm_post("revoke_tokens", [token.pk], reason="posted in chat")
    )
    assert done.status_code == 302
    token.refresh_from_db()
    assert token.status == TokenStatus.REVOKED
    assert token.status_reason == "posted in chat" and token.status_changed_by == "admin:admin"
    assert AccessToken.objects.get(pk=other.pk).status == TokenStatus.ACTIVE
    assert LogEntry.objects.filter(
        object_id=str(token.pk), change_message__contains="Revoked"
    ).exists()
    assert messages_of(done) == [("success", f"{token}: revoked.")]


def test_revoking_again_is_reported_not_repeated(admin_client, make_token):
    token = make_token()
    revoke_token(token, reason="first", by="alice")
    response = admin_client.post(
        admin_url("accesstoken", "changelist"),
        confirm_post("revoke_tokens", [token.pk], reason="second"),
    )
    assert messages_of(response) == [("warning", f"{token}: was already revoked.")]
    token.refresh_from_db()
    assert token.status_reason == "first" and token.status_changed_by == "alice"


def test_mark_invalid_through_confirmation_page(admin_client, make_token):
    token = make_token(name="flaky")
    revoked = make_token(name="gone")
    revoke_token(revoked, reason="leak", by="test")
    url = admin_url("accesstoken", "changelist")
    page = admin_client.post(url, action_post("invalidate_tokens", [token.pk]))
    assert page.status_code == 200 and "Mark access tokens invalid" in page.content.decode()

    done = admin_client.post(
        url, confirm_post("invalidate_tokens", [token.pk, revoked.pk], reason="FastPix said 401")
    )
    assert done.status_code == 302
    token.refresh_from_db()
    assert token.status == TokenStatus.INVALID and token.status_reason == "FastPix said 401"
    assert AccessToken.objects.get(pk=revoked.pk).status == TokenStatus.REVOKED
    levels = sorted(level for level, _ in messages_of(done))
    assert levels == ["success", "warning"]


def test_wrong_encryption_key_fails_closed_but_pages_still_work(
    admin_client, make_token, settings, new_key
):
    token = make_token(name="old-key")
    old_key = settings.FIELD_ENCRYPTION_KEY
    settings.FIELD_ENCRYPTION_KEY = new_key  # the token's key is no longer configured
    assert admin_client.get(admin_url("accesstoken", "changelist")).status_code == 200
    assert admin_client.get(admin_url("accesstoken", "change", token.pk)).status_code == 200
    response = admin_client.post(
        admin_url("accesstoken", "changelist"), action_post("verify_tokens", [token.pk])
    )
    [(level, text)] = messages_of(response)
    assert level == "error" and "cannot be decrypted" in text and "fastpix_rotate_keys" in text
    renamed = admin_client.post(
        admin_url("accesstoken", "change", token.pk), change_data("renamed")
    )
    assert renamed.status_code == 302
    # The ciphertext was never rewritten under the wrong key: the old key still opens it.
    settings.FIELD_ENCRYPTION_KEY = [new_key, old_key]
    fresh = AccessToken.objects.get(pk=token.pk)
    assert fresh.name == "renamed" and fresh.credentials().secret_key == SECRET
