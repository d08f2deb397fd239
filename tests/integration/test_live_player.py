"""``{% fastpix_player stream %}`` for a LiveStream: the live player while it broadcasts (signed
for a private stream, the token verifying against the key FastPix holds), its state otherwise."""

from __future__ import annotations

import pytest

from django_fastpix.models import LiveStream, LiveStreamStatus
from django_fastpix.scopes import Scope
from tests.testapp.playback import decode, get_request, player, render

pytestmark = pytest.mark.django_db


def make_stream(workspace, *, status=LiveStreamStatus.ACTIVE, policy="public", title="Launch"):
    return LiveStream.objects.create(
        workspace=workspace,
        fastpix_id="a" * 32,
        title=title,
        stream_key="sk-live-secret-value-0001",
        status=status,
        access_policy=policy,
        playback_ids=[{"id": "live-pb-1", "accessPolicy": policy}],
    )


def test_a_public_live_stream_plays_as_live_without_a_token(workspace, fake_api):
    stream = make_stream(workspace)
    html = render(
        "{% load fastpix %}{% fastpix_player stream %}", {"stream": stream}, get_request()
    )
    attrs = player(html)
    assert attrs["playback-id"] == "live-pb-1"
    assert attrs["stream-type"] == "live-stream"
    assert attrs["title"] == "Launch"
    assert "token" not in attrs
    assert "sk-live-secret-value-0001" not in html


def test_a_private_live_stream_gets_a_token_for_its_playback_id(workspace, fake_token):
    fake_token(scope=Scope.READ_WRITE, system=Scope.READ_WRITE)
    stream = make_stream(workspace, policy="private")
    html = render(
        "{% load fastpix %}{% fastpix_player stream %}", {"stream": stream}, get_request()
    )
    attrs = player(html)
    assert attrs["stream-type"] == "live-stream"
    _, claims = decode(workspace, attrs["token"], "media:live-pb-1")
    assert claims["aud"] == "media:live-pb-1"
    assert "sk-live-secret-value-0001" not in html


@pytest.mark.parametrize(
    "status",
    [
        LiveStreamStatus.IDLE,
        LiveStreamStatus.PREPARING,
        LiveStreamStatus.DISCONNECTED,
        LiveStreamStatus.DISABLED,
    ],
)
def test_a_stream_that_is_not_broadcasting_shows_its_state(workspace, fake_api, status):
    stream = make_stream(workspace, status=status)
    html = render(
        "{% load fastpix %}{% fastpix_player stream %}", {"stream": stream}, get_request()
    )
    assert "<fastpix-player" not in html
    assert f'data-fastpix-live-status="{status.value}"' in html


def test_a_deleted_stream_is_unavailable(workspace, fake_api):
    stream = make_stream(workspace, status=LiveStreamStatus.DELETED)
    html = render(
        "{% load fastpix %}{% fastpix_player stream %}", {"stream": stream}, get_request()
    )
    assert "<fastpix-player" not in html
    assert "fastpix-player--unavailable" in html
