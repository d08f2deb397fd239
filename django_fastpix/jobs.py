"""Where services hand background work to the task queue, without importing the task edge.

``tasks.py`` (an edge: it runs services) registers its task objects here when the app is
ready; services enqueue by job name. So services never import ``tasks`` and the package has
no import cycle (see the architecture page of the docs).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .conf import fastpix_settings

# Job name → the Task object (django.tasks / django_tasks), filled by tasks.register_jobs().
_jobs: dict[str, Any] = {}


def register(name: str, task: Any) -> None:
    """Make ``task`` the job run for ``name`` (called once per job when the app loads)."""
    _jobs[name] = task


def _job(name: str) -> Any:
    try:
        task = _jobs[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"No FastPix job {name!r} is registered: is 'django_fastpix' in INSTALLED_APPS?"
        ) from None
    return task.using(backend=str(fastpix_settings.TASK_BACKEND))


def enqueue(name: str, *args: Any, run_after: datetime | None = None) -> Any:
    """Queue job ``name`` on FASTPIX["TASK_BACKEND"], at ``run_after`` if given."""
    job = _job(name)
    if run_after is not None:
        job = job.using(run_after=run_after)
    return job.enqueue(*args)


def can_defer(name: str = "create_media") -> bool:
    """Whether the configured backend runs a job at a given time (``run_after``)."""
    return bool(_job(name).get_backend().supports_defer)
