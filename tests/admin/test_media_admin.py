"""The media admin: read-only mirror, previews, playback-id inline."""

from __future__ import annotations

import pytest

from django_fastpix.models import Media, MediaStatus, PlaybackId
from tests.admin.conftest import admin_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(workspace) -> Media:
    media = Media.objects.create(
        workspace=workspace, fastpix_id="med_ready_1", status=MediaStatus.READY, title="Intro"
    )
    PlaybackId.objects.create(media=media, fastpix_id="pb_public_1")
    return media


@pytest.fixture
def processing(workspace) -> Media:
    return Media.objects.create(
        workspace=workspace, fastpix_id="med_proc_2", status=MediaStatus.PROCESSING, title="Wip"
    )


def test_list_shows_a_thumbnail_linked_to_the_stream_only_when_ready(
    admin_client, ready, processing
):
    html = admin_client.get(admin_url("media", "changelist")).content.decode()
    assert "https://images.fastpix.com/pb_public_1/thumbnail.png" in html
    assert 'href="https://stream.fastpix.com/pb_public_1.m3u8"' in html
    assert "Intro" in html and "Wip" in html and "med_proc_2" in html
    assert html.count("images.fastpix.com") == 1


def test_private_playback_gets_no_unsigned_thumbnail(admin_client, workspace):
    media = Media.objects.create(workspace=workspace, fastpix_id="med_priv", status="ready")
    PlaybackId.objects.create(media=media, fastpix_id="pb_private_1", access_policy="private")
    html = admin_client.get(admin_url("media", "changelist")).content.decode()
    assert "pb_private_1" not in html and "signed playback only" in html


def test_filters_and_search(admin_client, ready, processing, other_workspace):
    Media.objects.create(workspace=other_workspace, fastpix_id="med_other_3", title="Elsewhere")
    url = admin_url("media", "changelist")

    def titles(**params):
        return sorted(str(m) for m in admin_client.get(url, params).context["cl"].result_list)

    assert titles(status__exact="ready") == ["Intro"]
    assert titles(workspace__id__exact=str(other_workspace.pk)) == ["Elsewhere"]
    assert titles(q="med_proc") == ["Wip"]
    assert titles(q="intro") == ["Intro"]


def test_change_page_is_read_only_with_playback_inline(admin_client, ready):
    url = admin_url("media", "change", ready.pk)
    html = admin_client.get(url).content.decode()
    assert "pb_public_1" in html and "https://stream.fastpix.com/pb_public_1.m3u8" in html
    assert 'name="title"' not in html and 'name="playback_ids-0-fastpix_id"' not in html
    assert admin_client.post(url, {"title": "changed"}).status_code == 403
    assert admin_client.get(admin_url("media", "add")).status_code == 403


def test_local_delete_only_when_nothing_is_left_in_fastpix(admin_client, ready, workspace):
    assert admin_client.get(admin_url("media", "delete", ready.pk)).status_code == 403
    pending = Media.objects.create(workspace=workspace)  # never reached FastPix
    gone = Media.objects.create(workspace=workspace, fastpix_id="med_gone", status="deleted")
    for media in (pending, gone):
        response = admin_client.post(admin_url("media", "delete", media.pk), {"post": "yes"})
        assert response.status_code == 302
    assert list(Media.objects.all()) == [ready]
