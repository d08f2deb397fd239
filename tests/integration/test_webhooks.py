"""Webhook deliveries: signatures, storage by event id, forward-only state, no 500 on bad input."""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_fastpix.models import Media, MediaStatus, WebhookEvent, WebhookOutcome
from django_fastpix.services import webhooks
from django_fastpix.services.webhooks import rotate_webhook_secret, signature
from tests.processes import wait_for
from tests.testapp.models import Lesson

pytestmark = pytest.mark.django_db

SECRET = base64.b64encode(b"webhook-signing-secret-of-32-bytes!").decode()


@pytest.fixture
def hooked(workspace):
    workspace.webhook_secret = SECRET
    workspace.save()
    return workspace


def url_for(ws) -> str:
    return reverse("django_fastpix:webhook", kwargs={"workspace": ws.slug})


def post(client, ws, body: bytes, sig: str | None = "sign", secret: str = SECRET):
    headers = {}
    if sig == "sign":
        headers["HTTP_FASTPIX_SIGNATURE"] = signature(secret, body)
    elif sig is not None:
        headers["HTTP_FASTPIX_SIGNATURE"] = sig
    return client.post(url_for(ws), body, content_type="application/json", **headers)


def event(
    kind: str,
    media_id: str,
    *,
    status: str | None = None,
    at: str | None = None,
    event_id: str | None = None,
    **data,
) -> bytes:
    payload = {
        "type": kind,
        "id": event_id or str(uuid.uuid4()),
        "object": {"type": "media", "id": media_id},
        "workspace": {"id": "ws", "name": "prod"},
        "status": "media_" + kind.rsplit(".", 1)[-1],
        "data": {"id": media_id, "status": status, **data},
        "createdAt": at or timezone.now().isoformat(),
        "attempts": [],
    }
    return json.dumps(payload).encode()


def test_probe_is_answered_unsigned(client, hooked):
    for body in (b"{}", b"", b"  {} \n"):
        assert post(client, hooked, body, sig=None).status_code == 200
    assert not WebhookEvent.objects.exists()


def test_signatures_are_required_and_checked(client, hooked):
    body = event("video.media.created", "m1", status="Created")
    assert post(client, hooked, body, sig=None).status_code == 401
    assert post(client, hooked, body, sig="AAAA").status_code == 401
    forged = signature(base64.b64encode(b"another secret").decode(), body)
    assert post(client, hooked, body, sig=forged).status_code == 401
    # hex of the right HMAC is not the scheme either
    assert not WebhookEvent.objects.exists()
    assert post(client, hooked, body).status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.PROCESSED


def test_workspace_without_secret_refuses(client, workspace):
    body = event("video.media.created", "m1")
    assert post(client, workspace, body).status_code == 401


def test_unknown_workspace_is_404(client, hooked):
    response = client.post("/fastpix/webhooks/nope/", b"{}", content_type="application/json")
    assert response.status_code == 404


def test_bad_bodies_get_4xx(client, hooked, settings):
    assert post(client, hooked, b"not json").status_code == 400
    assert post(client, hooked, b"[1, 2]").status_code == 400
    assert post(client, hooked, json.dumps({"type": "x"}).encode()).status_code == 400
    assert post(client, hooked, json.dumps({"id": "e1"}).encode()).status_code == 400
    assert post(client, hooked, b"\xff\xfe\x00").status_code == 400
    settings.FASTPIX = {**settings.FASTPIX, "WEBHOOK_MAX_BODY_BYTES": 100}
    assert post(client, hooked, b"{" + b" " * 200 + b"}").status_code == 413
    assert client.get(url_for(hooked)).status_code == 405
    assert not WebhookEvent.objects.exists()


def test_duplicates_are_no_ops(client, hooked):
    body = event("video.media.ready", "m1", status="Ready", event_id="evt-1")
    for _ in range(3):
        assert post(client, hooked, body).status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.deliveries == 3 and stored.outcome == WebhookOutcome.PROCESSED
    assert Media.objects.get().status == MediaStatus.READY


