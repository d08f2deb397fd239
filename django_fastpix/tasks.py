"""Background work through the Django Tasks API (django.tasks on 6.x, the django-tasks backport
on 5.2). Task bodies are one service call each; arguments are primary keys (JSON-safe)."""

from __future__ import annotations

from typing import Any

from .conf import fastpix_settings

try:  # Django >= 6.0
    from django.tasks import task
except ImportError:  # Django 5.2: the backport
    from django_tasks import task  # type: ignore[no-redef]


@task()
def create_media(media_id: int) -> None:
    """Create the FastPix media of a pending row (exactly once, see services.media)."""
    from .services.media import create_remote_media

    create_remote_media(media_id)


@task()
def delete_media(media_id: int) -> None:
    """Delete a media in FastPix and mark the row deleted."""
    from .models import Media
    from .services.media import delete_remote_media

    delete_remote_media(Media.objects.select_related("workspace").get(pk=media_id))


def _enqueue(task_obj: Any, *args: Any) -> Any:
    return task_obj.using(backend=str(fastpix_settings.TASK_BACKEND)).enqueue(*args)


def enqueue_create(media_id: int) -> Any:
    """Queue creation of a media; call it from transaction.on_commit."""
    return _enqueue(create_media, media_id)


def enqueue_delete(media_id: int) -> Any:
    """Queue remote deletion of a media; call it from transaction.on_commit."""
    return _enqueue(delete_media, media_id)
