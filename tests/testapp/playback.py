"""Helpers for the playback tests: media in a given state, the HTML they render, token claims."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import jwt
from django.http import HttpRequest
from django.template import engines
from django.test import RequestFactory

from django_fastpix.client import FastPixClient
from django_fastpix.models import Media, PlaybackId, SigningKey, Workspace
from django_fastpix.services import api

from .models import Lesson


def make_media(
    workspace: Workspace,
    *,
    status: str = "ready",
    policy: str = "public",
    pid: str | None = "pb-0001",
    title: str = "Intro",
    error: str = "",
) -> Media:
    """A local media (and its playback id unless ``pid`` is None); FastPix is not involved."""
    media = Media.objects.create(
        workspace=workspace,
        status=status,
        access_policy=policy,
        fastpix_id=f"m-{pid or 'none'}-{Media.objects.count()}",
        title=title,
        error=error,
    )
    if pid is not None:
        PlaybackId.objects.create(media=media, fastpix_id=pid, access_policy=policy)
    return media


def make_lessons(workspace: Workspace, count: int, *, policy: str = "private") -> list[Lesson]:
    """``count`` lessons, each with its own ready video (no video_url: no source media)."""
    lessons = []
    for n in range(count):
        media = make_media(workspace, policy=policy, pid=f"pb-{n:04d}", title=f"Video {n}")
        lessons.append(Lesson.objects.create(title=f"Lesson {n}", video=media))
    return lessons


def get_request(path: str = "/") -> HttpRequest:
    return RequestFactory().get(path)


def render(source: str, context: dict[str, Any] | None = None, request: Any = None) -> str:
    """Render template text after ``{% load fastpix %}``, with or without a request."""
    compiled = engines["django"].from_string("{% load fastpix %}" + source)
    return compiled.render(context or {}, request)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(html: str, tag: str) -> list[dict[str, str | None]]:
    """The attributes (unescaped) of every ``tag`` element in ``html``."""
    collector = _Collector()
    collector.feed(html)
    return [attrs for name, attrs in collector.found if name == tag]


def player(html: str) -> dict[str, str | None]:
    """The attributes of the one ``<fastpix-player>`` in ``html``."""
    found = elements(html, "fastpix-player")
    assert len(found) == 1, html
    return found[0]


def public_key(workspace: Workspace, key_id: str) -> str:
    """The public half of a signing key, as FastPix (the fake) returns it."""
    remote = api.call(workspace, FastPixClient.get_signing_key, key_id)
    assert remote.public_key_pem
    return remote.public_key_pem


def decode(workspace: Workspace, token: str | None, audience: str) -> tuple[dict, dict]:
    """The header and verified claims of a playback token."""
    assert token
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(
        token, public_key(workspace, header["kid"]), algorithms=["RS256"], audience=audience
    )
    return header, claims


def private_key_fragments() -> list[str]:
    """Pieces of every stored private key's PEM body: none may appear in a page."""
    fragments = []
    for key in SigningKey.objects.all():
        pem = key.private_key_pem()
        body = "".join(pem.strip().splitlines()[1:-1])
        assert len(body) > 1000
        fragments += [body[i : i + 40] for i in range(0, len(body) - 40, 200)]
    return fragments
