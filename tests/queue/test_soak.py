"""Soak: 200 creations through two real `db_worker` processes while FastPix misbehaves.

About a fifth of the create requests fail (5xx, 429 with Retry-After, connection resets, and
answers that come after the client's read timeout, the media being created anyway), signed
webhooks flow from the fake to a live server at the same time, and recovery runs as a cron
would. Every media must be created exactly once and end ready; the figures are printed.

A late answer is retried at once (transport) or looked up by reference a moment later (next
attempt), before the late create has finished: no duplicate then rests on FastPix replaying
the first answer to a repeated Idempotency-Key, which the fake does as FastPix is observed to.
"""

from __future__ import annotations

import collections
import subprocess
import time
from pathlib import Path
from typing import IO

import pytest
from django.db import connection, transaction
from django.urls import reverse

from django_fastpix.models import Media, MediaStatus
from tests.conftest import subprocess_env
from tests.processes import start_db_worker, stop, wait_for
from tests.queue.soak_support import FAULTS, WEBHOOK_SECRET, Recovery, tail
from tests.testapp.models import Lesson

ROOT = Path(__file__).resolve().parents[2]
LESSONS = 200
# Every process (the workers, and this one for the saves and recovery) runs with these.
TUNING = {
    "TASK_BACKEND": "queue",
    "CONNECT_TIMEOUT": 2.0,
    "READ_TIMEOUT": 1.0,  # the late answers below come after 1.5 s
    "RETRY_BACKOFF_BASE": 0.05,
    "RETRY_BACKOFF_MAX": 0.2,
    "RETRY_AFTER_MAX": 2.0,
    "CREATION_RETRY_BASE": 0.2,
    "CREATION_RETRY_MAX": 2.0,
    # Far below the default (300 s): recovery requeues media whose job still waits in the
    # backlog, so duplicate jobs for one media are routine here.
    "RECOVERY_GRACE_SECONDS": 5.0,
}
# Transport retries per request: worker 0 fails the attempt at the first fault (the next one
# is a queued job with run_after), worker 1 retries once in place first.
WORKER_MAX_RETRIES = (0, 1)


def start_workers(env: dict[str, str], logs: list[IO[bytes]]) -> list[subprocess.Popen[bytes]]:
    return [
        start_db_worker(
            f"soak{n}",
            {**env, "FASTPIX_MAX_RETRIES": str(WORKER_MAX_RETRIES[n])},
            interval=0.05,
            stderr=log,  # a file: a full pipe would block a worker that logs a lot
        )
        for n, log in enumerate(logs)
    ]


@pytest.mark.django_db(transaction=True)
def test_soak_200_creations_under_faults(
    live_server, fake_token, workspace, fake_api, settings, tmp_path
):
    settings.FASTPIX = {**settings.FASTPIX, **TUNING, "MAX_RETRIES": 1}
    fake_token()
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    hook = reverse("django_fastpix:webhook", kwargs={"workspace": workspace.slug})
    fake_api.set_webhook("ws-default", live_server.url + hook, WEBHOOK_SECRET)
    fake_api.webhook_max_attempts = 8
    fake_api.webhook_retry_backoff = 0.1
    faults = [fake_api.inject("POST /on-demand", **kwargs) for kwargs in FAULTS]

    env = subprocess_env(
        FASTPIX_API_BASE_URL=fake_api.base_url,
        **{f"FASTPIX_{key}": str(value) for key, value in TUNING.items()},
    )
    logs = [(tmp_path / f"worker{n}.log").open("w+b") for n in range(2)]
    started = time.monotonic()
    workers = start_workers(env, logs)
    recovery = Recovery()
    recovery.start()
    try:
        for n in range(LESSONS):
            with transaction.atomic():
                Lesson.objects.create(
                    title=f"Soak {n}", video_url=f"https://cdn.example.com/soak/{n}.mp4"
                )
        saved = time.monotonic() - started

        def all_ready() -> bool:
            return Media.objects.filter(status=MediaStatus.READY).count() == LESSONS

        done = wait_for(all_ready, timeout=150, interval=0.25)
        elapsed = time.monotonic() - started
        delivered = fake_api.wait_for_webhooks(30)
        alive = [proc.poll() is None for proc in workers]
    finally:
        recovery.halt.set()
        recovery.join(10)
        stop(workers)

    rows = list(
        Media.objects.values(
            "pk", "reference", "fastpix_id", "status", "error", "creation_attempts", "object_id"
        )
    )
    remote = fake_api.media("ws-default")
    posts = fake_api.requests_for("POST /on-demand")
    kinds = collections.Counter(
        f"{r.fault}:{r.status}" if r.fault == "status" else str(r.fault) for r in posts if r.fault
    )
    references = collections.Counter(str(m["metadata"].get("django_fastpix_ref")) for m in remote)
    attempts = [row["creation_attempts"] for row in rows]
    events = fake_api.webhook_events
    deliveries = fake_api.webhook_deliveries
    report = {
        "database": connection.vendor,
        "wall_s": round(elapsed, 1),
        "saves_s": round(saved, 1),
        "create_requests": len(posts),
        "faults_injected": sum(f.applied for f in faults),
        "faults_by_kind": dict(sorted(kinds.items())),
        "replayed_by_idempotency_key": sum(r.replayed for r in posts),
        "creation_attempts": sum(attempts),
        "media_needing_retries": sum(a > 1 for a in attempts),
        "max_attempts_one_media": max(attempts, default=0),
        "recovery_runs": recovery.runs,
        "recovery_requeued": recovery.requeued,
        "webhook_events": len(events),
        "webhook_delivery_attempts": sum(len(d.attempts) for d in deliveries),
        "webhooks_undelivered": sum(not d.delivered for d in deliveries),
        "remote_media": len(remote),
        "duplicates": sum(count - 1 for count in references.values() if count > 1),
        "lost": sum(not row["fastpix_id"] for row in rows),
        "worker_log_lines": sum(tail(log, 10**7).count("\n") for log in logs),
        "worker_tracebacks": sum(tail(log, 10**7).count("Traceback") for log in logs),
        "not_ready": sum(row["status"] != MediaStatus.READY for row in rows),
    }
    print("\nSOAK", " ".join(f"{key}={value}" for key, value in report.items()))
    diagnosis = (
        report,
        [row for row in rows if row["status"] != MediaStatus.READY][:10],
        recovery.errors[:5],
        [tail(log) for log in logs],
        fake_api.errors[:3],
    )

    assert done, diagnosis
    assert all(alive), diagnosis  # no worker died along the way
    assert not recovery.errors, diagnosis
    assert len(rows) == LESSONS, diagnosis  # one media per lesson: no stand-in left over
    assert {row["object_id"] for row in rows} == set(
        map(str, Lesson.objects.values_list("pk", flat=True))
    )
    assert report["lost"] == 0, diagnosis
    assert len(remote) == LESSONS, diagnosis
    assert report["duplicates"] == 0, diagnosis
    assert set(references) == {str(row["reference"]) for row in rows}, diagnosis
    assert {row["fastpix_id"] for row in rows} == {m["id"] for m in remote}, diagnosis
    assert report["not_ready"] == 0, diagnosis
    assert delivered and report["webhooks_undelivered"] == 0, diagnosis
    # The faults really happened, in every kind, at about the intended share.
    assert set(kinds) == {"status:503", "status:429", "reset", "latency"}, diagnosis
    assert 0.1 <= report["faults_injected"] / len(posts) <= 0.3, diagnosis
    assert report["media_needing_retries"] > 0, diagnosis  # queued retries (run_after) ran
    assert not fake_api.errors
