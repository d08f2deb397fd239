"""Helpers for the reliability tests (issue 8): signed webhook bodies, task backends that record
or refuse jobs, source options that raise, and an admin site where Lesson can be added.

Also a URL module (``@pytest.mark.urls("tests.reliability_support")``): the project's URLs plus
``/host-admin/``, an admin site with ``Lesson`` registered, as a host site would have it.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from typing import Any

from django.contrib import admin
from django.db import models
from django.urls import include, path, reverse
from django.utils import timezone

from django_fastpix.testing.webhooks import sign
from tests.testapp.models import Lesson

try:  # Django >= 6.0
    from django.tasks.backends.dummy import DummyBackend
except ImportError:  # Django 5.2: the backport
    from django_tasks.backends.dummy import DummyBackend  # type: ignore[no-redef]

# --- webhooks ---

WEBHOOK_SECRET = base64.b64encode(b"reliability-webhook-secret-32byte").decode()


def signed(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    """FastPix-Signature of ``body`` (the fake FastPix's own implementation, not the app's)."""
    return sign(body, secret)


def webhook_path(workspace: Any) -> str:
    return reverse("django_fastpix:webhook", kwargs={"workspace": workspace.slug})


def event_body(
    kind: str,
    media_id: str,
    *,
    event_id: str | None = None,
    created_at: str | None = None,
    **data: Any,
) -> bytes:
    """A FastPix media event as FastPix delivers it (``data`` is the media object)."""
    payload = {
        "type": kind,
        "id": event_id or str(uuid.uuid4()),
        "object": {"type": "media", "id": media_id},
        "workspace": {"id": "ws-default", "name": "Default"},
        "status": "media_" + kind.rsplit(".", 1)[-1],
        "data": {"id": media_id, **data},
        "createdAt": created_at or timezone.now().isoformat(),
        "attempts": [],
    }
    return json.dumps(payload).encode()


# --- task backends ---

_recorded_lock = threading.Lock()
RECORDED: list[tuple[str, tuple[Any, ...], Any]] = []


def recorded_jobs(name: str | None = None) -> list[tuple[str, tuple[Any, ...], Any]]:
    """Jobs the RecordingBackend received (from any thread): (task name, args, run_after)."""
    with _recorded_lock:
        return [job for job in RECORDED if name is None or job[0] == name]


def clear_recorded() -> None:
    with _recorded_lock:
        RECORDED.clear()


class RecordingBackend(DummyBackend):
    """Keeps every job (never runs one), in a list shared by all threads."""

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        result = super().enqueue(task, args, kwargs)
        with _recorded_lock:
            RECORDED.append((task.name, tuple(args), task.run_after))
        return result


class BrokenQueueError(RuntimeError):
    pass


class BrokenBackend(DummyBackend):
    """A queue that cannot be reached: every enqueue raises."""

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        raise BrokenQueueError("queue database unreachable")


def backend_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


# --- source options that raise ---


class SourceOptionError(ValueError):
    pass


def broken_title(lesson: Lesson) -> str:
    raise SourceOptionError(f"no title for {lesson.title!r} today")


def broken_metadata(lesson: Lesson) -> dict[str, str]:
    raise SourceOptionError("metadata service is down")


# --- a host site's admin, with Lesson registered ---


class LessonAdmin(admin.ModelAdmin):
    # Django 6's default; said here so that 5.2 does not warn about the change.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


host_admin = admin.AdminSite(name="host_admin")
host_admin.register(Lesson, LessonAdmin)

urlpatterns = [
    path("host-admin/", host_admin.urls),
    path("admin/", admin.site.urls),
    path("fastpix/", include("django_fastpix.urls")),
]
