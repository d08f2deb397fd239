"""The workspace admin: webhook URL, write-only rotating webhook secret, token counts."""

from __future__ import annotations

import base64

import pytest

from django_fastpix.models import Workspace
from django_fastpix.services.tokens import invalidate_token, revoke_token
from tests.admin.conftest import admin_url

pytestmark = pytest.mark.django_db

FIRST = base64.b64encode(b"first-webhook-signing-secret").decode()
SECOND = base64.b64encode(b"second-webhook-signing-secret").decode()


def form_data(ws: Workspace, **extra: str) -> dict[str, str]:
    data = {
        "name": ws.name,
        "slug": ws.slug,
        "environment": ws.environment,
        "fastpix_workspace_id": ws.fastpix_workspace_id,
        "new_webhook_secret": "",
    }
    data.update(extra)
    return data


def test_change_page_shows_the_absolute_webhook_url(admin_client, workspace, settings):
    settings.ROOT_URLCONF = "tests.admin.urls"
    html = admin_client.get(admin_url("workspace", "change", workspace.pk)).content.decode()
    assert 'value="http://testserver/fastpix/webhooks/prod/"' in html


def test_change_page_explains_a_missing_webhook_route(admin_client, workspace, settings):
    settings.ROOT_URLCONF = "tests.admin.urls_no_webhook"
    html = admin_client.get(admin_url("workspace", "change", workspace.pk)).content.decode()
    assert "No webhook URL yet" in html and "django_fastpix.urls" in html


def test_add_page_has_no_webhook_url_box(admin_client):
    html = admin_client.get(admin_url("workspace", "add")).content.decode()
    assert "fastpix-webhook-url" not in html


def test_webhook_secret_is_set_then_rotated_and_never_shown(admin_client, workspace):
    url = admin_url("workspace", "change", workspace.pk)
    assert admin_client.post(url, form_data(workspace, new_webhook_secret=FIRST)).status_code == 302
    workspace.refresh_from_db()
    assert workspace.webhook_secret == FIRST
    assert workspace.previous_webhook_secret == "" and workspace.webhook_secret_rotated_at is None

    page = admin_client.get(url)
    assert FIRST.encode() not in page.content and b"A secret is set" in page.content

    assert (
        admin_client.post(url, form_data(workspace, new_webhook_secret=SECOND)).status_code == 302
    )
    workspace.refresh_from_db()
    assert workspace.webhook_secret == SECOND and workspace.previous_webhook_secret == FIRST
    assert workspace.webhook_secret_rotated_at is not None

    rotated_at = workspace.webhook_secret_rotated_at
    assert admin_client.post(url, form_data(workspace, name="Renamed")).status_code == 302
    workspace.refresh_from_db()
    assert workspace.name == "Renamed" and workspace.webhook_secret == SECOND
    assert workspace.previous_webhook_secret == FIRST
    assert workspace.webhook_secret_rotated_at == rotated_at

    for page in (admin_client.get(url), admin_client.get(admin_url("workspace", "changelist"))):
        assert FIRST.encode() not in page.content and SECOND.encode() not in page.content


def test_invalid_webhook_secret_is_refused_and_not_echoed(admin_client, workspace):
    url = admin_url("workspace", "change", workspace.pk)
    response = admin_client.post(url, form_data(workspace, new_webhook_secret="not base64!"))
    assert response.status_code == 200
    assert "not base64" in str(response.context["adminform"].form.errors)
    assert b'value="not base64!"' not in response.content
    workspace.refresh_from_db()
    assert workspace.webhook_secret == ""


def test_add_workspace_with_secret(admin_client):
    response = admin_client.post(
        admin_url("workspace", "add"),
        {
            "name": "Staging",
            "slug": "staging",
            "environment": "staging",
            "new_webhook_secret": FIRST,
        },
    )
    assert response.status_code == 302
    ws = Workspace.objects.get(slug="staging")
    assert ws.webhook_secret == FIRST and ws.webhook_secret_rotated_at is None


def test_list_counts_tokens_by_status(admin_client, workspace, other_workspace, make_token):
    make_token()
    invalid = make_token()
    invalidate_token(invalid, reason="x", by="t")
    for _ in range(2):
        revoke_token(make_token(), reason="x", by="t")
    make_token(ws=other_workspace)
    response = admin_client.get(admin_url("workspace", "changelist"))
    rows = {ws.slug: ws for ws in response.context["cl"].result_list}
    prod, dev = rows["prod"], rows["dev"]
    assert (prod.active_count, prod.invalid_count, prod.revoked_count) == (1, 1, 2)
    assert (dev.active_count, dev.invalid_count, dev.revoked_count) == (1, 0, 0)
