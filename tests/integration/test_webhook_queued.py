"""Queued webhook processing (FASTPIX["WEBHOOK_PROCESSING"] = "queued"): the view stores the
delivery and answers; a worker applies it, retries a failure itself, and recovery requeues an
event whose job was lost. Real workers run it in tests/queue/test_backends.py."""

from __future__ import annotations

import contextlib
import io
import logging
from datetime import timedelta

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from django_fastpix import jobs
from django_fastpix.models import Media, MediaStatus, WebhookEvent, WebhookOutcome
from django_fastpix.services.recovery import recover_media
from django_fastpix.services.webhook_queue import attempt_event_processing
from django_fastpix.services.webhooks import SIGNATURE_HEADER
from django_fastpix.webhook_handlers import fastpix_webhook, unregister
from tests.reliability_support import (
    WEBHOOK_SECRET,
    RecordingBackend,
    backend_path,
    clear_recorded,
    event_body,
    recorded_jobs,
    signed,
    webhook_path,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued(settings, workspace):
    """Queued processing, jobs recorded (never run), a workspace with a webhook secret."""
    settings.TASKS = {**settings.TASKS, "recording": {"BACKEND": backend_path(RecordingBackend)}}
    settings.FASTPIX = {
        **settings.FASTPIX,
        "TASK_BACKEND": "recording",
        "WEBHOOK_PROCESSING": "queued",
    }
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    clear_recorded()
    yield workspace
    clear_recorded()


def post(workspace, body: bytes):
    return Client().post(
        webhook_path(workspace),
        body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: signed(body)},
    )


def ready_body(media: Media, **data) -> bytes:
    return event_body(
        "video.media.ready", str(media.fastpix_id), status="Ready", duration="00:01:40", **data
    )


@pytest.fixture
def media(workspace) -> Media:
    return Media.objects.create(
        workspace=workspace, fastpix_id="fp-queued-1", status=MediaStatus.PROCESSING
    )


def test_the_view_stores_answers_and_queues_then_the_worker_applies(
    queued, media, django_assert_num_queries
):
    body = ready_body(media)
    # The workspace with the duplicate check, then the INSERT: nothing else before answering.
    with django_assert_num_queries(2):
        response = post(queued, body)
    assert response.status_code == 200, response.content
    assert "queued" in response.json()["detail"]
    event = WebhookEvent.objects.get()
    assert event.outcome == WebhookOutcome.PENDING
    media.refresh_from_db()
    assert media.status == MediaStatus.PROCESSING  # not applied by the view
    [(_name, args, run_after)] = recorded_jobs("process_webhook_event")
    assert args == (event.pk,) and run_after is None

    attempt_event_processing(*args)
    media.refresh_from_db()
    event.refresh_from_db()
    assert media.status == MediaStatus.READY and media.duration == 100
    assert event.outcome == WebhookOutcome.PROCESSED

    # The job run twice (a duplicate job, recovery racing a slow worker) applies nothing twice.
    attempt_event_processing(*args)
    assert recorded_jobs("process_webhook_event") == [("process_webhook_event", args, None)]


def test_a_redelivery_while_pending_applies_it_once(queued, media):
    body = ready_body(media)
    assert post(queued, body).status_code == 200
    again = post(queued, body)  # FastPix sent it twice; no worker has run yet
    assert again.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.outcome, event.deliveries) == (WebhookOutcome.PROCESSED, 2)
    [(_name, args, _)] = recorded_jobs("process_webhook_event")
    attempt_event_processing(*args)  # the queued job then finds it done
    event.refresh_from_db()
    assert event.outcome == WebhookOutcome.PROCESSED


def test_events_the_app_ignores_are_not_queued(queued):
    body = event_body("video.something.new", "x-1")
    assert post(queued, body).status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.IGNORED
    assert recorded_jobs() == []


def test_a_failure_is_retried_by_the_worker_with_backoff_then_left_for_replay(
    queued, media, settings, caplog
):
    settings.FASTPIX = {**settings.FASTPIX, "CREATION_MAX_ATTEMPTS": 2}
    calls = []

    def broken(event, media):
        calls.append(event.event_id)
        raise RuntimeError("site handler bug")

    fastpix_webhook("video.media.ready")(broken)
    try:
        assert post(queued, ready_body(media)).status_code == 200  # FastPix is done with it
        [(_name, args, _)] = recorded_jobs("process_webhook_event")
        before = timezone.now()
        attempt_event_processing(*args)
        event = WebhookEvent.objects.get()
        assert event.outcome == WebhookOutcome.FAILED and "site handler bug" in event.error
        [_, (_name, retry_args, run_after)] = recorded_jobs("process_webhook_event")
        assert retry_args == (event.pk, 2) and run_after > before
        with caplog.at_level(logging.ERROR, logger="django_fastpix"):
            attempt_event_processing(*retry_args)
        assert len(recorded_jobs("process_webhook_event")) == 2  # no third attempt
        assert "left failed" in caplog.text and "fastpix_webhooks replay" in caplog.text
        assert len(calls) == 2
    finally:
        unregister(broken)
    media.refresh_from_db()
    assert media.status == MediaStatus.PROCESSING  # each failed attempt rolled back whole


def test_a_queue_that_refuses_the_job_gets_the_event_applied_in_the_request(
    queued, media, monkeypatch, caplog
):
    def refuse(name, *args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(jobs, "enqueue", refuse)
    with caplog.at_level(logging.ERROR, logger="django_fastpix"):
        assert post(queued, ready_body(media)).status_code == 200
    assert WebhookEvent.objects.get().outcome == WebhookOutcome.PROCESSED
    media.refresh_from_db()
    assert media.status == MediaStatus.READY
    assert "Could not queue FastPix event" in caplog.text


def test_recovery_queues_again_an_event_whose_job_was_lost(queued, media, settings):
    settings.FASTPIX = {**settings.FASTPIX, "RECOVERY_GRACE_SECONDS": 60}
    assert post(queued, ready_body(media)).status_code == 200
    clear_recorded()  # the job was lost
    assert recover_media().events_requeued == 0  # not stale yet
    event = WebhookEvent.objects.get()
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(seconds=61)
    )
    assert recover_media().events_requeued == 1
    [(_name, args, _)] = recorded_jobs("process_webhook_event")
    attempt_event_processing(*args)
    event.refresh_from_db()
    assert event.outcome == WebhookOutcome.PROCESSED
    assert recover_media().events_requeued == 0


def test_a_mode_other_than_inline_or_queued_is_reported(settings):
    settings.FASTPIX = {**settings.FASTPIX, "WEBHOOK_PROCESSING": "later"}
    errors = [m for m in checks.run_checks() if m.id == "fastpix.E013"]
    assert len(errors) == 1 and "'later'" in errors[0].msg
    settings.FASTPIX = {**settings.FASTPIX, "WEBHOOK_PROCESSING": "queued"}
    assert not [m for m in checks.run_checks() if m.id == "fastpix.E013"]


def test_doctor_warns_about_events_no_worker_applied(queued, media, settings):
    settings.FASTPIX = {**settings.FASTPIX, "RECOVERY_GRACE_SECONDS": 60}
    assert post(queued, ready_body(media)).status_code == 200

    def doctor() -> str:
        out = io.StringIO()
        with contextlib.suppress(CommandError):  # other findings (no token) fail the run
            call_command("fastpix_doctor", "--json", stdout=out)
        return out.getvalue()

    assert "stored for a worker" not in doctor()  # just queued: a worker has time yet
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(seconds=61))
    report = doctor()
    assert "1 webhook event(s) stored for a worker were not applied" in report
    assert "is a worker running?" in report
