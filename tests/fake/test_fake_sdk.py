"""The official FastPix Python SDK (fastpix-python 1.2.0) run against the fake.

The SDK is generated from FastPix's own models, so if it parses the fake's answers the
shapes are right. Known SDK/real-world gap, handled narrowly below: the SDK types
`Media.duration` as a number while the API (and the OpenAPI document) send "HH:MM:SS".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

# A test-only dependency; a missing SDK must fail the run, not skip it.
from fastpix_python import Fastpix, errors, models

from django_fastpix.testing import FakeFastPix


@pytest.fixture
def sdk(fastpix_fake: FakeFastPix, fastpix_fake_token: tuple[str, str]) -> Iterator[Fastpix]:
    """An SDK client pointed at the fake; retries off so error tests stay fast."""
    fastpix_fake.auto_advance = False  # keep media un-processed unless a test finishes them
    token_id, secret = fastpix_fake_token
    client = Fastpix(
        server_url=fastpix_fake.base_url,
        security=models.Security(username=token_id, password=secret),
        retry_config=None,
    )
    with client:
        yield client


VIDEO: Any = [{"type": "video", "url": "https://static.example.com/sample.mp4"}]


def test_media_operations(sdk: Fastpix, fastpix_fake: FakeFastPix) -> None:
    created = sdk.input_video.create_media(
        inputs=VIDEO, access_policy="public", metadata={"ref": "sdk"}, max_resolution="720p"
    )
    assert created.success is True
    media = created.data
    assert media is not None and media.id and media.status == "Created"
    assert media.playback_ids and media.playback_ids[0].access_policy == "public"
    assert media.created_at is not None

    listed = sdk.manage_videos.list_media(limit=5, offset=1, order_by="desc")
    assert listed.data is not None and [m.id for m in listed.data] == [media.id]
    assert listed.pagination is not None and listed.pagination.total_records == 1
    assert listed.pagination.offset_count == 1

    got = sdk.manage_videos.get_media(media_id=media.id)
    assert got.data is not None and got.data.workspace_id == fastpix_fake.workspace().id
    assert got.data.metadata == {"ref": "sdk"} and got.data.max_resolution == "720p"

    updated = sdk.manage_videos.updated_media(media_id=media.id, metadata={"ref": "changed"})
    assert updated.data is not None and updated.data.metadata == {"ref": "changed"}

    deleted = sdk.manage_videos.delete_media(media_id=media.id)
    assert deleted.success is True
    with pytest.raises(errors.MediaNotFoundError):
        sdk.manage_videos.get_media(media_id=media.id)


def test_ready_media_only_trips_over_duration(sdk: Fastpix, fastpix_fake: FakeFastPix) -> None:
    created = sdk.input_video.create_media(inputs=VIDEO, access_policy="private")
    assert created.data is not None and created.data.id
    fastpix_fake.finish_processing()
    with pytest.raises(errors.ResponseValidationError) as info:
        sdk.manage_videos.get_media(media_id=created.data.id)
    # The only complaint is the documented duration form; everything else parses.
    cause = info.value.__cause__
    assert isinstance(cause, pydantic.ValidationError)
    assert [e["loc"][-1] for e in cause.errors()] == ["duration"], cause


def test_playback_id_operations(sdk: Fastpix) -> None:
    created = sdk.input_video.create_media(inputs=VIDEO, access_policy="public")
    assert created.data is not None and created.data.id
    media_id = created.data.id
    pid = sdk.playback.create_media_playback_id(
        media_id=media_id, access_policy="private", resolution="1080p"
    )
    assert pid.data is not None and pid.data.id and pid.data.access_policy == "private"
    listed = sdk.playback.list_playback_ids(media_id=media_id)
    assert listed.data is not None and len(listed.data) == 2
    got = sdk.playback.get_playback_id(media_id=media_id, playback_id=pid.data.id)
    assert got.data is not None and got.data.id == pid.data.id
    deleted = sdk.playback.delete_media_playback_id(media_id=media_id, playback_id=pid.data.id)
    assert deleted.success is True
    with pytest.raises(errors.FastpixError) as info:
        sdk.playback.get_playback_id(media_id=media_id, playback_id=pid.data.id)
    assert info.value.status_code == 404


def test_upload_operations(sdk: Fastpix) -> None:
    upload = sdk.input_video.direct_upload_video_media(
        request={
            "cors_origin": "*",
            "push_media_settings": {"access_policy": "public", "metadata": {"k": "v"}},
        }
    )
    assert upload.data is not None and upload.data.upload_id and upload.data.url
    assert upload.data.status == "waiting" and upload.data.timeout == 14400
    listed = sdk.manage_videos.list_uploads(limit=10, offset=1)
    assert listed.data is not None and [u.upload_id for u in listed.data] == [upload.data.upload_id]
    cancelled = sdk.manage_videos.cancel_upload(upload_id=upload.data.upload_id)
    assert cancelled.data is not None and cancelled.data.status == "cancelled"


def test_live_operations(sdk: Fastpix) -> None:
    created = sdk.start_live_stream.create_new_stream(
        playback_settings={"access_policy": "public"},
        input_media_settings={
            "max_resolution": "1080p",
            "reconnect_window": 60,
            "media_policy": "public",
            "metadata": {"room": "a"},
        },
    )
    assert created.data is not None and created.data.stream_id and created.data.stream_key
    stream_id = created.data.stream_id
    listed = sdk.manage_live_stream.get_all_streams(limit=10, offset=1, order_by="desc")
    assert listed.data is not None and [s.stream_id for s in listed.data] == [stream_id]
    got = sdk.manage_live_stream.get_live_stream_by_id(stream_id=stream_id)
    assert got.data is not None and got.data.status == "idle"
    updated = sdk.manage_live_stream.update_live_stream(
        stream_id=stream_id, metadata={"room": "b"}, reconnect_window=100
    )
    assert updated.data is not None and updated.data.reconnect_window == 100
    assert sdk.manage_live_stream.disable_live_stream(stream_id=stream_id).success is True
    with pytest.raises(errors.FastpixError) as info:
        sdk.manage_live_stream.disable_live_stream(stream_id=stream_id)
    assert info.value.status_code == 400
    assert sdk.manage_live_stream.enable_live_stream(stream_id=stream_id).success is True

    pid = sdk.live_playback.create_playback_id_of_stream(
        stream_id=stream_id, access_policy="private"
    )
    assert pid.data is not None and pid.data.id
    got_pid = sdk.live_playback.get_live_stream_playback_id(
        stream_id=stream_id, playback_id=pid.data.id
    )
    assert got_pid.data is not None and got_pid.data.access_policy == "private"
    deleted_pid = sdk.live_playback.delete_playback_id_of_stream(
        stream_id=stream_id, playback_id=pid.data.id
    )
    assert deleted_pid.success is True
    assert sdk.manage_live_stream.delete_live_stream(stream_id=stream_id).success is True


def test_signing_key_operations(
    sdk: Fastpix, fastpix_fake: FakeFastPix, fastpix_fake_token: tuple[str, str]
) -> None:
    # Signing keys need the System area, which the default (Video only) token lacks.
    fastpix_fake.add_token(*fastpix_fake_token, system="read_write")
    created = sdk.signing_keys.create_signing_key()
    assert created.data is not None and created.data.id and created.data.private_key
    listed = sdk.signing_keys.list_signing_keys(limit=10, offset=1)
    assert listed.data is not None and [k.id for k in listed.data] == [created.data.id]
    got = sdk.signing_keys.get_signing_key_by_id(signing_key_id=created.data.id)
    assert got.data is not None and got.data.public_key
    assert got.data.workspace_id == fastpix_fake.workspace().id
    deleted = sdk.signing_keys.delete_signing_key(signing_key_id=created.data.id)
    assert deleted.success is True


def test_errors_map_to_sdk_exceptions(sdk: Fastpix, fastpix_fake: FakeFastPix) -> None:
    with pytest.raises(errors.ValidationErrorResponse) as invalid:
        sdk.input_video.create_media(
            inputs=VIDEO, access_policy="public", metadata={"k": "v" * 300}
        )
    assert invalid.value.code == 422
    assert [f["field"] for f in invalid.value.fields] == ["metadata.k"]
    fastpix_fake.revoke_token("fake-token-id")
    with pytest.raises(errors.InvalidPermissionError) as unauthorized:
        sdk.input_video.create_media(inputs=VIDEO, access_policy="public")
    assert unauthorized.value.status_code == 401
