"""Tolerant parsing of every known variant form of FastPix response fields."""

from __future__ import annotations

import base64
import contextlib
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_fastpix.client import DirectUpload, LiveStream, Media, Page, PlaybackId, SigningKey
from django_fastpix.client.parsing import parse_duration, parse_mp4_support, parse_timestamp
from django_fastpix.exceptions import InvalidResponseError

PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n"
PUBLIC_PEM = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOC\n-----END PUBLIC KEY-----\n"

SPEC_MEDIA: dict[str, Any] = {
    "id": "4fa85f64-5717-4562-b3fc-2c963f66afa6",
    "workspaceId": "fc9d9368-6ee5-4b16-ae50-880ab374bdc6",
    "thumbnail": "https://images.fastpix.com/pb1/thumbnail.png",
    "creatorId": "user-1",
    "status": "Ready",
    "title": "Lesson 1",
    "metadata": {"ref": "abc"},
    "playbackIds": [
        {
            "id": "pb1",
            "accessPolicy": "public",
            "accessRestrictions": {"domains": {"defaultPolicy": "allow", "allow": [], "deny": []}},
        }
    ],
    "duration": "00:01:02.5",
    "aspectRatio": "16:9",
    "maxResolution": "1080p",
    "sourceResolution": "2160p",
    "mediaQuality": "standard",
    "mp4Support": "capped_4k",
    "createdAt": "2024-10-15T08:48:31.551351Z",
    "updatedAt": "2024-10-15T08:50:00+02:00",
    "somethingNew": {"nested": True},
}


# --- duration ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("00:00:10", 10.0),
        ("01:02:03", 3723.0),
        ("1:02:03.25", 3723.25),
        ("02:03", 123.0),
        ("02:03.5", 123.5),
        ("45", 45.0),
        ("12.75", 12.75),
        (" 00:00:10 ", 10.0),
        (10, 10.0),
        (12.5, 12.5),
        (0, 0.0),
        (None, None),
        ("", None),
        ("abc", None),
        ("1:2:3:4", None),
        ("01:xx:03", None),
        ("1.5:00", None),
        (-3, None),
        (True, None),
        ([1], None),
        (float("nan"), None),
    ],
)
def test_parse_duration(value: Any, expected: float | None) -> None:
    assert parse_duration(value) == expected


# --- mp4Support ---


@pytest.mark.parametrize(
    ("value", "options"),
    [
        ("capped_4k", ["capped_4k"]),
        ("audioOnly,capped_4k", ["audioOnly", "capped_4k"]),
        ("audioOnly, capped_4k", ["audioOnly", "capped_4k"]),
        ("none", []),
        ("", []),
        (None, []),
        (["capped_4k"], ["capped_4k"]),
        (
            [
                {"type": "capped_4k", "status": "ready", "ext": "mp4", "width": 1920},
                {"type": "audioOnly", "status": "preparing", "ext": "m4a"},
            ],
            ["capped_4k", "audioOnly"],
        ),
        ({"type": "audioOnly", "status": "ready"}, ["audioOnly"]),
        ([{"status": "ready"}], []),
        (42, []),
    ],
)
def test_parse_mp4_support(value: Any, options: list[str]) -> None:
    assert parse_mp4_support(value)[0] == options


def test_mp4_renditions_are_kept() -> None:
    renditions = [{"type": "capped_4k", "status": "ready", "ext": "mp4", "height": 1080}]
    media = Media.from_api({"id": "m", "mp4Support": renditions})
    assert media.mp4_support == ["capped_4k"]
    assert media.mp4_renditions == renditions


# --- timestamps ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-10-15T08:48:31.551351Z", datetime(2024, 10, 15, 8, 48, 31, 551351, timezone.utc)),
        ("2024-01-11T10:00:06.61899Z", datetime(2024, 1, 11, 10, 0, 6, 618990, timezone.utc)),
        ("2024-01-11T10:00:06.123456789Z", datetime(2024, 1, 11, 10, 0, 6, 123456, timezone.utc)),
        ("2024-01-11T10:00:06Z", datetime(2024, 1, 11, 10, 0, 6, tzinfo=timezone.utc)),
        ("2024-01-11T10:00:06", datetime(2024, 1, 11, 10, 0, 6, tzinfo=timezone.utc)),
        ("2024-01-11 10:00", datetime(2024, 1, 11, 10, 0, tzinfo=timezone.utc)),
        ("2024-01-11", datetime(2024, 1, 11, tzinfo=timezone.utc)),
        (
            "2024-01-11T12:00:06+02:00",
            datetime(2024, 1, 11, 12, 0, 6, tzinfo=timezone(timedelta(hours=2))),
        ),
        (
            "2024-01-11T05:30:00-0530",
            datetime(2024, 1, 11, 5, 30, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        ),
        (1_704_967_206, datetime(2024, 1, 11, 10, 0, 6, tzinfo=timezone.utc)),
        (1_704_967_206_000, datetime(2024, 1, 11, 10, 0, 6, tzinfo=timezone.utc)),
        (None, None),
        ("", None),
        ("yesterday", None),
        ("2024-13-45T99:00:00Z", None),
        (True, None),
    ],
)
def test_parse_timestamp(value: Any, expected: datetime | None) -> None:
    assert parse_timestamp(value) == expected