def test_out_of_order_deliveries_converge(client, hooked):
    t0 = timezone.now()
    created = event("video.media.created", "m1", status="Created", at=t0.isoformat(), title="first")
    processing = event(
        "video.media.updated",
        "m1",
        status="Processing",
        at=(t0 + timedelta(seconds=1)).isoformat(),
        title="second",
    )
    ready = event(
        "video.media.ready",
        "m1",
        status="Ready",
        duration="00:01:05",
        at=(t0 + timedelta(seconds=2)).isoformat(),
        title="third",
        playbackIds=[{"id": "pb-1", "accessPolicy": "public"}],
    )
    for body in (ready, created, processing):
        assert post(client, hooked, body).status_code == 200
    media = Media.objects.get()
    assert media.status == MediaStatus.READY and media.title == "third"
    assert media.duration == 65 and list(
        media.playback_ids.values_list("fastpix_id", flat=True)
    ) == ["pb-1"]


def test_failed_and_deleted(client, hooked):
    post(client, hooked, event("video.media.created", "m1", status="Created"))
    post(client, hooked, event("video.media.failed", "m1", status="Failed"))
    media = Media.objects.get()
    assert media.status == MediaStatus.FAILED and "failed" in media.error.lower()
    post(client, hooked, event("video.media.deleted", "m1"))
    media.refresh_from_db()
    assert media.status == MediaStatus.DELETED
    post(client, hooked, event("video.media.ready", "m1", status="Ready"))
    media.refresh_from_db()
    assert media.status == MediaStatus.DELETED  # never backwards


def test_unknown_types_are_stored_and_ignored(client, hooked):
    body = json.dumps(
        {
            "type": "video.playlist.created",
            "id": "e9",
            "object": {"type": "playlist", "id": "abc"},
            "data": {},
        }
    ).encode()
    assert post(client, hooked, body).status_code == 200
    stored = WebhookEvent.objects.get()
    assert stored.outcome == WebhookOutcome.IGNORED and stored.object_id == "abc"
    assert not Media.objects.exists()


def test_processing_failure_is_recorded_and_retried(client, hooked, monkeypatch):
    body = event("video.media.ready", "m1", status="Ready", event_id="evt-f")

    def explode(event):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(webhooks, "apply_event", explode)
    response = post(client, hooked, body)
    assert response.status_code == 500  # so that FastPix delivers again
    stored = WebhookEvent.objects.get()
    assert stored.outcome == WebhookOutcome.FAILED and "database hiccup" in stored.error
    assert "Traceback" in stored.traceback
    monkeypatch.undo()
    assert post(client, hooked, body).status_code == 200  # FastPix's retry
    stored.refresh_from_db()
    assert stored.outcome == WebhookOutcome.PROCESSED and stored.deliveries == 2
    assert Media.objects.get().status == MediaStatus.READY


def test_previous_secret_accepted_within_the_window(client, hooked, settings):
    new = base64.b64encode(os.urandom(32)).decode()
    rotate_webhook_secret(hooked, new)
    assert post(client, hooked, event("video.media.created", "a"), secret=SECRET).status_code == 200
    assert post(client, hooked, event("video.media.created", "b"), secret=new).status_code == 200
    settings.FASTPIX = {**settings.FASTPIX, "WEBHOOK_PREVIOUS_SECRET_WINDOW": 0}
    hooked.refresh_from_db()
    hooked.webhook_secret_rotated_at = timezone.now() - timedelta(seconds=5)
    hooked.save()
    assert post(client, hooked, event("video.media.created", "c"), secret=SECRET).status_code == 401
    assert post(client, hooked, event("video.media.created", "d"), secret=new).status_code == 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values | st.uuids().map(str),
        "type": st.sampled_from([*webhooks.MEDIA_EVENTS, "video.other", ""]) | json_values,
        "object": json_values | st.fixed_dictionaries({"id": json_values, "type": json_values}),
        "data": json_values
        | st.fixed_dictionaries(
            {},
            optional={
                "id": json_values,
                "status": json_values,
                "duration": json_values,
                "metadata": json_values,
                "playbackIds": json_values,
                "title": json_values,
                "uploadId": json_values,
            },
        ),
        "createdAt": json_values,
        "occurredAt": json_values,
    },
)


