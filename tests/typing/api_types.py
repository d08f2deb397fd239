"""Checked by mypy in CI (`tox -e type`), never run: the typed entry points keep the client's types.

Positive lines use ``assert_type``; each negative line carries ``# type: ignore[...]`` and mypy
runs with ``warn_unused_ignores``, so a misuse that stopped being an error fails the check.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import assert_type  # 3.11+: the type env runs on 3.11

from django_fastpix.client import FastPixClient, Media, Page
from django_fastpix.models import Workspace
from django_fastpix.services import api


def typed_entry_points(workspace: Workspace) -> None:
    created = api.call(workspace, FastPixClient.create_media, "https://cdn.example.com/a.mp4")
    assert_type(created, Media)
    assert_type(api.call(workspace, FastPixClient.get_media, "m1"), Media)
    assert_type(api.call(workspace, FastPixClient.list_media, 50, 1), Page[Media])
    assert_type(api.call(workspace, FastPixClient.delete_media, "m1"), None)
    assert_type(api.pages(workspace, FastPixClient.list_media, "asc"), Iterator[Page[Media]])
    assert_type(api.items(workspace, FastPixClient.list_media), Iterator[Media])


def misuse_is_an_error(workspace: Workspace) -> None:
    api.call(workspace, FastPixClient.get_media, 42)  # type: ignore[arg-type]
    api.call(workspace, FastPixClient.get_media)  # type: ignore[call-arg]
    api.call(workspace, FastPixClient.create_media, "u", access_policy=1)  # type: ignore[arg-type]
    api.call(workspace, "create_media", "u")  # type: ignore[arg-type]
    api.call("prod", FastPixClient.get_media, "m1")  # type: ignore[arg-type]
    api.pages(workspace, FastPixClient.get_media)  # type: ignore[arg-type]


def results_keep_their_types(workspace: Workspace) -> int:
    return api.call(workspace, FastPixClient.get_media, "m1").title  # type: ignore[return-value]
