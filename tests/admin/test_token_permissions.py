"""Only token managers (superusers or manage_tokens) reach the token admin, by any URL."""

from __future__ import annotations

import pytest

from django_fastpix.models import AccessToken, TokenStatus
from tests.admin.conftest import action_post, admin_url, confirm_post

pytestmark = pytest.mark.django_db

TOKENS_LINK = 'href="/admin/django_fastpix/accesstoken/"'


def test_staff_without_manage_tokens_does_not_see_tokens_in_the_index(staff_client):
    html = staff_client.get("/admin/").content.decode()
    assert TOKENS_LINK not in html
    assert staff_client.get("/admin/django_fastpix/").status_code in (200, 404)
    assert TOKENS_LINK not in staff_client.get("/admin/django_fastpix/").content.decode()


def test_staff_without_manage_tokens_gets_403_on_every_token_url(staff_client, make_token):
    token = make_token()
    urls = [
        admin_url("accesstoken", "changelist"),
        admin_url("accesstoken", "add"),
        admin_url("accesstoken", "change", token.pk),
        admin_url("accesstoken", "history", token.pk),
        admin_url("accesstoken", "delete", token.pk),
    ]
    for url in urls:
        assert staff_client.get(url).status_code == 403, url
    assert (
        staff_client.post(admin_url("accesstoken", "change", token.pk), {"name": "x"}).status_code
        == 403
    )
    assert (
        staff_client.post(admin_url("accesstoken", "delete", token.pk), {"post": "yes"}).status_code
        == 403
    )


@pytest.mark.parametrize("action", ["verify_tokens", "revoke_tokens", "invalidate_tokens"])
def test_staff_without_manage_tokens_cannot_run_or_confirm_actions(
    staff_client, make_token, action
):
    token = make_token()
    url = admin_url("accesstoken", "changelist")
    assert staff_client.post(url, action_post(action, [token.pk])).status_code == 403
    assert staff_client.post(url, confirm_post(action, [token.pk], reason="x")).status_code == 403
    assert AccessToken.objects.get(pk=token.pk).status == TokenStatus.ACTIVE


def test_staff_without_manage_tokens_cannot_add(staff_client, workspace):
    response = staff_client.post(
        admin_url("accesstoken", "add"),
        {
            "workspace": workspace.pk,
            "name": "sneaky",
            "scope": "read",
            "token_id": "tok_sneaky_1",
            "secret_key": "s",
            "save_unverified": "on",
        },
    )
    assert response.status_code == 403 and not AccessToken.objects.exists()


def test_manage_tokens_alone_is_enough(manager_client, make_token):
    token = make_token(name="visible")
    assert TOKENS_LINK in manager_client.get("/admin/").content.decode()
    assert "visible" in manager_client.get(admin_url("accesstoken", "changelist")).content.decode()
    assert manager_client.get(admin_url("accesstoken", "add")).status_code == 200
    assert manager_client.get(admin_url("accesstoken", "change", token.pk)).status_code == 200
    response = manager_client.post(
        admin_url("accesstoken", "changelist"),
        confirm_post("revoke_tokens", [token.pk], reason="rotation"),
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.status == TokenStatus.REVOKED and token.status_changed_by == "admin:tokenmanager"


def test_superuser_sees_tokens(admin_client, make_token):
    make_token()
    assert TOKENS_LINK in admin_client.get("/admin/").content.decode()
    assert admin_client.get(admin_url("accesstoken", "changelist")).status_code == 200


def test_workspace_with_revoked_tokens_cannot_be_deleted_in_the_admin(admin_client, make_token):
    from django_fastpix.services.tokens import revoke_token

    token = make_token()
    revoke_token(token, reason="leak", by="test")
    response = admin_client.post(
        admin_url("workspace", "delete", token.workspace_id), {"post": "yes"}
    )
    # The cascade would erase the revoked token's audit trail: the admin refuses.
    assert response.status_code == 403
    assert AccessToken.objects.filter(pk=token.pk).exists()
