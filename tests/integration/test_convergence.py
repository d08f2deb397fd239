"""Nothing lost, nothing raced (issue 8): reports in any order, at once, or twice converge.

The create answer, FastPix's webhooks and syncs race in production; these tests make them
arrive in the worst orders and at the same time. On PostgreSQL (the postgres tox env) the
concurrent ones meet real row locks; SQLite serialises writers and shows fewer races.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connections

from django_fastpix import signals
from django_fastpix.client import FastPixClient
from django_fastpix.models import Media, MediaStatus, WebhookEvent, WebhookOutcome
from django_fastpix.services import api, webhooks
from django_fastpix.services import media as media_services
from django_fastpix.services.media import reference_key
from tests.conftest import subprocess_env
from tests.processes import wait_for
from tests.reliability_support import WEBHOOK_SECRET, event_body, signed, webhook_path
from tests.testapp.models import Lesson

ROOT = Path(__file__).resolve().parents[2]
VIDEO = "https://cdn.example.com/convergence.mp4"


@pytest.fixture
def hooked(workspace):
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    return workspace


def deliver(ws, body: bytes) -> webhooks.Delivery:
    """One signed delivery through the service, as the view hands it over."""
    ws.refresh_from_db()
    return webhooks.receive(ws, body, signed(body))


def fake_events(fake_api, media_id: str) -> dict[str, bytes]:
    """The bodies the fake FastPix emitted for one media, by short type (created, ready...)."""
    return {
        e["type"].rsplit(".", 1)[-1]: json.dumps(e).encode()
        for e in fake_api.webhook_events
        if e["object"]["id"] == media_id
    }


def create_in_fastpix(ws, media: Media, *, with_reference: bool):
    """Create the media in the fake FastPix as the create task does; returns the answer.

    Without our reference in its metadata, FastPix's events cannot be matched to our row
    until the answer links it (the row a webhook makes meanwhile is a stand-in).
    """
    metadata = {"lesson": "x"}
    if with_reference:
        metadata[reference_key()] = str(media.reference)
    return api.call(ws, FastPixClient.create_media, media.source_url, metadata=metadata)


def ours(lesson: Lesson) -> Media:
    return Media.objects.get(object_id=str(lesson.pk))


# --- the create answer after the `ready` event ---


@pytest.mark.parametrize("with_reference", [True, False], ids=["with-ref", "without-ref"])
def test_create_answer_after_ready_event_keeps_what_ready_reported(
    fake_token, hooked, fake_api, with_reference
):
    fake_token()
    fake_api.auto_advance = False
    lesson = Lesson.objects.create(title="Late answer", video_url=VIDEO)  # on_commit never runs
    media = ours(lesson)
    answer = create_in_fastpix(hooked, media, with_reference=with_reference)
    assert answer.duration_seconds is None and not answer.aspect_ratio  # the 201's short shape
    fake_api.finish_processing(answer.id)
    bodies = fake_events(fake_api, answer.id)
    for kind in ("created", "ready"):
        assert deliver(hooked, bodies[kind]).status == 200
    ready = json.loads(bodies["ready"])["data"]
    assert ready["aspectRatio"] and ready["sourceResolution"] and ready["duration"]

    media_services.link_remote(media, answer)  # the create answer, last

    (row,) = Media.objects.filter(workspace=hooked)
    assert row.pk == media.pk and row.source_object == lesson and row.fastpix_id == answer.id
    assert row.status == MediaStatus.READY
    assert row.duration == 10
    assert row.aspect_ratio == ready["aspectRatio"]
    assert row.max_resolution == ready["maxResolution"]
    assert row.source_resolution == ready["sourceResolution"]
    assert row.playback_ids.count() == 1


@pytest.mark.django_db(transaction=True)
def test_create_answer_after_ready_webhook_for_real(
    live_server, fake_token, hooked, fake_api, monkeypatch
):
    """The fake FastPix delivers its webhooks to a live server while the answer is delayed."""
    fake_token()
    fake_api.set_webhook("ws-default", live_server.url + webhook_path(hooked), WEBHOOK_SECRET)
    readies: list[int] = []
    signals.media_ready.connect(
        lambda sender, media, **kw: readies.append(media.pk), weak=False, dispatch_uid="conv"
    )
    real_call = api.call
    held: list[bool] = []

    def answer_late(ws, method, *args, **kwargs):
        result = real_call(ws, method, *args, **kwargs)
        if method is FastPixClient.create_media:
            # The network holds FastPix's 201 until its `ready` webhook has been applied.
            held.append(
                wait_for(
                    lambda: Media.objects.filter(
                        workspace=ws, status=MediaStatus.READY, duration__isnull=False
                    ).exists(),
                    timeout=20,
                )
            )
        return result

    monkeypatch.setattr(api, "call", answer_late)
    try:
        lesson = Lesson.objects.create(title="Real race", video_url=VIDEO)  # commits: task runs
    finally:
        signals.media_ready.disconnect(dispatch_uid="conv")
    assert held == [True], list(WebhookEvent.objects.values("type", "outcome", "error"))
    assert fake_api.wait_for_webhooks(15)
    (row,) = Media.objects.all()
    remote = fake_api.get_media(row.fastpix_id)
    assert row.source_object == lesson and row.status == MediaStatus.READY
    assert row.duration == 10 and row.aspect_ratio == remote["aspectRatio"]
    assert row.max_resolution == remote["maxResolution"]
    assert row.source_resolution == remote["sourceResolution"]
    assert readies == [row.pk]
    assert all(d.status_code == 200 for d in fake_api.webhook_deliveries)


# --- `deleted` first: a tombstone nothing brings back ---


ORDERS = list(itertools.permutations(["created", "ready", "deleted", "answer"]))


def test_deleted_first_ends_deleted_in_every_order(fake_token, hooked, fake_api):
    """Every order of created/ready/deleted webhooks and the create answer ends `deleted`."""
    fake_token()
    fake_api.auto_advance = False
    outcomes = {}
    for with_reference, order in itertools.product((True, False), ORDERS):
        lesson = Lesson.objects.create(title="Deleted early", video_url=VIDEO)
        media = ours(lesson)
        answer = create_in_fastpix(hooked, media, with_reference=with_reference)
        fake_api.finish_processing(answer.id)
        api.call(hooked, FastPixClient.delete_media, answer.id)
        bodies = fake_events(fake_api, answer.id)
        for step in order:
            if step == "answer":
                media_services.link_remote(media, answer)
            else:
                assert deliver(hooked, bodies[step]).status == 200, (with_reference, order, step)
        rows = list(Media.objects.filter(workspace=hooked, fastpix_id=answer.id))
        outcomes[(with_reference, order)] = [
            (r.pk == media.pk, r.status, r.source_object == lesson) for r in rows
        ]
        # Later reports (a redelivered `ready` with a new id, a stale create answer) change
        # nothing: the tombstone stays.
        later = event_body(
            "video.media.ready", answer.id, status="Ready", duration="00:00:10", aspectRatio="16:9"
        )
        assert deliver(hooked, later).status == 200
        media_services.link_remote(Media.objects.get(pk=media.pk), answer)
        media.refresh_from_db()
        assert media.status == MediaStatus.DELETED, (with_reference, order)
    wrong = {k: v for k, v in outcomes.items() if v != [(True, MediaStatus.DELETED, True)]}
    assert not wrong, wrong
    assert not WebhookEvent.objects.exclude(outcome=WebhookOutcome.PROCESSED).exists()


def test_deleted_for_an_unknown_media_leaves_a_tombstone(hooked):
    """A `deleted` for a media never seen here is remembered, so a late `ready` can't revive it."""
    assert (
        deliver(hooked, event_body("video.media.deleted", "m-gone", status="Ready")).status == 200
    )
    assert Media.objects.get(fastpix_id="m-gone").status == MediaStatus.DELETED
    for kind, status in (("created", "Created"), ("updated", "Processing"), ("ready", "Ready")):
        body = event_body(f"video.media.{kind}", "m-gone", status=status, duration="00:00:09")
        assert deliver(hooked, body).status == 200
    (row,) = Media.objects.filter(fastpix_id="m-gone")
    assert row.status == MediaStatus.DELETED


