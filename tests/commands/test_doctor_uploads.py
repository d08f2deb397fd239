"""fastpix_doctor on browser uploads: a waiting upload whose URL expired unswept is a warning
naming the sweep; one still within its time is not reported."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from django_fastpix.models import Upload
from tests.commands.conftest import run_capturing

pytestmark = pytest.mark.django_db


def upload_warnings() -> list[dict]:
    out, _ = run_capturing("fastpix_doctor", "--json", "--no-verify")
    return [f for f in json.loads(out)["findings"] if "browser upload" in f["message"]]


def test_an_expired_waiting_upload_is_reported_with_the_sweep(workspace, settings):
    settings.DEBUG = True
    now = timezone.now()
    Upload.objects.create(workspace=workspace, fastpix_id="up-old", expires_at=now - timedelta(1))
    Upload.objects.create(workspace=workspace, fastpix_id="up-new", expires_at=now + timedelta(1))
    found = upload_warnings()
    assert len(found) == 1
    assert found[0]["level"] == "WARN"
    assert found[0]["message"].startswith("1 browser upload(s) expired")
    assert "fastpix_uploads sweep" in found[0]["remedy"]


def test_no_finding_without_expired_uploads(workspace, settings):
    settings.DEBUG = True
    Upload.objects.create(
        workspace=workspace, fastpix_id="up-new", expires_at=timezone.now() + timedelta(1)
    )
    assert upload_warnings() == []
