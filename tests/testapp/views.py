"""Pages for the playback tests: a lesson list, a lesson page, and the cache-header variants."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.response import TemplateResponse

from django_fastpix.middleware import fastpix_playback_page

from .models import Lesson


def lessons_with_videos() -> QuerySet[Lesson]:
    """The documented queryset: lessons, their media and workspace joined; playback ids in one
    more query."""
    return Lesson.objects.select_related("video").prefetch_related("video__playback_ids")


def lesson_list(request: HttpRequest) -> HttpResponse:
    return render(request, "testapp/lesson_list.html", {"lessons": lessons_with_videos()})


def lesson_list_unprefetched(request: HttpRequest) -> HttpResponse:
    return render(request, "testapp/lesson_list.html", {"lessons": Lesson.objects.all()})


def lesson_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # The nonce tells a freshly rendered page from one served out of a cache.
    lesson = get_object_or_404(lessons_with_videos(), pk=pk)
    context = {"lesson": lesson, "nonce": uuid.uuid4().hex}
    return render(request, "testapp/lesson_detail.html", context)


@fastpix_playback_page
def lesson_detail_decorated(request: HttpRequest, pk: int) -> HttpResponse:
    return lesson_detail(request, pk)


@fastpix_playback_page
def lesson_detail_template_response(request: HttpRequest, pk: int) -> TemplateResponse:
    # Rendered after the decorator returns: the header is set by a post-render callback.
    lesson = get_object_or_404(lessons_with_videos(), pk=pk)
    return TemplateResponse(request, "testapp/lesson_detail.html", {"lesson": lesson})


def lesson_player_from_python(request: HttpRequest, pk: int) -> HttpResponse:
    # No request handed over: the middleware's request state still sees the token.
    lesson = get_object_or_404(lessons_with_videos(), pk=pk)
    assert lesson.video is not None
    return HttpResponse(lesson.video.player())


@fastpix_playback_page
async def async_minting(request: HttpRequest) -> HttpResponse:
    # Stands in for an async view whose page carries a token.
    request._fastpix_tokens_minted = True  # type: ignore[attr-defined]
    return HttpResponse("token")
