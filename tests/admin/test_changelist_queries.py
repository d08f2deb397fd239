"""Every changelist runs the same small number of queries for 10 rows and for 1,000."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_fastpix.models import (
    AccessToken,
    Media,
    PlaybackId,
    SigningKey,
    SigningKeyStatus,
    TokenStatus,
    WebhookEvent,
    Workspace,
)
from django_fastpix.models.token import token_id_digest
from tests.admin.conftest import admin_url
from tests.conftest import SECRET

pytestmark = pytest.mark.django_db

MAX_QUERIES = 10
STATUSES = list(TokenStatus)


def add_tokens(start: int, n: int, workspaces: list[Workspace]) -> None:
    # bulk_create skips save(): hint and digest are set here as the model would.
    AccessToken.objects.bulk_create(
        AccessToken(
            workspace=workspaces[i % len(workspaces)],
            name=f"token {i}",
            token_id=f"tok_{i:06d}",
            secret_key=SECRET,
            token_id_hint=f"{i:04d}"[-4:],
            token_id_digest=token_id_digest(f"tok_{i:06d}"),
            status=STATUSES[i % len(STATUSES)],
        )
        for i in range(start, start + n)
    )


def add_workspaces(start: int, n: int, workspaces: list[Workspace]) -> None:
    created = Workspace.objects.bulk_create(
        Workspace(name=f"ws {i}", slug=f"ws-{i}") for i in range(start, start + n)
    )
    add_tokens(start, n, created)  # so the per-status counts have something to count


def add_media(start: int, n: int, workspaces: list[Workspace]) -> None:
    media = Media.objects.bulk_create(
        Media(
            workspace=workspaces[i % len(workspaces)],
            fastpix_id=f"med_{i}",
            title=f"video {i}",
            status="ready" if i % 2 else "processing",
            duration=12.5,
        )
        for i in range(start, start + n)
    )
    PlaybackId.objects.bulk_create(
        PlaybackId(media=m, fastpix_id=f"pb_{m.fastpix_id}") for m in media
    )


def add_events(start: int, n: int, workspaces: list[Workspace]) -> None:
    WebhookEvent.objects.bulk_create(
        WebhookEvent(
            workspace=workspaces[i % len(workspaces)],
            event_id=f"evt_{i}",
            type=f"video.media.{('ready', 'failed', 'created')[i % 3]}",
            object_id=f"med_{i}",
            payload={"id": f"evt_{i}", "data": {"n": i}},
        )
        for i in range(start, start + n)
    )


def add_signing_keys(start: int, n: int, workspaces: list[Workspace]) -> None:
    statuses = list(SigningKeyStatus)
    SigningKey.objects.bulk_create(
        SigningKey(
            workspace=workspaces[i % len(workspaces)],
            fastpix_id=f"key_{i:06d}",
            private_key=f"not a real key {i}",
            status=statuses[i % len(statuses)],
            created_by="test",
        )
        for i in range(start, start + n)
    )


CASES: dict[str, Callable[[int, int, list[Workspace]], None]] = {
    "accesstoken": add_tokens,
    "workspace": add_workspaces,
    "media": add_media,
    "webhookevent": add_events,
    "signingkey": add_signing_keys,
}


@pytest.mark.parametrize("model", list(CASES))
def test_changelist_queries_do_not_grow_with_rows(
    model, admin_client, workspace, other_workspace, django_assert_max_num_queries
):
    add = CASES[model]
    workspaces = [workspace, other_workspace]
    url = admin_url(model, "changelist")

    def count_queries() -> int:
        with django_assert_max_num_queries(MAX_QUERIES), CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(url)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    add(0, 10, workspaces)
    admin_client.get(url)  # warm caches (content types, session) out of the measurement
    small = count_queries()
    add(10, 990, workspaces)
    large = count_queries()
    assert large == small, (model, small, large)
    rows = admin_client.get(url).context["cl"].result_count
    assert rows >= 1000
