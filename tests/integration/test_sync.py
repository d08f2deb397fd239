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

# Table statements (savepoints, BEGIN and COMMIT left out: they are transaction control, and a
# test's own transaction turns each page's atomic() into a savepoint pair). Per page: the
# token lookup of the page's request, then one read of the page's known rows (with how many of
# the page's playback ids each has); a first sync adds the media insert and the playback ids
# insert, a sync that changed nothing only stamps the rows it saw.
FIRST_SYNC_PER_PAGE = 4
NO_CHANGE_PER_PAGE = 3
# Once a sync: take and release the workspace's hold, stamp the token's last use, and look
# for rows FastPix no longer lists.
PER_SYNC = 4


def table_statements(ctx: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in ctx.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT"))
    ]


def test_sync_of_10000_media_stays_within_its_per_page_query_bound(fake_token, workspace, fake_api):
    fake_token()
    fake_api.seed_media(10_000)
    pages = 10_000 // MAX_PAGE_SIZE
    with CaptureQueriesContext(connection) as first:
        report = sync_media(workspace)
    assert (report.pages, report.seen, report.created, report.updated) == (pages, 10_000, 10_000, 0)
    # One INSERT for a page's 50 new rows on SQLite too (statements.insert_many), whatever
    # parameter cap Django puts on SQLite.
    assert len(table_statements(first)) <= pages * FIRST_SYNC_PER_PAGE + PER_SYNC
    assert Media.objects.filter(workspace=workspace, status=MediaStatus.READY).count() == 10_000
    assert PlaybackId.objects.count() == 10_000

    with CaptureQueriesContext(connection) as second:
        again = sync_media(workspace)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 10_000)
    assert len(table_statements(second)) <= pages * NO_CHANGE_PER_PAGE + PER_SYNC
    assert len(fake_api.requests_for("GET /on-demand")) == 2 * pages


def test_a_page_whose_media_a_webhook_inserted_meanwhile_lets_that_row_win(
    fake_token, workspace, fake_api, monkeypatch
):
    """The fast insert meets a stand-in row made between the page's read and its insert: the
    page is redone carefully, no row is duplicated, and the stand-in row is the one kept."""
    from django_fastpix.services import sync

    fake_token()
    ids = fake_api.seed_media(3)
    # The webhook's row, committed after the page's read: that read is made not to see it.
    stand_in = Media.objects.create(
        workspace=workspace, fastpix_id=ids[1], status=MediaStatus.READY, title="webhook"
    )
    read = sync._read_known
    calls = []

    def read_before_the_webhook_committed(workspace, items, page):
        known = {} if not calls else read(workspace, items, page)
        calls.append(len(known))
        return known

    monkeypatch.setattr(sync, "_read_known", read_before_the_webhook_committed)
    report = sync_media(workspace)
    assert calls == [0, 1]  # the first read saw nothing; the careful one saw the stand-in
    # The careful pass found the webhook's row and brought it up to the listing.
    assert (report.seen, report.created, report.updated) == (3, 2, 1)
    assert sorted(Media.objects.values_list("fastpix_id", flat=True)) == sorted(ids)
    assert Media.objects.get(fastpix_id=ids[1]).pk == stand_in.pk
    assert all(Media.objects.get(fastpix_id=i).playback_ids.count() == 1 for i in ids)


def test_a_no_change_sync_adds_a_playback_id_a_row_lacks(fake_token, workspace, fake_api):
    fake_token()
    (only,) = fake_api.seed_media(1)
    sync_media(workspace)
    PlaybackId.objects.all().delete()
    report = sync_media(workspace)
    assert report.unchanged == 1
    assert Media.objects.get(fastpix_id=only).playback_ids.count() == 1


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
    again = io.StringIO()
    call_command("fastpix_sync_media", "--workspace", "prod", stdout=again)
    assert "120 media in 3 page(s); 0 created, 0 updated, 120 unchanged" in again.getvalue()
    out = io.StringIO()
    call_command("fastpix_sync_media", "--workspace", "prod", "--json", stdout=out)
    assert json.loads(out.getvalue())["workspaces"]["prod"]["unchanged"] == 120
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