def test_timestamps_are_aware() -> None:
    parsed = parse_timestamp("2024-01-11T10:00:06.61899Z")
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


# --- media ---


def test_media_from_spec_example() -> None:
    media = Media.from_api(SPEC_MEDIA)
    assert media.id == SPEC_MEDIA["id"]
    assert media.workspace_id == SPEC_MEDIA["workspaceId"]
    assert media.status == "Ready"
    assert media.title == "Lesson 1"
    assert media.creator_id == "user-1"
    assert media.metadata == {"ref": "abc"}
    assert media.playback_ids[0].id == "pb1"
    assert media.playback_ids[0].access_policy == "public"
    assert media.playback_ids[0].access_restrictions is not None
    assert media.duration_seconds == 62.5
    assert media.aspect_ratio == "16:9"
    assert media.max_resolution == "1080p"
    assert media.source_resolution == "2160p"
    assert media.mp4_support == ["capped_4k"]
    assert media.created_at == datetime(2024, 10, 15, 8, 48, 31, 551351, timezone.utc)
    assert media.updated_at == datetime(2024, 10, 15, 6, 50, tzinfo=timezone.utc)
    assert media.thumbnail == SPEC_MEDIA["thumbnail"]
    assert media.raw["somethingNew"] == {"nested": True}
    assert "somethingNew" not in repr(media)


def test_media_with_numeric_duration_and_mp4_list() -> None:
    media = Media.from_api(
        {"id": "m", "duration": 62.5, "mp4Support": [{"type": "audioOnly", "status": "ready"}]}
    )
    assert media.duration_seconds == 62.5
    assert media.mp4_support == ["audioOnly"]


def test_media_with_only_an_id_has_defaults() -> None:
    media = Media.from_api({"id": "m"})
    assert media.status is None
    assert media.metadata == {}
    assert media.playback_ids == []
    assert media.duration_seconds is None
    assert media.mp4_support == []
    assert media.created_at is None
    assert media.updated_at is None


def test_media_with_only_an_upload_id() -> None:
    media = Media.from_api({"uploadId": "u1", "status": "waiting"})
    assert media.id == "u1"
    assert media.upload_id == "u1"


def test_media_with_null_and_wrong_typed_fields_is_tolerated() -> None:
    media = Media.from_api(
        {
            "id": "m",
            "title": None,
            "metadata": "oops",
            "playbackIds": None,
            "duration": {"weird": 1},
            "createdAt": 12.5e20,
            "isAudioOnly": "true",
        }
    )
    assert media.title is None
    assert media.metadata == {}
    assert media.playback_ids == []
    assert media.duration_seconds is None
    assert media.created_at is None
    assert media.is_audio_only is True


@pytest.mark.parametrize("data", [{}, {"title": "x"}, {"id": ""}, {"id": None}, [], "m1", None])
def test_media_without_id_is_invalid(data: Any) -> None:
    with pytest.raises(InvalidResponseError):
        Media.from_api(data)


def test_legacy_snake_case_keys() -> None:
    media = Media.from_api(
        {"id": "m", "created_at": "2024-01-11T10:00:06Z", "playback_ids": [{"id": "p"}]}
    )
    assert media.created_at == datetime(2024, 1, 11, 10, 0, 6, tzinfo=timezone.utc)
    assert media.playback_ids == [PlaybackId(id="p")]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            [
                *("id", "uploadId", "status", "duration", "mp4Support", "createdAt"),
                *("playbackIds", "metadata", "title", "isAudioOnly", "maxResolution", "x"),
            ]
        ),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=3)
                | st.dictionaries(st.text(max_size=5), children, max_size=3)
            ),
            max_leaves=8,
        ),
    )
)
def test_media_parser_only_ever_raises_invalid_response(data: dict[str, Any]) -> None:
    with contextlib.suppress(InvalidResponseError):
        Media.from_api(data)


# --- other types ---


def test_direct_upload() -> None:
    upload = DirectUpload.from_api(
        {
            "uploadId": "u1",
            "trial": False,
            "status": "waiting",
            "url": "https://storage.googleapis.com/signed?X-Goog-Signature=abc",
            "timeout": 14400,
            "corsOrigin": "*",
        }
    )
    assert (upload.id, upload.upload_id, upload.status, upload.timeout) == (
        "u1",
        "u1",
        "waiting",
        14400,
    )
    assert upload.url is not None and "X-Goog-Signature" not in repr(upload)
    assert upload.media_id is None