@hsettings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=envelopes | json_values)
@example(body={"id": "e1", "type": "video.media.ready", "object": {"id": "m"}, "x": float("inf")})
@example(body={"id": "e2", "type": "video.media.ready", "object": {"id": "m"}, "x": float("nan")})
@example(body={"id": "e3", "type": "video.media.ready", "object": {"id": "m\x00"}, "data": {}})
@example(body={"id": "e4", "type": "video.media.ready", "object": {"id": "m"}, "data": {"\x00": 1}})
def test_generated_bodies_never_produce_a_500(client, hooked, body):
    raw = json.dumps(body).encode()
    response = post(client, hooked, raw)
    assert response.status_code < 500, (raw, response.content)
    unsigned = post(client, hooked, raw, sig=None)
    assert unsigned.status_code < 500


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_generated_bytes_never_produce_a_500(client, hooked, raw):
    assert post(client, hooked, raw).status_code < 500


# --- end to end: the fake FastPix delivers signed webhooks to a live server ---


@pytest.mark.django_db(transaction=True)
def test_lesson_becomes_ready_through_task_and_webhooks(
    live_server, fake_token, workspace, fake_api
):
    fake_token()
    workspace.webhook_secret = SECRET
    workspace.save()
    fake_api.set_webhook("ws-default", live_server.url + url_for(workspace), SECRET)
    assert fake_api.send_probe("ws-default").status_code == 200

    lesson = Lesson.objects.create(title="Welcome", video_url="https://cdn.example.com/w.mp4")

    def ready() -> bool:
        media = Media.objects.filter(object_id=str(lesson.pk)).first()
        return media is not None and media.status == MediaStatus.READY

    assert wait_for(ready, timeout=15), list(Media.objects.values("status", "error"))
    media = Media.objects.get()
    assert media.source_object == lesson and media.duration == 10
    assert media.playback_ids.count() == 1
    assert (
        media.playback_ids.get().fastpix_id
        == fake_api.get_media(media.fastpix_id)["playbackIds"][0]["id"]
    )
    types = set(WebhookEvent.objects.values_list("type", flat=True))
    assert {"video.media.created", "video.media.ready"} <= types
    assert all(d.status_code == 200 for d in fake_api.webhook_deliveries)


@pytest.mark.django_db(transaction=True)
def test_shuffled_and_repeated_deliveries_converge(live_server, fake_token, workspace, fake_api):
    fake_token()
    workspace.webhook_secret = SECRET
    workspace.save()
    fake_api.set_webhook("ws-default", live_server.url + url_for(workspace), SECRET)
    fake_api.auto_advance = False
    fake_api.hold_webhooks()
    lessons = [
        Lesson.objects.create(title=f"L{n}", video_url=f"https://cdn.example.com/{n}.mp4")
        for n in range(4)
    ]
    fake_api.finish_processing()
    events = list(fake_api.webhook_events)
    fake_api.release_webhooks(order="shuffled", seed=7)
    assert fake_api.wait_for_webhooks(15)
    for e in events[::2]:
        fake_api.redeliver(e["id"])
    assert fake_api.wait_for_webhooks(15)
    statuses = {m.object_id: m.status for m in Media.objects.all()}
    assert statuses == {str(lesson.pk): MediaStatus.READY for lesson in lessons}
    assert WebhookEvent.objects.count() == len({e["id"] for e in events})
    assert sum(WebhookEvent.objects.values_list("deliveries", flat=True)) == len(events) + len(
        events[::2]
    )


@pytest.mark.parametrize(
    "data",
    [
        {"playbackIds": [{}]},
        {"playbackIds": [{"id": ["x"]}]},
        {"playbackIds": "pb"},
        {"metadata": ["a"], "title": {"x": 1}},
        {"duration": "99:99:99:99"},
        {"duration": -5},
        {"status": 7},
        {"createdAt": "2026-13-45T99:00:00Z"},
    ],
)
def test_odd_media_data_is_tolerated(client, hooked, data):
    body = event("video.media.ready", "m-odd", status="Ready")
    payload = json.loads(body)
    payload["data"].update(data)
    payload["createdAt"] = "2026-02-30T10:00:00Z"  # a valid shape, an impossible date
    response = post(client, hooked, json.dumps(payload).encode())
    assert response.status_code < 500
    assert WebhookEvent.objects.get().outcome in (WebhookOutcome.PROCESSED, WebhookOutcome.IGNORED)
