"""No admin page ever contains a token's secret key or its full id."""

from __future__ import annotations

import pytest

from django_fastpix.models import AccessToken
from django_fastpix.services.tokens import revoke_token
from tests.admin.conftest import action_post, admin_url
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

TOKEN_ID = "tok_never_shown_5e1d"
SECRETS = (SECRET.encode(), TOKEN_ID.encode(), TOKEN_ID[:-4].encode())


def assert_clean(response) -> None:
    assert response.status_code in (200, 302), response.status_code
    for secret in SECRETS:
        assert secret not in response.content, (secret, response.request["PATH_INFO"])


def test_no_page_shows_the_secret_or_the_token_id(admin_client, workspace, make_token, fake_api):
    # Added through the admin, the way an operator would, including a failed first attempt.
    add = admin_url("accesstoken", "add")
    data = {
        "workspace": workspace.pk,
        "name": "main",
        "scope": "read_write",
        "data_scope": "none",
        "system_scope": "none",
        "token_id": TOKEN_ID,
        "secret_key": SECRET,
    }
    failed = admin_client.post(add, data)  # FastPix does not know the pair: 401
    assert failed.status_code == 200 and failed.context["adminform"].form.errors
    assert_clean(failed)
    fake_api.inject("GET /on-demand", reset=True)
    unreachable = admin_client.post(add, data)
    assert unreachable.status_code == 200
    assert_clean(unreachable)
    fake_api.clear_faults()
    fake_api.add_token(TOKEN_ID, SECRET, "read_write", "ws-default")
    assert_clean(admin_client.post(add, data, follow=True))
    token = AccessToken.objects.get()

    changelist = admin_url("accesstoken", "changelist")
    pages = [
        admin_client.get(changelist),
        admin_client.get(changelist, {"q": TOKEN_ID[-4:]}),
        admin_client.get(admin_url("accesstoken", "change", token.pk)),
        admin_client.get(admin_url("accesstoken", "delete", token.pk)),
        admin_client.post(changelist, action_post("verify_tokens", [token.pk]), follow=True),
        admin_client.post(changelist, action_post("revoke_tokens", [token.pk])),
        admin_client.post(changelist, action_post("invalidate_tokens", [token.pk])),
        admin_client.post(
            admin_url("accesstoken", "change", token.pk),
            {"name": "x", "scope": "read", "data_scope": "none", "system_scope": "read_write"},
            follow=True,
        ),
        admin_client.get(admin_url("workspace", "change", workspace.pk)),
        admin_client.get(admin_url("workspace", "delete", workspace.pk)),
        admin_client.get("/admin/"),
    ]
    revoke_token(token, reason="test", by="test")
    pages += [
        admin_client.get(admin_url("accesstoken", "change", token.pk)),
        admin_client.get(admin_url("accesstoken", "history", token.pk)),
        admin_client.get(changelist),
    ]
    for page in pages:
        assert_clean(page)
    assert TOKEN_ID[-4:].encode() in pages[0].content  # the hint is what identifies it
