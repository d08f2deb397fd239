"""Authentic (signed) deliveries with hostile or oversized values: never a 500, nothing unreadable.

A signature proves a body comes from FastPix, not that every value fits a column or Python's
datetime. Each body here is signed with the workspace's secret, so it passes verification
and reaches parsing, storage and processing.
"""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from django_fastpix.models import Media, MediaStatus, WebhookEvent, WebhookOutcome
from tests.reliability_support import WEBHOOK_SECRET, event_body, signed, webhook_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooked(workspace):
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    return workspace


@pytest.fixture
def fastpix():
    """A client that answers a view's exception with a 500, as production would."""
    return Client(raise_request_exception=False)


def post(client: Client, ws, body: bytes):
    return client.post(
        webhook_path(ws), body, content_type="application/json", HTTP_FASTPIX_SIGNATURE=signed(body)
    )


def stored_timestamps() -> list[str]:
    """Every timestamp of events and media as the database itself prints it (no Python parse)."""
    texts: list[str] = []
    with connection.cursor() as cursor:
        for table, columns in (
            (WebhookEvent._meta.db_table, ("occurred_at", "received_at", "processed_at")),
            (Media._meta.db_table, ("last_event_at", "last_synced_at", "updated_at")),
        ):
            for column in columns:
                cursor.execute(
                    f"SELECT CAST({column} AS TEXT) FROM {table} WHERE {column} IS NOT NULL"
                )
                texts += [row[0] for row in cursor.fetchall()]
    return texts


# --- timestamps Python cannot hold once in UTC ---


@pytest.mark.parametrize(
    "created_at",
    ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+05:00"],
    ids=["year-10000-in-utc", "year-0-in-utc"],
)
def test_out_of_range_created_at_is_answered_and_stores_nothing_unreadable(
    fastpix, hooked, admin_client, created_at
):
    known = Media.objects.create(workspace=hooked, fastpix_id="m-known", status=MediaStatus.CREATED)
    for media_id in ("m-known", "m-new"):
        body = event_body(
            "video.media.ready",
            media_id,
            status="Ready",
            duration="00:00:12",
            created_at=created_at,
        )
        response = post(fastpix, hooked, body)
        assert response.status_code < 500, response.content
        assert response.status_code < 300 or 400 <= response.status_code < 500

    texts = stored_timestamps()
    assert texts and not [t for t in texts if t.startswith(("10000", "0000")) or "BC" in t], texts
    # Every row reads back in Python, and the operator tools that list them still work.
    for event in WebhookEvent.objects.all():
        assert event.occurred_at is None or 1 <= event.occurred_at.year <= 9999
        assert event.outcome != WebhookOutcome.FAILED, event.error
    for media in Media.objects.all():
        assert media.last_event_at is None or 1 <= media.last_event_at.year <= 9999
    known.refresh_from_db()
    assert known.status == MediaStatus.READY and known.duration == 12
    for model in ("media", "webhookevent"):
        page = admin_client.get(reverse(f"admin:django_fastpix_{model}_changelist"))
        assert page.status_code == 200, model
    out = io.StringIO()
    call_command("fastpix_media", "list", stdout=out)
    assert "m-known" in out.getvalue() or str(known.pk) in out.getvalue()
    call_command("fastpix_webhooks", "list", stdout=io.StringIO())


# --- bodies no parser or column should take ---


def test_deeply_nested_bodies_get_4xx(fastpix, hooked):
    depth = 100_000
    bare = b"[" * depth + b"]" * depth
    inside = (
        b'{"id": "e-deep", "type": "video.media.ready", "object": {"id": "m1"}, "data": '
        + b"[" * depth
        + b"]" * depth
        + b"}"
    )
    unclosed = b"[" * depth
    moderately = b'{"id": "e-150", "type": "x", "data": ' + b'{"a": ' * 150 + b"1" + b"}" * 151
    for body in (bare, inside, unclosed, moderately):
        assert len(body) < 1_048_576  # under the body limit: refused for its shape, not size
        response = post(fastpix, hooked, body)
        assert 400 <= response.status_code < 500, (body[:60], response.status_code)
    assert not WebhookEvent.objects.exists() and not Media.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        # JSON text escapes: valid JSON, but a lone surrogate is no character any database stores.
        b'{"id": "e-s1", "type": "video.media.ready", "object": {"id": "m1"},'
        b' "data": {"id": "m1", "status": "Ready", "title": "bad \\ud800 title"}}',
        b'{"id": "e-s2", "type": "video.media.ready", "object": {"id": "m1"},'
        b' "data": {"id": "m1", "status": "Ready", "metadata": {"k\\ud800": "v"}}}',
        b'{"id": "e-s3\\udfff", "type": "video.media.ready", "object": {"id": "m1"}, "data": {}}',
        # The surrogate's UTF-8-style bytes: not UTF-8 at all.
        b'{"id": "e-s4", "type": "video.media.ready", "object": {"id": "m1\xed\xa0\x80"}}',
    ],
    ids=["in-a-value", "in-a-key", "in-the-event-id", "as-raw-bytes"],
)
def test_lone_surrogates_get_4xx(fastpix, hooked, body):
    response = post(fastpix, hooked, body)
    assert 400 <= response.status_code < 500, response.content
    assert not WebhookEvent.objects.exists() and not Media.objects.exists()