def test_direct_upload_without_id_is_invalid() -> None:
    with pytest.raises(InvalidResponseError):
        DirectUpload.from_api({"status": "waiting"})


def test_live_stream_hides_its_keys() -> None:
    stream = LiveStream.from_api(
        {
            "streamId": "fa7f8c0950ea48ebcc5ef9de8c23deaa",
            "streamKey": "STREAMKEY-secret",
            "srtSecret": "SRT-secret",
            "status": "idle",
            "maxDuration": 28800,
            "reconnectWindow": 60,
            "enableRecording": True,
            "metadata": {"livestream_name": "x"},
            "playbackIds": [{"id": "p1", "accessPolicy": "public"}],
            "mediaIds": ["m1"],
            "srtPlaybackResponse": {"srtPlaybackStreamId": "playfa7f", "srtPlaybackSecret": "S2"},
            "createdAt": "2024-10-15T08:48:31.551351Z",
        }
    )
    assert stream.id == stream.stream_id == "fa7f8c0950ea48ebcc5ef9de8c23deaa"
    assert stream.stream_key == "STREAMKEY-secret"
    assert stream.reconnect_window == 60
    assert stream.playback_ids == [PlaybackId("p1", "public")]
    assert stream.media_ids == ["m1"]
    assert stream.srt_playback_stream_id == "playfa7f"
    for secret in ("STREAMKEY-secret", "SRT-secret", "S2"):
        assert secret not in repr(stream)


def test_signing_key_create_decodes_private_key_and_hides_it() -> None:
    encoded = base64.b64encode(PEM.encode()).decode()
    key = SigningKey.from_api({"id": "k1", "privateKey": encoded, "createdAt": "2024-01-11Z"})
    assert key.private_key_pem == PEM
    assert "PRIVATE" not in repr(key) and encoded not in repr(key)
    assert "privateKey" not in key.raw


def test_signing_key_get_accepts_pem_or_base64_pem() -> None:
    plain = SigningKey.from_api({"workspaceId": "w", "signingKeyId": "k1", "publicKey": PUBLIC_PEM})
    encoded = SigningKey.from_api(
        {"signingKeyId": "k1", "publicKey": base64.b64encode(PUBLIC_PEM.encode()).decode()}
    )
    assert plain.id == encoded.id == "k1"
    assert plain.workspace_id == "w"
    assert plain.public_key_pem == encoded.public_key_pem == PUBLIC_PEM


def test_signing_key_with_garbage_private_key_is_invalid() -> None:
    with pytest.raises(InvalidResponseError) as info:
        SigningKey.from_api({"id": "k1", "privateKey": "not base64 at all!"})
    assert "not base64 at all" not in str(info.value)


def test_signing_key_list_item() -> None:
    key = SigningKey.from_api(
        {
            "id": "k1",
            "createdAt": "2025-10-27T05:22:54.782954Z",
            "workspace": [{"id": "w", "name": "Prod", "workspaceType": "production"}],
        }
    )
    assert key.workspaces == [{"id": "w", "name": "Prod", "workspaceType": "production"}]
    assert key.private_key_pem is None


# --- pages ---


def test_page_from_envelope() -> None:
    envelope = {
        "success": True,
        "data": [{"id": "a"}, {"id": "b"}],
        "pagination": {"totalRecords": 5, "currentOffset": 2, "offsetCount": 3},
    }
    page = Page.from_envelope(envelope, Media.from_api, limit=2, offset=2)
    assert [m.id for m in page.items] == ["a", "b"]
    assert (page.total, page.offset, page.page_count, page.limit) == (5, 2, 3, 2)
    assert page.has_next


@pytest.mark.parametrize(
    ("pagination", "count", "has_next"),
    [
        ({"totalRecords": 4, "currentOffset": 2, "offsetCount": 2}, 2, False),
        ({"totalRecords": 5}, 2, True),  # offset 1 * limit 2 < 5
        ({"totalRecords": 2}, 2, False),
        (None, 2, True),  # a full page with no pagination block: maybe more
        (None, 1, False),
        ({"totalRecords": 9, "offsetCount": 5}, 0, False),
    ],
)
def test_page_has_next(pagination: Any, count: int, has_next: bool) -> None:
    envelope: dict[str, Any] = {"data": [{"id": str(i)} for i in range(count)]}
    if pagination is not None:
        envelope["pagination"] = pagination
    assert Page.from_envelope(envelope, Media.from_api, limit=2, offset=1).has_next is has_next


def test_page_with_non_list_data_is_invalid() -> None:
    with pytest.raises(InvalidResponseError):
        Page.from_envelope({"data": {"id": "a"}}, Media.from_api, limit=2, offset=1)


def test_page_with_missing_data_is_empty() -> None:
    page = Page.from_envelope({"success": True}, Media.from_api, limit=2, offset=1)
    assert page.items == [] and not page.has_next
