"""A workspace save that fails while rotating the webhook secret mails no secret to ADMINS."""

from __future__ import annotations

import base64
import html

import pytest
from django.db import OperationalError, connection

from django_fastpix.models import Workspace
from tests.admin.conftest import admin_url
from tests.admin.test_error_reports import debug_client, mailed_report  # noqa: F401
from tests.admin.test_workspace_admin import form_data

pytestmark = pytest.mark.django_db

NEW_SECRET = base64.b64encode(b"rotated-webhook-secret-for-mails").decode()


def fail_the_rotation(execute, sql, params, many, context):
    # The rotation writes only the secret columns; the form's own save writes the name too.
    # Failing just the former makes the request die with the new secret held by the admin.
    if sql.startswith("UPDATE") and "webhook_secret" in sql and '"name"' not in sql:
        raise OperationalError("database went away")
    return execute(sql, params, many, context)


@pytest.mark.parametrize("adding", [False, True], ids=["change", "add"])
def test_failed_rotation_report_hides_the_new_webhook_secret(
    debug_client,  # noqa: F811
    workspace,
    mailoutbox,
    adding,
):
    if adding:
        url = admin_url("workspace", "add")
        data = form_data(Workspace(name="Staging", slug="staging", environment="staging"))
    else:
        url = admin_url("workspace", "change", workspace.pk)
        data = form_data(workspace)
    data["new_webhook_secret"] = NEW_SECRET
    with connection.execute_wrapper(fail_the_rotation):
        response = debug_client.post(url, data)
    assert response.status_code == 500
    report = mailed_report(mailoutbox)
    assert "save_model" in report  # the admin's frame is in the report, its secret is not
    for text in (report, html.unescape(report)):
        assert NEW_SECRET not in text
        assert base64.b64decode(NEW_SECRET).decode() not in text
