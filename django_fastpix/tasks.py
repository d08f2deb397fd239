"""Background work through the Django Tasks API (django.tasks on 6.x, the django-tasks backport
on 5.2). Task bodies are one service call each; arguments are primary keys (JSON-safe).

Services do not import this module: they enqueue by job name through ``django_fastpix.jobs``,
where ``register_jobs`` (run from ``AppConfig.ready``) puts these tasks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import jobs
from .services.media import attempt_creation, attempt_deletion
from .services.recovery import recover_media as run_recovery
from .services.signing_keys import delete_pending_keys
from .services.uploads import sweep_uploads as run_upload_sweep
from .services.webhook_queue import attempt_event_processing

try:  # Django >= 6.0
    from django.tasks import task
except ImportError:  # Django 5.2: the backport
    from django_tasks import task  # type: ignore[no-redef]


@task()
def create_media(media_id: int) -> None:
    """One creation attempt for a pending row; a transient failure schedules the next one."""
    attempt_creation(media_id)


@task()
def delete_media(media_id: int, attempt: int = 1) -> None:
    """Delete a media in FastPix and mark the row deleted; transient failures reschedule."""
    attempt_deletion(media_id, attempt)


@task()
def recover_media() -> dict[str, int]:
    """Queue again every media whose attempt died or was never queued (see services.recovery)."""
    return run_recovery().as_dict()


@task()
def prune_signing_keys() -> dict[str, int]:
    """Delete in FastPix the revoked keys and the retiring keys whose overlap is over."""
    deleted, failed = delete_pending_keys()
    return {"deleted": deleted, "failed": failed}


@task()
def sweep_uploads() -> dict[str, int]:
    """Link uploads whose media arrived unnoticed; time out (and withdraw) expired ones."""
    result = run_upload_sweep()
    return {"linked": result.linked, "timed_out": result.timed_out}


@task()
def process_webhook_event(event_id: int, attempt: int = 1) -> None:
    """Apply a webhook event the view stored for a worker (WEBHOOK_PROCESSING = "queued")."""
    attempt_event_processing(event_id, attempt)


def register_jobs() -> None:
    """Hand these tasks to ``django_fastpix.jobs``, where services enqueue them by name."""
    jobs.register("create_media", create_media)
    jobs.register("delete_media", delete_media)
    jobs.register("recover_media", recover_media)
    jobs.register("prune_signing_keys", prune_signing_keys)
    jobs.register("sweep_uploads", sweep_uploads)
    jobs.register("process_webhook_event", process_webhook_event)


def enqueue_create(media_id: int, run_after: datetime | None = None) -> Any:
    """Queue creation of a media (from transaction.on_commit), at ``run_after`` if given."""
    return jobs.enqueue("create_media", media_id, run_after=run_after)


def enqueue_delete(media_id: int) -> Any:
    """Queue remote deletion of a media; call it from transaction.on_commit."""
    return jobs.enqueue("delete_media", media_id)


def enqueue_recovery() -> Any:
    """Queue one recovery run (for a scheduler that enqueues tasks rather than running cron)."""
    return jobs.enqueue("recover_media")


def enqueue_signing_key_prune() -> Any:
    """Queue one prune of signing keys (the task form of ``fastpix_signing_keys prune``)."""
    return jobs.enqueue("prune_signing_keys")


def enqueue_upload_sweep() -> Any:
    """Queue one sweep of stale uploads (the task form of ``fastpix_uploads sweep``)."""
    return jobs.enqueue("sweep_uploads")