def test_deleted_first_for_our_pending_media_signals_deleted_only(
    hooked, django_capture_on_commit_callbacks
):
    """The `deleted` event still describes the media as it was ("Ready"): no media_ready."""
    media = Media.objects.create(workspace=hooked, source_url=VIDEO)
    sent: list[str] = []
    for name in ("media_ready", "media_deleted"):
        getattr(signals, name).connect(
            lambda sender, media, name=name, **kw: sent.append(name), weak=False, dispatch_uid=name
        )
    body = event_body(
        "video.media.deleted",
        "m-deleted-first",
        status="Ready",
        duration="00:00:10",
        metadata={reference_key(): str(media.reference)},
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert deliver(hooked, body).status == 200
    finally:
        for name in ("media_ready", "media_deleted"):
            getattr(signals, name).disconnect(dispatch_uid=name)
    media.refresh_from_db()
    assert media.fastpix_id == "m-deleted-first" and media.status == MediaStatus.DELETED
    assert sent == ["media_deleted"]


# --- concurrent deliveries on a live server ---


def post_all(url: str, bodies: list[bytes]) -> list[int | str]:
    """POST every body from its own thread, all released at once; the status codes."""
    barrier = threading.Barrier(len(bodies))
    results: list[int | str] = [0] * len(bodies)

    def send(i: int, body: bytes) -> None:
        barrier.wait()
        try:
            response = requests.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", "FastPix-Signature": signed(body)},
                timeout=60,
            )
            results[i] = response.status_code
        except requests.RequestException as exc:
            results[i] = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=send, args=(i, b)) for i, b in enumerate(bodies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_of_one_new_event_apply_once(live_server, hooked):
    url = live_server.url + webhook_path(hooked)
    readies: list[int] = []
    signals.media_ready.connect(
        lambda sender, media, **kw: readies.append(media.pk), weak=False, dispatch_uid="dup"
    )
    try:
        for round_ in range(4):
            media_id = f"m-dup-{round_}"
            body = event_body(
                "video.media.ready",
                media_id,
                event_id=f"evt-dup-{round_}",
                status="Ready",
                duration="00:01:00",
                aspectRatio="16:9",
                playbackIds=[{"id": f"pb-dup-{round_}", "accessPolicy": "public"}],
            )
            codes = post_all(url, [body] * 8)
            assert all(isinstance(c, int) and 200 <= c < 300 for c in codes), (round_, codes)
            event = WebhookEvent.objects.get(event_id=f"evt-dup-{round_}")
            assert event.deliveries == 8 and event.outcome == WebhookOutcome.PROCESSED
            (media,) = Media.objects.filter(fastpix_id=media_id)
            assert media.status == MediaStatus.READY and media.duration == 60
            assert media.playback_ids.count() == 1
    finally:
        signals.media_ready.disconnect(dispatch_uid="dup")
    assert not WebhookEvent.objects.filter(outcome=WebhookOutcome.FAILED).exists()
    assert Media.objects.count() == 4
    assert sorted(readies) == sorted(Media.objects.values_list("pk", flat=True))  # once each


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("kinds", "final"),
    [
        ((("created", "Created"), ("updated", "Processing"), ("ready", "Ready")), "ready"),
        ((("created", "Created"), ("ready", "Ready"), ("deleted", "Ready")), "deleted"),
    ],
    ids=["created-updated-ready", "created-ready-deleted"],
)
def test_concurrent_mix_of_events_for_one_new_media(live_server, hooked, kinds, final):
    url = live_server.url + webhook_path(hooked)
    for round_ in range(3):
        media_id = f"m-mix-{round_}"
        bodies = [
            event_body(
                f"video.media.{kind}",
                media_id,
                event_id=f"evt-{kind}-{round_}",
                status=status,
                duration="00:00:30" if kind == "ready" else None,
            )
            for kind, status in kinds
        ]
        codes = post_all(url, bodies * 3)  # each event three times, all at once
        assert all(isinstance(c, int) and 200 <= c < 300 for c in codes), (round_, codes)
        (media,) = Media.objects.filter(fastpix_id=media_id)
        assert media.status == final, round_
        events = WebhookEvent.objects.filter(object_id=media_id)
        assert events.count() == len(kinds)
        assert {e.outcome for e in events} == {WebhookOutcome.PROCESSED}
        assert sum(e.deliveries for e in events) == 3 * len(kinds)
    assert Media.objects.count() == 3


