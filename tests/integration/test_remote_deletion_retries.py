"""Remote deletion reschedules itself on transient failures, like creation."""

from __future__ import annotations

import pytest

from django_fastpix.models import Media, MediaStatus
from django_fastpix.services.media import attempt_deletion
from tests.reliability_support import (
    RecordingBackend,
    backend_path,
    clear_recorded,
    recorded_jobs,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording(settings):
    """Jobs go to a backend that records them (and can defer), never runs them."""
    settings.TASKS = {**settings.TASKS, "recording": {"BACKEND": backend_path(RecordingBackend)}}
    settings.FASTPIX = {**settings.FASTPIX, "TASK_BACKEND": "recording"}
    clear_recorded()
    yield
    clear_recorded()


def test_a_5xx_queues_the_next_attempt_then_it_succeeds(
    recording,
    fake_token,
    workspace,
    fake_api,
):
    fake_token()
    media = Media.objects.create(workspace=workspace, fastpix_id="m-1", status=MediaStatus.READY)
    fake_api.inject("DELETE /on-demand/{id}", status=503)
    attempt_deletion(media.pk)
    media.refresh_from_db()
    assert media.status == MediaStatus.READY  # not deleted yet
    [(_name, args, run_after)] = recorded_jobs("delete_media")
    assert args == (media.pk, 2) and run_after is not None
    fake_api.clear_faults()
    attempt_deletion(media.pk, 2)  # the queued job; FastPix no longer knows it: 404 = done
    media.refresh_from_db()
    assert media.status == MediaStatus.DELETED


def test_the_last_attempt_gives_up_with_an_error_logged(
    recording,
    fake_token,
    workspace,
    fake_api,
    settings,
    caplog,
):
    settings.FASTPIX = {**settings.FASTPIX, "CREATION_MAX_ATTEMPTS": 2}
    fake_token()
    media = Media.objects.create(workspace=workspace, fastpix_id="m-2", status=MediaStatus.READY)
    fake_api.inject("DELETE /on-demand/{id}", status=503)
    attempt_deletion(media.pk, 2)
    assert recorded_jobs("delete_media") == []
    assert "failed for good" in caplog.text
