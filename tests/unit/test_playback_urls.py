"""The stream and image URL builders: hosts from the settings, ids escaped into one path
segment, formats per image kind, and bad values refused with ValueError (no DB, no network)."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_fastpix.services.playback import image_url, stream_url

STREAM = "https://stream.fastpix.com"
IMAGES = "https://images.fastpix.com"


@pytest.fixture(autouse=True)
def default_hosts(settings):
    settings.FASTPIX = {
        key: value
        for key, value in settings.FASTPIX.items()
        if key not in ("STREAM_BASE_URL", "IMAGE_BASE_URL")
    }


def test_stream_urls():
    assert stream_url("abc123") == f"{STREAM}/abc123.m3u8"
    assert stream_url("abc123", token="a.b.c") == f"{STREAM}/abc123.m3u8?token=a.b.c"
    assert stream_url("abc", token="") == f"{STREAM}/abc.m3u8"


def test_hosts_come_from_the_settings(settings):
    settings.FASTPIX = {
        **settings.FASTPIX,
        "STREAM_BASE_URL": "http://127.0.0.1:8000/stream/",
        "IMAGE_BASE_URL": "http://127.0.0.1:8000/images",
    }
    assert stream_url("p") == "http://127.0.0.1:8000/stream/p.m3u8"
    assert image_url("p") == "http://127.0.0.1:8000/images/p/thumbnail.jpg"


@pytest.mark.parametrize(
    ("pid", "segment"),
    [
        ("a/b", "a%2Fb"),
        ("../admin", "..%2Fadmin"),
        ("x?token=forged", "x%3Ftoken%3Dforged"),
        ("x#frag", "x%23frag"),
        ('q"><script>', "q%22%3E%3Cscript%3E"),
        ("café id", "caf%C3%A9%20id"),
    ],
)
def test_playback_ids_are_escaped_into_one_path_segment(pid, segment):
    assert stream_url(pid) == f"{STREAM}/{segment}.m3u8"
    assert image_url(pid) == f"{IMAGES}/{segment}/thumbnail.jpg"


@given(st.text(min_size=1, max_size=40))
def test_any_playback_id_stays_in_its_segment(pid):
    for url, prefix, suffix in (
        (stream_url(pid, token="t"), "/", ".m3u8"),
        (image_url(pid, "clip", token="t"), "/", "/clip.gif"),
    ):
        parts = urlsplit(url)
        assert parse_qs(parts.query) == {"token": ["t"]} and not parts.fragment
        segment = parts.path.removeprefix(prefix).removesuffix(suffix)
        assert "/" not in segment
        assert unquote(segment) == pid


def test_tokens_and_parameters_are_query_encoded():
    url = image_url("p", time=2.5, width=640, height=360, fit_mode="smartcrop", token="a+b/c=")
    assert url == (
        f"{IMAGES}/p/thumbnail.jpg?time=2.5&width=640&height=360&fit_mode=smartcrop"
        "&token=a%2Bb%2Fc%3D"
    )
    # Unset values are left out, zero is kept.
    assert image_url("p", time=0, width=None) == f"{IMAGES}/p/thumbnail.jpg?time=0"


@pytest.mark.parametrize(
    ("kind", "fmt", "path"),
    [
        ("thumbnail", None, "thumbnail.jpg"),
        ("thumbnail", "png", "thumbnail.png"),
        ("thumbnail", "webp", "thumbnail.webp"),
        ("clip", None, "clip.gif"),
        ("clip", "webp", "clip.webp"),
        ("spritesheet", None, "spritesheet.jpg"),
        ("spritesheet", "jpg", "spritesheet.jpg"),
    ],
)
def test_formats_per_kind(kind, fmt, path):
    assert image_url("p", kind, format=fmt) == f"{IMAGES}/p/{path}"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kind": "thumbnail", "format": "gif"}, "not 'gif'"),
        ({"kind": "clip", "format": "jpg"}, "not 'jpg'"),
        ({"kind": "spritesheet", "format": "png"}, "spritesheet is a jpg"),
        ({"kind": "poster"}, "Unknown image kind"),
        ({"time": -1}, "time must be a number"),
        ({"width": -10}, "width must be a number"),
        ({"height": float("nan")}, "height must be a number"),
        ({"width": True}, "width must be a number"),
        ({"fit_mode": "zoom"}, "fit_mode is one of"),
    ],
)
def test_bad_values_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        image_url("p", **kwargs)
