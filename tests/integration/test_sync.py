"""Sync pages through FastPix's media list with a bounded number of queries per page."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_fastpix.client import FastPixClient
from django_fastpix.client.pagination import MAX_PAGE_SIZE
from django_fastpix.models import Media, MediaStatus, PlaybackId
from django_fastpix.services.sync import sync_media

pytestmark = pytest.mark.django_db

# Per page at most: token lookup, known rows by id, known rows by reference, bulk insert,
# bulk update, last-synced stamp, playback ids known / media pks / insert, and the savepoint
# pair around the page. The first page may also stamp the token's last use.
QUERIES_PER_PAGE = 11
# Measured: 9 a page on a first sync of 10,000 media, 6 a page when nothing changed.


def test_sync_of_10000_media_stays_within_its_per_page_query_bound(fake_token, workspace, fake_api):
    fake_token()
    fake_api.seed_media(10_000)
    pages = 10_000 // MAX_PAGE_SIZE
    with CaptureQueriesContext(connection) as first:
        report = sync_media(workspace)
    assert (report.pages, report.seen, report.created, report.updated) == (pages, 10_000, 10_000, 0)
    assert len(first.captured_queries) <= pages * QUERIES_PER_PAGE + 2
    assert Media.objects.filter(workspace=workspace, status=MediaStatus.READY).count() == 10_000
    assert PlaybackId.objects.count() == 10_000

    with CaptureQueriesContext(connection) as second:
        again = sync_media(workspace)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 10_000)
    assert len(second.captured_queries) <= pages * QUERIES_PER_PAGE + 2
    assert len(fake_api.requests_for("GET /on-demand")) == 2 * pages


def test_sync_repairs_what_missed_webhooks_left_stale(fake_token, workspace, fake_api):
    fake_token()
    fake_api.auto_advance = False
    (kept, gone) = fake_api.seed_media(2, status="Processing")
    sync_media(workspace)
    assert set(Media.objects.values_list("status", flat=True)) == {MediaStatus.PROCESSING}
    fake_api.finish_processing(kept)
    # The media "gone" is deleted in FastPix and the webhook never arrived.
    from django_fastpix.client import FastPixClient, Transport
    from tests.conftest import SECRET

    token = workspace.tokens.get()
    FastPixClient(token.credentials(), transport=Transport(fake_api.base_url)).delete_media(gone)
    report = sync_media(workspace)
    assert report.marked_deleted == 1
    assert Media.objects.get(fastpix_id=kept).status == MediaStatus.READY
    assert Media.objects.get(fastpix_id=gone).status == MediaStatus.DELETED
    assert SECRET  # the token used is the stored one


def test_sync_links_rows_whose_create_answer_was_lost(fake_token, workspace, fake_api):
    fake_token()
    local = Media.objects.create(workspace=workspace, source_url="https://x.example/v.mp4")
    from django_fastpix.services import api

    remote = api.call(
        workspace,
        FastPixClient.create_media,
        "https://x.example/v.mp4",
        metadata={"django_fastpix_ref": str(local.reference)},
    )
    sync_media(workspace)
    local.refresh_from_db()
    assert local.fastpix_id == remote.id
    assert Media.objects.count() == 1


def test_sync_command(fake_token, workspace, fake_api):
    fake_token()
    fake_api.seed_media(120)
    out = io.StringIO()
    call_command("fastpix_sync_media", "--workspace", "prod", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert (
        result["workspaces"]["prod"]["created"] == 120
        and result["workspaces"]["prod"]["pages"] == 3
    )
    with pytest.raises(CommandError, match="No workspace nope"):
        call_command("fastpix_sync_media", "--workspace", "nope")
    fake_api.inject("GET /on-demand", status=500)
    with pytest.raises(CommandError, match="prod"):
        call_command("fastpix_sync_media", stdout=io.StringIO())


def test_media_linked_while_a_sync_runs_is_not_swept(fake_token, workspace, fake_api):
    fake_token()
    fake_api.seed_media(60)

    def link_one_mid_sync(report):
        # A create task linking its media after the listing passed where it would appear.
        if report.pages == 1:
            Media.objects.create(
                workspace=workspace, fastpix_id="fp-linked-meanwhile", status=MediaStatus.CREATED
            )

    report = sync_media(workspace, progress=link_one_mid_sync)
    assert report.marked_deleted == 0
    assert Media.objects.get(fastpix_id="fp-linked-meanwhile").status == MediaStatus.CREATED


def test_sweep_sends_media_deleted(
    fake_token, workspace, fake_api, django_capture_on_commit_callbacks
):
    from django_fastpix import signals

    fake_token()
    (gone,) = fake_api.seed_media(1)
    sync_media(workspace)
    fake_api.store.media.clear()
    deleted = []
    signals.media_deleted.connect(
        lambda sender, media, **kw: deleted.append(media.fastpix_id), weak=False, dispatch_uid="t"
    )
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert sync_media(workspace).marked_deleted == 1
    finally:
        signals.media_deleted.disconnect(dispatch_uid="t")
    assert deleted == [gone]
