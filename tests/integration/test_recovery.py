"""Recovery (issue 8): overdue pending media are queued again, once, and nothing else is.

Jobs go to a backend that records them without running them (tests.reliability_support), so
each test counts exactly what recovery queued.
"""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from django_fastpix.models import Media, MediaStatus
from tests.reliability_support import (
    RecordingBackend,
    backend_path,
    clear_recorded,
    recorded_jobs,
)
from tests.settings import IMMEDIATE_BACKEND
from tests.testapp.models import Lesson

pytestmark = pytest.mark.django_db

GRACE = 300.0
VIDEO = "https://cdn.example.com/recover.mp4"


@pytest.fixture
def recording(settings):
    settings.TASKS = {
        "default": {"BACKEND": IMMEDIATE_BACKEND},
        "recording": {"BACKEND": backend_path(RecordingBackend)},
    }
    settings.FASTPIX = {
        **settings.FASTPIX,
        "TASK_BACKEND": "recording",
        "RECOVERY_GRACE_SECONDS": GRACE,
    }
    clear_recorded()
    yield
    clear_recorded()


def queued_pks() -> list[int]:
    return sorted(args[0] for _, args, _ in recorded_jobs("create_media"))


@pytest.fixture
def rows(workspace, recording):
    """One media in each situation recovery must tell apart; the names say which."""
    now = timezone.now()
    ago, soon = now - timedelta(minutes=1), now + timedelta(minutes=10)
    long_ago = now - timedelta(seconds=GRACE + 60)
    specs = {
        # due: the job was lost, or never queued, or its worker died and the lease ran out
        "overdue": {"next_attempt_at": ago},
        "never_attempted_and_stale": {"updated_at": long_ago},
        "lease_expired": {"next_attempt_at": ago, "creation_lease_until": ago},
        # not due
        "scheduled_later": {"next_attempt_at": soon},
        "leased": {"next_attempt_at": ago, "creation_lease_until": soon},
        "just_saved": {},
        "created": {"status": MediaStatus.CREATED, "fastpix_id": "fp-1", "next_attempt_at": ago},
        "failed": {"status": MediaStatus.FAILED, "next_attempt_at": ago, "updated_at": long_ago},
        "deleted": {"status": MediaStatus.DELETED, "updated_at": long_ago},
    }
    made = {}
    for name, fields in specs.items():
        media = Media.objects.create(workspace=workspace, source_url=VIDEO, title=name)
        Media.objects.filter(pk=media.pk).update(**fields)  # update(): keeps updated_at as given
        made[name] = media.pk
    return made


DUE = ("overdue", "never_attempted_and_stale", "lease_expired")


def test_only_overdue_unleased_pending_media_are_requeued(rows):
    from django_fastpix.services.recovery import recover_media

    report = recover_media()
    assert report.requeued == len(DUE)
    assert queued_pks() == sorted(rows[name] for name in DUE)
    for name in DUE:  # pushed out by the grace period: the queued job has that long to run
        media = Media.objects.get(pk=rows[name])
        assert media.next_attempt_at > timezone.now() + timedelta(seconds=GRACE - 30)
    assert Media.objects.get(pk=rows["leased"]).creation_lease_until is not None


def test_back_to_back_runs_queue_each_media_once(rows):
    from django_fastpix.services.recovery import recover_media

    first = recover_media()
    second = recover_media()
    assert (first.requeued, second.requeued) == (len(DUE), 0)
    assert queued_pks() == sorted(rows[name] for name in DUE)  # once each
    # The queued jobs never ran (lost again): once the grace period is over, they are due
    # again, and so is the row saved without a job that never got one.
    later = recover_media(now=timezone.now() + timedelta(seconds=GRACE + 1))
    assert later.requeued == len(DUE) + 1
    assert queued_pks() == sorted([rows[name] for name in DUE] * 2 + [rows["just_saved"]])


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_queue_each_media_once(rows):
    """Two recoveries at once (two cron hosts): every overdue media is queued by one of them."""
    from django_fastpix.services.recovery import recover_media

    more = [
        Media.objects.create(workspace_id=Media.objects.get(pk=rows["overdue"]).workspace_id)
        for _ in range(40)
    ]
    Media.objects.filter(pk__in=[m.pk for m in more]).update(
        next_attempt_at=timezone.now() - timedelta(minutes=5)
    )
    expected = sorted([rows[name] for name in DUE] + [m.pk for m in more])
    for round_ in range(5):
        Media.objects.filter(pk__in=expected).update(
            next_attempt_at=timezone.now() - timedelta(minutes=5)
        )
        clear_recorded()
        barrier = threading.Barrier(2)
        reports: list[object] = []

        def run(barrier=barrier, reports=reports) -> None:
            try:
                barrier.wait()
                reports.append(recover_media())
            except Exception as exc:
                reports.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not [r for r in reports if isinstance(r, Exception)], reports
        assert queued_pks() == expected, (round_, len(queued_pks()), len(expected))
        assert sum(r.requeued for r in reports) == len(expected)


def test_recover_command_text_json_and_limit(rows):
    out, err = io.StringIO(), io.StringIO()
    call_command("fastpix_media", "recover", "--limit", "1", stdout=out, stderr=err)
    assert "Requeued 1 pending media" in out.getvalue() and err.getvalue() == ""
    assert queued_pks() == [rows["overdue"]]

    out = io.StringIO()
    call_command("fastpix_media", "recover", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {
        "requeued": len(DUE) - 1,
        "created_for_objects": 0,
        "objects_still_without_media": 0,
        "events_requeued": 0,
    }
    out = io.StringIO()
    call_command("fastpix_media", "recover", stdout=out)
    assert "Requeued 0 pending media; made 0 media" in out.getvalue()
    assert queued_pks() == sorted(rows[name] for name in DUE)


def test_recover_command_reports_objects_it_still_cannot_serve(
    recording, workspace, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stray = Lesson.objects.create(title="Nowhere", video_url=VIDEO, workspace_slug="nowhere")
        served = Lesson.objects.create(title="Prod", video_url=VIDEO)
    assert not Media.objects.filter(object_id=str(stray.pk)).exists()
    assert Media.objects.filter(object_id=str(served.pk)).count() == 1
    out, err = io.StringIO(), io.StringIO()
    call_command("fastpix_media", "recover", "--json", stdout=out, stderr=err)
    assert json.loads(out.getvalue())["objects_still_without_media"] == 1
    out, err = io.StringIO(), io.StringIO()
    call_command("fastpix_media", "recover", stdout=out, stderr=err)
    assert "1 source object(s) still have no media" in err.getvalue()
    assert "fastpix_doctor" in err.getvalue()

    stray.workspace_slug = "prod"  # fixed by an editor: a save makes the media at once
    with django_capture_on_commit_callbacks(execute=True):
        stray.save()
    out = io.StringIO()
    call_command("fastpix_media", "recover", "--json", stdout=out)
    assert json.loads(out.getvalue())["objects_still_without_media"] == 0
