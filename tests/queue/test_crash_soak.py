"""Crash soak on PostgreSQL: 300 creations through 4 workers that are SIGKILLed and restarted.

Run on each real queue (django-tasks-rq on Redis with ``rqworker`` processes, django-tasks-db
with ``db_worker`` processes). A fifth of the create requests fault (5xx, 429 with
Retry-After, connection resets, answers after the read timeout), signed webhooks are held and
released in shuffled batches while the workers run, a worker (with everything it forked) is
killed with SIGKILL at random moments and a new one started, and recovery runs as a cron
would. Every media must be created exactly once and end ready; the figures are printed.

Marked ``soak``: ``tox -e postgres`` runs it, the other environments deselect it.
"""

from __future__ import annotations

import collections
import random
import subprocess
import threading
import time
from typing import IO

import pytest
from django.db import connection, transaction
from django.urls import reverse

from django_fastpix.models import Media, MediaStatus
from tests.conftest import subprocess_env
from tests.processes import kill_hard, start_db_worker, start_rq_worker, stop, wait_for
from tests.queue.soak_support import FAULTS, WEBHOOK_SECRET, Recovery, tail
from tests.testapp.models import Lesson

LESSONS = 300
WORKERS = 4
ALIASES = {"rq": "rq", "db": "queue"}
TUNING = {
    "CONNECT_TIMEOUT": 2.0,
    "READ_TIMEOUT": 1.0,  # the late answers come after 1.5 s
    "RETRY_BACKOFF_BASE": 0.05,
    "RETRY_BACKOFF_MAX": 0.2,
    "RETRY_AFTER_MAX": 2.0,
    "CREATION_RETRY_BASE": 0.2,
    "CREATION_RETRY_MAX": 2.0,
    # A killed worker's lease runs out after this, then recovery queues the media again.
    "CREATION_LEASE_SECONDS": 6.0,
    # Media still waiting in the backlog are not requeued before this (a short grace floods
    # the queue with duplicate jobs, which stand down but cost a worker each).
    "RECOVERY_GRACE_SECONDS": 20.0,
}
# Transport retries per request, by worker slot: half fail the attempt at the first fault.
WORKER_MAX_RETRIES = (0, 1, 0, 1)
KILL_EVERY = (3.0, 6.0)  # seconds between kills, drawn uniformly


class Pool:
    """WORKERS worker slots; a killed worker is replaced by a new process in its slot."""

    def __init__(self, kind: str, env: dict[str, str], logs: list[IO[bytes]]) -> None:
        self.kind, self.env, self.logs = kind, env, logs
        self.generation = [0] * WORKERS
        self.procs = [self._start(slot) for slot in range(WORKERS)]
        self.kills = 0

    def _start(self, slot: int) -> subprocess.Popen[bytes]:
        name = f"soak{slot}-g{self.generation[slot]}"  # RQ refuses a live worker's name
        env = {**self.env, "FASTPIX_MAX_RETRIES": str(WORKER_MAX_RETRIES[slot])}
        if self.kind == "rq":
            return start_rq_worker(name, env, stderr=self.logs[slot])
        return start_db_worker(name, env, interval=0.05, stderr=self.logs[slot])

    def kill_and_restart(self, slot: int) -> None:
        kill_hard(self.procs[slot])
        self.kills += 1
        self.generation[slot] += 1
        self.procs[slot] = self._start(slot)


class Killer(threading.Thread):
    """SIGKILL a random worker at random moments and start a new one, until halted."""

    def __init__(self, pool: Pool, seed: int) -> None:
        super().__init__(name="soak-killer", daemon=True)
        self.pool, self.random = pool, random.Random(seed)
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(self.random.uniform(*KILL_EVERY)):
            self.pool.kill_and_restart(self.random.randrange(WORKERS))


class Shuffler(threading.Thread):
    """Hold the fake's webhook deliveries and release them in shuffled batches."""

    def __init__(self, fake, seed: int) -> None:
        super().__init__(name="soak-webhooks", daemon=True)
        self.fake, self.seed = fake, seed
        self.halt = threading.Event()
        self.batches = 0

    def run(self) -> None:
        self.fake.hold_webhooks()
        while not self.halt.wait(0.4):
            self.fake.release_webhooks("shuffled", seed=self.seed + self.batches)
            self.batches += 1
            self.fake.hold_webhooks()
        self.fake.release_webhooks("shuffled", seed=self.seed + self.batches)


