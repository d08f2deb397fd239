"""The example site's pages: lessons (a video placed with one template tag, and an upload
form for editors) and live events (a live player that appears when the broadcast starts)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache

from django_fastpix.conf import fastpix_settings
from django_fastpix.models import LiveStream, LiveStreamStatus, Workspace

from .forms import LessonVideoForm
from .models import Lesson

# How often a live event page asks whether the stream's state changed (milliseconds).
LIVE_POLL_MS = 2000


def lessons_with_videos() -> QuerySet[Lesson]:
    # One query for the lessons (their media and workspace joined), one for the playback ids:
    # a page of fifty videos costs the same as a page of one.
    return Lesson.objects.select_related("video").prefetch_related("video__playback_ids")


def lesson_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "videos/lesson_list.html",
        {"lessons": lessons_with_videos(), "live_streams": live_streams()[:5]},
    )


def may_upload(request: HttpRequest, lesson: Lesson) -> bool:
    """The app's own rule (FASTPIX["UPLOAD_PERMISSION"]): the page and the upload view agree."""
    allowed = import_string(fastpix_settings.UPLOAD_PERMISSION)
    return bool(allowed(request, lesson))


def lesson_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lesson = get_object_or_404(lessons_with_videos(), pk=pk)
    form = None
    workspace = None
    if may_upload(request, lesson):
        workspace = Workspace.objects.filter(slug=settings.VIDEOS_WORKSPACE).first()
    if workspace is not None:
        # Editors only: anonymous visitors and readers get no form (and no signed context).
        # Never submitted: the upload fills lesson.video by itself (the widget is bound to it).
        form = LessonVideoForm(instance=lesson, workspace=workspace)
    return render(
        request,
        "videos/lesson_detail.html",
        {"lesson": lesson, "form": form, "can_upload": form is not None},
    )


def live_streams() -> QuerySet[LiveStream]:
    # The stream key and SRT secret are credentials: these pages never load them.
    return (
        LiveStream.objects.exclude(status=LiveStreamStatus.DELETED)
        .defer("stream_key", "srt_secret")
        .order_by("-created_at")
    )


def live_list(request: HttpRequest) -> HttpResponse:
    return render(request, "videos/live_list.html", {"streams": live_streams()})


def live_detail(request: HttpRequest, pk: int) -> HttpResponse:
    stream = get_object_or_404(live_streams(), pk=pk)
    return render(
        request,
        "videos/live_detail.html",
        {"stream": stream, "poll_ms": LIVE_POLL_MS},
    )


@never_cache
def live_status(request: HttpRequest, pk: int) -> JsonResponse:
    """What the live page polls: the stream's state, as the webhooks last reported it."""
    stream = get_object_or_404(live_streams().only("pk", "status"), pk=pk)
    return JsonResponse({"status": stream.status, "live": stream.is_live})
