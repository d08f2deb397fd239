"""A real queue: tasks stored in the database, run by separate `db_worker` processes."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import transaction

from django_fastpix.models import Media, MediaStatus
from django_fastpix.tasks import enqueue_create
from tests.conftest import subprocess_env
from tests.processes import start_db_worker, stop, wait_for
from tests.testapp.models import Lesson

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def workers(fake_api, settings):
    """Two worker processes on the 'queue' backend, pointed at the fake FastPix."""
    settings.FASTPIX = {**settings.FASTPIX, "TASK_BACKEND": "queue"}
    env = subprocess_env(FASTPIX_API_BASE_URL=fake_api.base_url)
    procs = [start_db_worker(f"w{n}", env) for n in range(2)]
    yield procs
    stop(procs)


@pytest.mark.django_db(transaction=True)
def test_workers_create_each_media_exactly_once(fake_token, workspace, fake_api, workers):
    fake_token()
    lessons = []
    for n in range(12):
        with transaction.atomic():
            lessons.append(
                Lesson.objects.create(title=f"L{n}", video_url=f"https://cdn.example.com/{n}.mp4")
            )
    # Each media queued a second time, as a retried or duplicated job would be.
    for media in Media.objects.all():
        enqueue_create(media.pk)

    def all_linked() -> bool:
        return not Media.objects.filter(fastpix_id__isnull=True).exists()

    ok = wait_for(all_linked, timeout=60, interval=0.1)
    errors = [
        p.stderr.read1(4000).decode(errors="replace") if p.poll() is not None else ""
        for p in workers
    ]
    assert ok, (list(Media.objects.values("status", "error", "creation_attempts")), errors)
    assert Media.objects.count() == 12
    remote = fake_api.media()
    assert len(remote) == 12  # no duplicates despite 24 jobs for 12 media on two workers
    assert set(Media.objects.values_list("fastpix_id", flat=True)) == {m["id"] for m in remote}
    assert all(p.poll() is None for p in workers)  # the workers are still alive
    assert MediaStatus.PENDING not in set(Media.objects.values_list("status", flat=True))
