"""The webhook event admin: read-only list and detail, pretty payload."""

from __future__ import annotations

import pytest

from django_fastpix.models import WebhookEvent
from tests.admin.conftest import admin_url

pytestmark = pytest.mark.django_db

PAYLOAD = {"id": "evt_1", "type": "video.media.ready", "object": {"id": "med_1", "type": "media"}}


@pytest.fixture
def event(workspace) -> WebhookEvent:
    return WebhookEvent.objects.create(
        workspace=workspace,
        event_id="evt_1",
        type="video.media.ready",
        object_type="media",
        object_id="med_1",
        payload=PAYLOAD,
        deliveries=2,
        outcome="processed",
    )


@pytest.fixture
def failed_event(workspace) -> WebhookEvent:
    return WebhookEvent.objects.create(
        workspace=workspace,
        event_id="evt_2",
        type="video.media.failed",
        object_id="med_2",
        payload={"id": "evt_2"},
        outcome="failed",
        error="boom",
    )


def test_list_columns_and_filters(admin_client, event, failed_event):
    url = admin_url("webhookevent", "changelist")
    html = admin_client.get(url).content.decode()
    for text in ("video.media.ready", "evt_1", "med_1", "fastpix-badge-processed", "Production"):
        assert text in html

    def ids(**params):
        return [e.event_id for e in admin_client.get(url, params).context["cl"].result_list]

    assert ids(type="video.media.failed") == ["evt_2"]
    assert ids(outcome__exact="processed") == ["evt_1"]
    assert ids(q="med_2") == ["evt_2"]


def test_detail_pretty_prints_the_payload_read_only(admin_client, event):
    url = admin_url("webhookevent", "change", event.pk)
    html = admin_client.get(url).content.decode()
    assert '<pre class="fastpix-payload">{\n  &quot;id&quot;: &quot;evt_1&quot;,' in html
    assert 'name="payload"' not in html and 'name="outcome"' not in html
    assert admin_client.post(url, {"outcome": "pending"}).status_code == 403
    assert admin_client.get(admin_url("webhookevent", "add")).status_code == 403