@pytest.mark.soak
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", [pytest.param("rq", marks=pytest.mark.rq), "db"])
def test_crash_soak_300_creations_4_workers(
    kind, request, live_server, fake_token, workspace, fake_api, settings, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.fail("The crash soak runs on PostgreSQL (tox -e postgres)", pytrace=False)
    alias = ALIASES[kind]
    tuning = {**TUNING, "TASK_BACKEND": alias}
    settings.FASTPIX = {**settings.FASTPIX, **tuning, "MAX_RETRIES": 1}
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
        **{f"FASTPIX_{key}": str(value) for key, value in tuning.items()},
    )
    if kind == "rq":
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
    logs = [(tmp_path / f"worker{n}.log").open("w+b") for n in range(WORKERS)]
    started = time.monotonic()
    pool = Pool(kind, env, logs)
    killer, shuffler, recovery = Killer(pool, seed=911), Shuffler(fake_api, 912), Recovery(2.0)
    for thread in (killer, shuffler, recovery):
        thread.start()
    try:
        for n in range(LESSONS):
            with transaction.atomic():
                Lesson.objects.create(
                    title=f"Crash {n}", video_url=f"https://cdn.example.com/crash/{n}.mp4"
                )
        saved = time.monotonic() - started

        def all_linked() -> bool:
            return not Media.objects.filter(fastpix_id__isnull=True).exists()

        linked = wait_for(all_linked, timeout=150, interval=0.25)
        killer.halt.set()
        killer.join(30)
        shuffler.halt.set()
        shuffler.join(10)

        def all_ready() -> bool:
            return Media.objects.filter(status=MediaStatus.READY).count() == LESSONS

        done = linked and wait_for(all_ready, timeout=60, interval=0.25)
        elapsed = time.monotonic() - started
        delivered = fake_api.wait_for_webhooks(30)
    finally:
        killer.halt.set()
        shuffler.halt.set()
        recovery.halt.set()
        recovery.join(10)
        stop(pool.procs)

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
    deliveries = fake_api.webhook_deliveries
    logs_text = [tail(log, 10**8) for log in logs]
    report = {
        "backend": kind,
        "database": connection.vendor,
        "wall_s": round(elapsed, 1),
        "saves_s": round(saved, 1),
        "workers": WORKERS,
        "kills": pool.kills,
        "create_requests": len(posts),
        "faults_injected": sum(f.applied for f in faults),
        "faults_by_kind": dict(sorted(kinds.items())),
        "replayed_by_idempotency_key": sum(r.replayed for r in posts),
        "creation_attempts": sum(attempts),
        "retries": sum(attempts) - len(rows),
        "media_needing_retries": sum(a > 1 for a in attempts),
        "max_attempts_one_media": max(attempts, default=0),
        "recovery_runs": recovery.runs,
        "recovery_requeued": recovery.requeued,
        "webhook_batches_shuffled": shuffler.batches,
        "webhook_events": len(fake_api.webhook_events),
        "webhook_delivery_attempts": sum(len(d.attempts) for d in deliveries),
        "webhooks_undelivered": sum(not d.delivered for d in deliveries),
        "remote_media": len(remote),
        "duplicates": sum(count - 1 for count in references.values() if count > 1),
        "lost": sum(not row["fastpix_id"] for row in rows),
        "not_ready": sum(row["status"] != MediaStatus.READY for row in rows),
    }
    print("\nCRASH-SOAK", " ".join(f"{key}={value}" for key, value in report.items()))
    diagnosis = (
        report,
        [row for row in rows if row["status"] != MediaStatus.READY][:10],
        recovery.errors[:5],
        [text[-3000:] for text in logs_text],
        fake_api.errors[:3],
    )

    assert done, diagnosis
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
    assert pool.kills >= 3, diagnosis  # the workers really were killed along the way
    assert set(kinds) == {"status:503", "status:429", "reset", "latency"}, diagnosis
    assert 0.1 <= report["faults_injected"] / len(posts) <= 0.3, diagnosis
    assert not fake_api.errors
