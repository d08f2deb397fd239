"""Background work through the Django Tasks API (django.tasks on 6.x, the django-tasks backport
on 5.2). Task bodies are one service call each; arguments are primary keys (JSON-safe)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from .conf import fastpix_settings

try:  # Django >= 6.0
    from django.tasks import task
except ImportError:  # Django 5.2: the backport
    from django_tasks import task  # type: ignore[no-redef]

logger = logging.getLogger(__name__)


@task()
def create_media(media_id: int) -> None:
    """One creation attempt for a pending row; a transient failure schedules the next one."""
    from .services.media import attempt_creation

    attempt_creation(media_id)


@task()
def delete_media(media_id: int) -> None:
    """Delete a media in FastPix and mark the row deleted."""
    from .models import Media
    from .services.media import delete_remote_media

    delete_remote_media(Media.objects.select_related("workspace").get(pk=media_id))


@task()
def recover_media() -> dict[str, int]:
    """Queue again every media whose attempt died or was never queued (see services.recovery)."""
    from .services.recovery import recover_media as recover

    return recover().as_dict()


def _backend_task(task_obj: Any) -> Any:
    return task_obj.using(backend=str(fastpix_settings.TASK_BACKEND))


def can_defer() -> bool:
    """Whether the configured task backend runs a job at a given time (``run_after``)."""
    return bool(_backend_task(create_media).get_backend().supports_defer)


def enqueue_create(media_id: int, run_after: datetime | None = None) -> Any:
    """Queue creation of a media (from transaction.on_commit), at ``run_after`` if given."""
    queued = _backend_task(create_media)
    if run_after is not None:
        queued = queued.using(run_after=run_after)
    return queued.enqueue(media_id)


def enqueue_delete(media_id: int) -> Any:
    """Queue remote deletion of a media; call it from transaction.on_commit."""
    return _backend_task(delete_media).enqueue(media_id)


def enqueue_recovery() -> Any:
    """Queue one recovery run (for a scheduler that enqueues tasks rather than running cron)."""
    return _backend_task(recover_media).enqueue()
