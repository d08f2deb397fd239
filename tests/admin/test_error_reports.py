"""Django's error reports (the admin mails of a production site) never carry a secret.

With DEBUG on Django shows everything by design; with it off, reports go through the
SafeExceptionReporterFilter, which honours sensitive_variables / sensitive_post_parameters.
"""

from __future__ import annotations

import base64
import json
import logging

import django
import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse
from django.utils.log import AdminEmailHandler

from django_fastpix.models import AccessToken
from django_fastpix.services import webhooks
from django_fastpix.services.webhooks import signature
from tests.admin.conftest import admin_url
from tests.admin.test_token_admin import SECRET, TOKEN_ID, add_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def debug_client(admin_user, settings, mailoutbox):
    """A logged-in client whose server errors are mailed to ADMINS with the full HTML report."""
    settings.DEBUG = False
    # Plain addresses from Django 6.0 on (pairs are deprecated there); pairs before.
    settings.ADMINS = (
        ["ops@example.com"] if django.VERSION >= (6, 0) else [("Ops", "ops@example.com")]
    )
    handler = AdminEmailHandler(include_html=True)
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    yield client
    logger.removeHandler(handler)


def mailed_report(mailoutbox) -> str:
    (mail,) = mailoutbox
    html = "".join(str(content) for content, _ in mail.alternatives)
    assert "database went away" in mail.body and "Traceback" in html  # a full report
    return mail.body + html


def test_admin_add_crash_report_hides_the_secret(debug_client, workspace, monkeypatch, mailoutbox):
    def crash(self, *args, **kwargs):
        raise OperationalError("database went away")

    monkeypatch.setattr(AccessToken, "save", crash)
    response = debug_client.post(
        admin_url("accesstoken", "add"), add_data(workspace, save_unverified="on")
    )
    assert response.status_code == 500
    report = mailed_report(mailoutbox)
    assert SECRET not in report and TOKEN_ID not in report


def test_webhook_crash_report_hides_the_webhook_secret(
    debug_client, workspace, monkeypatch, mailoutbox
):
    secret = base64.b64encode(b"a-webhook-secret-nobody-may-see!").decode()
    workspace.webhook_secret = secret
    workspace.save()

    def crash(*args, **kwargs):
        raise OperationalError("database went away")

    monkeypatch.setattr(webhooks, "store_event", crash)
    body = json.dumps({"id": "e1", "type": "video.media.ready", "object": {"id": "m1"}}).encode()
    response = debug_client.post(
        reverse("django_fastpix:webhook", kwargs={"workspace": workspace.slug}),
        body,
        content_type="application/json",
        HTTP_FASTPIX_SIGNATURE=signature(secret, body),
    )
    assert response.status_code == 500
    report = mailed_report(mailoutbox)
    assert secret not in report
    assert base64.b64decode(secret).decode() not in report