# --- authentic values longer than their columns ---


def test_long_aspect_ratio_and_resolutions_are_cut_and_kept_whole_in_the_event(fastpix, hooked):
    aspect, max_res, source_res = "16:9" + "x" * 196, "1080p" + "y" * 195, "2160p" + "z" * 195
    body = event_body(
        "video.media.ready",
        "m-wide",
        event_id="e-wide",
        status="Ready",
        duration="00:00:05",
        aspectRatio=aspect,
        maxResolution=max_res,
        sourceResolution=source_res,
        title="t" * 300,
    )
    assert post(fastpix, hooked, body).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.outcome == WebhookOutcome.PROCESSED
    assert event.payload["data"]["aspectRatio"] == aspect
    assert event.payload["data"]["maxResolution"] == max_res
    assert event.payload["data"]["sourceResolution"] == source_res
    media = Media.objects.get()
    assert media.status == MediaStatus.READY and media.duration == 5
    for name, whole in (
        ("aspect_ratio", aspect),
        ("max_resolution", max_res),
        ("source_resolution", source_res),
        ("title", "t" * 300),
    ):
        width = Media._meta.get_field(name).max_length
        assert getattr(media, name) == whole[:width], name


def test_a_media_id_longer_than_the_column_is_ignored_with_a_note(fastpix, hooked):
    long_id = "m" * 300
    body = event_body("video.media.ready", long_id, event_id="e-long-media", status="Ready")
    assert post(fastpix, hooked, body).status_code == 200
    event = WebhookEvent.objects.get()
    assert event.outcome == WebhookOutcome.IGNORED and "longer" in event.error
    assert event.payload["data"]["id"] == long_id and event.payload["object"]["id"] == long_id
    assert not Media.objects.exists()  # a cut id would address some other media, or none
    assert post(fastpix, hooked, body).status_code == 200  # a redelivery: a duplicate
    event.refresh_from_db()
    assert event.deliveries == 2 and not Media.objects.exists()


def test_a_long_media_id_only_in_the_object_is_not_cut_into_a_row(fastpix, hooked):
    """The envelope's object id is cut to its column; that cut id must not become a media."""
    long_id = "o" * 300
    payload = json.loads(event_body("video.media.ready", long_id, status="Ready"))
    del payload["data"]["id"]
    body = json.dumps(payload).encode()
    response = post(fastpix, hooked, body)
    assert response.status_code < 500
    assert not Media.objects.filter(fastpix_id__startswith="ooo").exists(), list(
        Media.objects.values_list("fastpix_id", flat=True)
    )
    assert WebhookEvent.objects.get().payload["object"]["id"] == long_id


def test_long_event_ids_are_stored_whole_and_stay_distinct(fastpix, hooked):
    shared = "e" * 255
    first, second = shared + "1" * 45, shared + "2" * 45
    for event_id, media_id in ((first, "m-a"), (second, "m-b")):
        body = event_body("video.media.ready", media_id, event_id=event_id, status="Ready")
        assert post(fastpix, hooked, body).status_code == 200
    events = list(WebhookEvent.objects.order_by("pk"))
    assert len(events) == 2, [e.event_id for e in events]  # two events, not one duplicate
    assert [e.payload["id"] for e in events] == [first, second]
    assert len({e.event_id for e in events}) == 2
    assert all(len(e.event_id) <= 255 for e in events)
    assert {e.outcome for e in events} == {WebhookOutcome.PROCESSED}
    assert set(Media.objects.values_list("fastpix_id", flat=True)) == {"m-a", "m-b"}
    # The same long id again is a duplicate of its own event, not of its neighbour.
    again = event_body("video.media.ready", "m-a", event_id=first, status="Ready")
    assert post(fastpix, hooked, again).status_code == 200
    assert [e.deliveries for e in WebhookEvent.objects.order_by("pk")] == [2, 1]
