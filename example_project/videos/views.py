"""The example site's lesson pages: a video placed with one template tag."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from .models import Lesson


def lessons_with_videos() -> QuerySet[Lesson]:
    # One query for the lessons (their media and workspace joined), one for the playback ids:
    # a page of fifty videos costs the same as a page of one.
    return Lesson.objects.select_related("video").prefetch_related("video__playback_ids")


def lesson_list(request: HttpRequest) -> HttpResponse:
    return render(request, "videos/lesson_list.html", {"lessons": lessons_with_videos()})


def lesson_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lesson = get_object_or_404(lessons_with_videos(), pk=pk)
    return render(request, "videos/lesson_detail.html", {"lesson": lesson})
