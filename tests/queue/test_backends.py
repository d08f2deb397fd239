"""Every background operation of the app on every supported Django Tasks set-up.

The immediate backend (development: in-process, no deferral), django-tasks-db (``db_worker``
processes; SQLite or PostgreSQL, whichever the run uses) and django-tasks-rq (a real Redis and
``rqworker --with-scheduler`` processes). For each: media creation, a creation retried later
(``run_after`` where the backend can defer, recovery where it cannot), recovery, remote
deletion, the signing-key prune, the upload sweep and a webhook event stored for a worker, all
queued the way the app queues them.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO

import django_rq
import pytest
import requests
from django.db import transaction
from django.test import Client
from django.utils import timezone

from django_fastpix import jobs
from django_fastpix.models import (
    Media,
    MediaStatus,
    SigningKey,
    Upload,
    UploadStatus,
    WebhookEvent,
    WebhookOutcome,
)
from django_fastpix.scopes import Scope
from django_fastpix.services.signing_keys import revoke_signing_key, signing_key_for
from django_fastpix.services.uploads import read_upload_context, start_upload, upload_context
from django_fastpix.services.webhooks import SIGNATURE_HEADER
from django_fastpix.tasks import enqueue_recovery, enqueue_signing_key_prune, enqueue_upload_sweep
from tests.conftest import subprocess_env
from tests.processes import start_db_worker, start_rq_worker, stop, wait_for
from tests.reliability_support import WEBHOOK_SECRET, event_body, signed, webhook_path
from tests.settings import POOLED_RQ_CACHE, pooled_rq_caches
from tests.testapp.models import Lesson

# The test process and the workers alike: a fault fails the attempt at once (no transport
# retry), and the next attempt comes a fraction of a second later.
TUNING = {"MAX_RETRIES": 0, "CREATION_RETRY_BASE": 0.3, "CREATION_RETRY_MAX": 0.6}
WORKERS = 2
WAIT = 45.0


@dataclass
class Queue:
    """A TASKS alias and the worker processes serving it (none for the immediate backend)."""

    alias: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)

    def log_text(self) -> str:
        out = []
        for log in self.logs:
            log.flush()
            log.seek(0)
            out.append(log.read().decode(errors="replace"))
        return "\n---\n".join(out)

    def wait(self, what: str, predicate: Callable[[], object]) -> None:
        if not wait_for(predicate, timeout=WAIT, interval=0.1):
            pytest.fail(
                f"{what}: not done within {WAIT:.0f} s on {self.alias!r}\n"
                f"media: {list(Media.objects.values('pk', 'status', 'error'))}\n"
                f"worker logs:\n{self.log_text()[-4000:]}"
            )


@pytest.fixture(
    params=[
        "immediate",
        "db_workers",
        pytest.param("rq_workers", marks=pytest.mark.rq),
        # The README's pooled set-up: RQ_QUEUES borrows a django-redis connection pool.
        pytest.param("rq_workers_pooled", marks=pytest.mark.rq),
    ]
)
def queue(request, fake_api, settings, tmp_path) -> Iterator[Queue]:
    alias = {
        "immediate": "default",
        "db_workers": "queue",
        "rq_workers": "rq",
        "rq_workers_pooled": "rq",
    }[request.param]
    settings.FASTPIX = {**settings.FASTPIX, **TUNING, "TASK_BACKEND": alias}
    queue = Queue(alias)
    if request.param == "immediate":
        yield queue
        return
    tuning = {**TUNING, "TASK_BACKEND": alias}
    env = subprocess_env(
        FASTPIX_API_BASE_URL=fake_api.base_url,
        **{f"FASTPIX_{key}": str(value) for key, value in tuning.items()},
    )
    queue.logs = [(tmp_path / f"worker{n}.log").open("w+b") for n in range(WORKERS)]
    if request.param.startswith("rq"):
        env["REDIS_URL"] = request.getfixturevalue("redis_url")
        if request.param == "rq_workers_pooled":
            use_pooled_rq(settings, env)
        start = start_rq_worker
    else:
        start = start_db_worker
    queue.procs = [start(f"w{n}", env, stderr=log) for n, log in enumerate(queue.logs)]
    try:
        yield queue
        assert all(proc.poll() is None for proc in queue.procs), queue.log_text()[-4000:]
    finally:
        stop(queue.procs)
        for log in queue.logs:
            log.close()


def use_pooled_rq(settings, env: dict[str, str]) -> None:
    """This process and the workers enqueue through a django-redis pool (tests/settings.py)."""
    settings.CACHES = {**settings.CACHES, **pooled_rq_caches(env["REDIS_URL"])}
    settings.RQ_QUEUES = {"default": {"USE_REDIS_CACHE": POOLED_RQ_CACHE}}
    env["FASTPIX_TEST_RQ_POOLED"] = "1"
    # One client, reused: a URL set-up would hand out a new client (and connection) each time.
    assert django_rq.get_connection("default") is django_rq.get_connection("default")


def linked(pk: int) -> bool:
    return Media.objects.filter(pk=pk, fastpix_id__isnull=False).exists()


def save_lesson(name: str) -> tuple[Lesson, Media]:
    with transaction.atomic():
        lesson = Lesson.objects.create(title=name, video_url=f"https://cdn.example.com/{name}.mp4")
    return lesson, Media.objects.get(object_id=str(lesson.pk))


@pytest.mark.django_db(transaction=True)
def test_every_task_runs_on(queue, fake_token, workspace, fake_api, settings):
    fake_token(system=Scope.READ_WRITE)
    deferring = jobs.can_defer("create_media")
    assert deferring == (queue.alias != "default")

    # create_media, queued by a model save (on commit).
    _, first = save_lesson("first")
    queue.wait("create_media", lambda: linked(first.pk))

    # create_media again after a 503: a job deferred with run_after where the backend can,
    # the next recovery run where it cannot (the immediate backend).
    fake_api.inject("POST /on-demand", status=503, times=1)
    _, retried = save_lesson("retried")
    if deferring:
        queue.wait("create_media deferred retry", lambda: linked(retried.pk))
    else:
        retried.refresh_from_db()
        assert retried.status == MediaStatus.PENDING and "503" in retried.error
        assert retried.next_attempt_at is not None
        wait_for(lambda: timezone.now() >= retried.next_attempt_at, timeout=5)
        enqueue_recovery()
        queue.wait("create_media after recovery", lambda: linked(retried.pk))
    retried.refresh_from_db()
    assert retried.creation_attempts == 2

    # recover_media: a pending media whose job was lost.
    lost = Media.objects.create(
        workspace=workspace,
        source_url="https://cdn.example.com/lost.mp4",
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    enqueue_recovery()
    queue.wait("recover_media", lambda: linked(lost.pk))

    # delete_media, queued by the source object's deletion (delete_remote_on_delete).
    lesson, doomed = save_lesson("doomed")
    queue.wait("create_media (to delete)", lambda: linked(doomed.pk))
    doomed.refresh_from_db()
    with transaction.atomic():
        lesson.delete()
    queue.wait(
        "delete_media",
        lambda: Media.objects.filter(pk=doomed.pk, status=MediaStatus.DELETED).exists(),
    )
    assert doomed.fastpix_id not in {m["id"] for m in fake_api.media()}

    # prune_signing_keys: a key revoked while FastPix could not delete it.
    key = signing_key_for(workspace)
    refused = fake_api.inject("DELETE /iam/signing-keys/*", status=500)
    revoke_signing_key(key, reason="leaked")
    fake_api.clear_faults(refused)
    assert not SigningKey.objects.get(pk=key.pk).deleted_in_fastpix_at
    enqueue_signing_key_prune()
    queue.wait(
        "prune_signing_keys",
        lambda: SigningKey.objects.get(pk=key.pk).deleted_in_fastpix_at is not None,
    )
    assert fake_api.signing_key_public_pem(key.fastpix_id) is None

    # sweep_uploads: an upload whose media arrived while no webhook told the site.
    started = start_upload(read_upload_context(upload_context(workspace)), filename="u.mp4")
    assert requests.put(started.url, data=b"bytes", timeout=10).status_code == 200
    (remote,) = [u for u in fake_api.uploads() if u["uploadId"] == started.upload.fastpix_id]
    arrived = Media.objects.create(
        workspace=workspace, fastpix_id=remote["mediaId"], upload_id=started.upload.fastpix_id
    )
    enqueue_upload_sweep()
    queue.wait(
        "sweep_uploads",
        lambda: Upload.objects.filter(
            pk=started.upload.pk, status=UploadStatus.ASSET_CREATED, media=arrived
        ).exists(),
    )

    # process_webhook_event: a delivery the view stored for a worker (queued processing).
    settings.FASTPIX = {**settings.FASTPIX, "WEBHOOK_PROCESSING": "queued"}
    workspace.webhook_secret = WEBHOOK_SECRET
    workspace.save()
    first.refresh_from_db()
    body = event_body(
        "video.media.updated", str(first.fastpix_id), status="Ready", title="Renamed in FastPix"
    )
    response = Client().post(
        webhook_path(workspace),
        body,
        content_type="application/json",
        headers={SIGNATURE_HEADER: signed(body)},
    )
    assert response.status_code == 200 and "queued" in response.json()["detail"]
    queue.wait(
        "process_webhook_event",
        lambda: Media.objects.filter(pk=first.pk, title="Renamed in FastPix").exists(),
    )
    assert WebhookEvent.objects.get(type="video.media.updated").outcome == WebhookOutcome.PROCESSED

    # Every creation exactly once, nothing left behind.
    remote_ids = [m["id"] for m in fake_api.media()]
    assert sorted(remote_ids) == sorted(
        Media.objects.exclude(status=MediaStatus.DELETED).values_list("fastpix_id", flat=True)
    )
    assert len(remote_ids) == 4  # first, retried, lost and the upload's (doomed is deleted)
    assert not Media.objects.filter(status=MediaStatus.PENDING, fastpix_id__isnull=True).exists()
    assert "Traceback" not in queue.log_text(), queue.log_text()[-4000:]