# --- one sync per workspace at a time ---


def run_in_threads(count: int, target) -> list[Any]:
    """Run ``target()`` in ``count`` threads released together; each result or exception."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_syncs_of_one_workspace(fake_token, workspace, fake_api):
    from django_fastpix.exceptions import SyncInProgressError
    from django_fastpix.services.sync import sync_media

    fake_token()
    fake_api.seed_media(120)  # three pages
    fake_api.inject("GET /on-demand", latency=0.4)  # each page takes a while

    # Each thread syncs with its own instance, as two processes would.
    results = run_in_threads(2, lambda: sync_media(type(workspace).objects.get(pk=workspace.pk)))

    refused = [r for r in results if isinstance(r, SyncInProgressError)]
    done = [r for r in results if not isinstance(r, Exception)]
    assert len(refused) == 1 and len(done) == 1, results
    assert done[0].seen == 120 and done[0].created == 120
    assert "already running" in str(refused[0]) and workspace.slug in str(refused[0])
    assert Media.objects.filter(workspace=workspace).count() == 120
    workspace.refresh_from_db()
    assert workspace.sync_lease_until is None  # released: the next sync may run
    fake_api.clear_faults()
    again = sync_media(workspace)
    assert (again.seen, again.created, again.unchanged) == (120, 0, 120)


@pytest.mark.django_db(transaction=True)
def test_sync_command_run_twice_at_once(fake_token, workspace, fake_api):
    fake_token()
    fake_api.seed_media(120)
    # Three pages of 2.5 s: whichever process takes the workspace first holds it ~7.5 s, far
    # longer than the other needs to start and ask.
    fake_api.inject("GET /on-demand", latency=2.5)
    env = subprocess_env(FASTPIX_API_BASE_URL=fake_api.base_url)
    command = [sys.executable, "-m", "django", "fastpix_sync_media", "--workspace", workspace.slug]
    procs = [
        subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes[0] == 0 and codes[1] != 0, outputs
    (ok,) = [o for p, o in zip(procs, outputs, strict=True) if p.returncode == 0]
    (refused,) = [o for p, o in zip(procs, outputs, strict=True) if p.returncode != 0]
    assert "120 media in 3 page(s)" in ok[0]
    assert "already running" in refused[1], refused
    assert "Traceback" not in refused[0] + refused[1]
    assert Media.objects.filter(workspace=workspace).count() == 120
    workspace.refresh_from_db()
    assert workspace.sync_lease_until is None
