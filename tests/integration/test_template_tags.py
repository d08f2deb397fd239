"""``{% load fastpix %}`` against the fake FastPix: the player in every media state, tokens
whose claims verify with the public key FastPix holds, escaping, option mapping, the player
script once per page, image and stream URLs, and a signing failure that renders a fallback."""

from __future__ import annotations

import logging

import pytest
import requests
from django.core.cache import cache
from django.template import TemplateSyntaxError

from django_fastpix.client import FastPixClient
from django_fastpix.models import MediaStatus, PlaybackId, SigningKey
from django_fastpix.scopes import Scope
from django_fastpix.services import api
from django_fastpix.templatetags.player_options import attribute_name, attribute_value
from tests.testapp.playback import (
    decode,
    elements,
    get_request,
    make_media,
    player,
    private_key_fragments,
    render,
)

pytestmark = pytest.mark.django_db

KEY_ROUTE = "POST /iam/signing-keys"
SCRIPT = "https://unpkg.com/@fastpix/fp-player@1.0.24/dist/player.js"
NOT_READY = [
    MediaStatus.PENDING,
    MediaStatus.CREATED,
    MediaStatus.DOWNLOADING,
    MediaStatus.DOWNLOADED,
    MediaStatus.VALIDATING,
    MediaStatus.IN_QUEUE,
    MediaStatus.PROCESSING,
]


@pytest.fixture
def system_token(fake_token):
    """A token granted video and system (signing keys) read+write, here and in the fake."""
    return fake_token(scope=Scope.READ_WRITE, system=Scope.READ_WRITE)


def scripts(html: str) -> list[dict[str, str | None]]:
    return elements(html, "script")


# --- ready media ---


def test_a_ready_public_media_plays_without_a_token(workspace, fake_api):
    media = make_media(workspace, pid="pb-public-1", title="Intro")
    html = render("{% fastpix_player media %}", {"media": media}, get_request())
    attrs = player(html)
    assert attrs["playback-id"] == "pb-public-1"
    assert attrs["stream-type"] == "on-demand"
    assert attrs["title"] == "Intro"
    assert attrs["poster"] == f"{fake_api.image_base_url}/pb-public-1/thumbnail.jpg"
    assert "token" not in attrs and "drm-token" not in attrs
    assert [s["src"] for s in scripts(html)] == [SCRIPT]
    assert SigningKey.objects.count() == 0
    assert fake_api.requests_for(KEY_ROUTE) == []


def test_a_private_media_gets_a_token_whose_claims_verify(workspace, system_token, fake_api):
    media = make_media(workspace, policy="private", pid="pb-private-1")
    request = get_request()
    html = render("{% fastpix_player media %}", {"media": media}, request)
    attrs = player(html)
    header, claims = decode(workspace, attrs["token"], "media:pb-private-1")
    key = SigningKey.objects.get()
    assert header["alg"] == "RS256" and header["kid"] == key.fastpix_id
    assert claims["kid"] == key.fastpix_id
    assert claims["exp"] - claims["iat"] == 900
    assert "drm-token" not in attrs
    # The poster is signed with the same token: one media token covers stream and images.
    assert attrs["poster"] == (
        f"{fake_api.image_base_url}/pb-private-1/thumbnail.jpg?token={attrs['token']}"
    )
    assert request._fastpix_tokens_minted is True
    for fragment in private_key_fragments():
        assert fragment not in html


@pytest.mark.parametrize(("lifetime", "expected"), [(10, 60), (600, 600), (10**7, 24 * 3600)])
def test_token_lifetime_is_the_setting_clamped(
    workspace, system_token, fake_api, settings, lifetime, expected
):
    settings.FASTPIX = {**settings.FASTPIX, "PLAYBACK_TOKEN_LIFETIME": lifetime}
    media = make_media(workspace, policy="private", pid="pb-life")
    attrs = player(render("{% fastpix_player media %}", {"media": media}))
    _, claims = decode(workspace, attrs["token"], "media:pb-life")
    assert claims["exp"] - claims["iat"] == expected


def test_drm_media_get_a_playback_token_and_a_drm_token(workspace, system_token, fake_api):
    media = make_media(workspace, policy="drm", pid="pb-drm-1")
    attrs = player(render("{% fastpix_player media %}", {"media": media}))
    _, media_claims = decode(workspace, attrs["token"], "media:pb-drm-1")
    _, drm_claims = decode(workspace, attrs["drm-token"], "drm:pb-drm-1")
    assert media_claims["kid"] == drm_claims["kid"]


def test_the_playback_id_of_the_media_policy_is_preferred(workspace, system_token, fake_api):
    media = make_media(workspace, policy="private", pid=None)
    PlaybackId.objects.create(media=media, fastpix_id="pb-first-public", access_policy="public")
    PlaybackId.objects.create(media=media, fastpix_id="pb-then-private", access_policy="private")
    assert media.playback.fastpix_id == "pb-then-private"
    attrs = player(render("{% fastpix_player media %}", {"media": media}))
    assert attrs["playback-id"] == "pb-then-private" and attrs["token"]
    # A PlaybackId may be given directly; no preferred one: the first.
    public = PlaybackId.objects.get(fastpix_id="pb-first-public")
    attrs = player(render("{% fastpix_player pb %}", {"pb": public}))
    assert attrs["playback-id"] == "pb-first-public" and "token" not in attrs
    media.access_policy = "drm"
    assert media.playback.fastpix_id == "pb-first-public"


def test_the_token_in_the_page_plays_on_fastpix(workspace, system_token, fake_api):
    created = api.call(
        workspace, FastPixClient.create_media, "https://example.com/v.mp4", access_policy="private"
    )
    fake_api.finish_processing(created.id)
    pid = created.playback_ids[0].id
    media = make_media(workspace, policy="private", pid=pid)
    html = render(
        "{% fastpix_player media %}{% fastpix_stream_url media %}", {"media": media}, get_request()
    )
    attrs = player(html)
    stream = f"{fake_api.stream_base_url}/{pid}.m3u8"
    assert requests.get(stream, params={"token": attrs["token"]}, timeout=5).status_code == 200
    assert requests.get(stream, timeout=5).status_code == 401
    poster = requests.get(attrs["poster"], timeout=5)
    assert poster.status_code == 200 and poster.headers["Content-Type"].startswith("image/")
    stream_url = html.split("</fastpix-player>")[1].replace("&amp;", "&")
    assert requests.get(stream_url, timeout=5).text.startswith("#EXTM3U")


# --- every other state: a fallback, never an empty player ---


@pytest.mark.parametrize("status", NOT_READY)
def test_a_media_on_its_way_shows_a_processing_placeholder(workspace, fake_api, status):
    media = make_media(workspace, status=status, policy="private")
    html = render("{% fastpix_player media %}", {"media": media}, get_request())
    assert elements(html, "fastpix-player") == [] and scripts(html) == []
    (div,) = elements(html, "div")
    assert div["class"] == "fastpix-player fastpix-player--processing"
    assert div["data-fastpix-status"] == status
    assert "being processed" in html
    assert elements(html, "img") == []
    assert SigningKey.objects.count() == 0


def test_the_processing_placeholder_shows_a_given_poster(workspace, fake_api):
    media = make_media(workspace, status="processing")
    html = render('{% fastpix_player media poster="/static/wait.png" %}', {"media": media})
    (img,) = elements(html, "img")
    assert img["src"] == "/static/wait.png"


def test_a_failed_media_says_so_without_its_error_unless_asked(workspace, fake_api):
    media = make_media(workspace, status="failed", error='Input refused: <b>"bad codec"</b>')
    html = render("{% fastpix_player media %}", {"media": media})
    (div,) = elements(html, "div")
    assert div["class"] == "fastpix-player fastpix-player--failed"
    assert "could not be processed" in html
    assert "codec" not in html
    shown = render("{% fastpix_player media show_error=True %}", {"media": media})
    assert "Input refused: &lt;b&gt;&quot;bad codec&quot;&lt;/b&gt;" in shown


@pytest.mark.parametrize("case", ["deleted", "no playback id", "none", "missing", "not a media"])
def test_nothing_to_play_shows_video_unavailable(workspace, fake_api, case, caplog):
    context = {
        "deleted": lambda: {"v": make_media(workspace, status="deleted")},
        "no playback id": lambda: {"v": make_media(workspace, pid=None)},
        "none": lambda: {"v": None},
        "missing": lambda: {},
        "not a media": lambda: {"v": workspace},
    }[case]()
    html = render("{% fastpix_player v %}", context, get_request())
    (div,) = elements(html, "div")
    assert div["class"] == "fastpix-player fastpix-player--unavailable"
    assert "This video is unavailable." in html
    assert elements(html, "fastpix-player") == []
    if case == "not a media":
        assert "was given a Workspace" in caplog.text


def test_fallbacks_are_translatable_templates(workspace, fake_api, settings, tmp_path):
    # A site overrides a fallback by shipping a template of the same name.
    (tmp_path / "django_fastpix").mkdir()
    (tmp_path / "django_fastpix" / "player_unavailable.html").write_text(
        "<p class=mine>Gone: {{ title }}</p>"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    media = make_media(workspace, status="deleted", title="Old")
    assert render("{% fastpix_player media %}", {"media": media}) == "<p class=mine>Gone: Old</p>"


# --- escaping ---


def test_titles_and_options_are_escaped(workspace, fake_api):
    evil = '"><script>alert(1)</script>'
    media = make_media(workspace, pid='pb"><i>x', title=evil)
    html = render(
        "{% fastpix_player media metadata_video_title=evil accent_color=evil %}"
        "{% fastpix_poster media alt=evil %}{% fastpix_thumbnail_url media %}",
        {"media": media, "evil": evil},
    )
    assert "<script>alert" not in html and "<i>" not in html
    attrs = player(html)
    assert attrs["title"] == evil and attrs["metadata-video-title"] == evil
    assert attrs["playback-id"] == 'pb"><i>x'
    assert "pb%22%3E%3Ci%3Ex/thumbnail.jpg" in attrs["poster"]
    (img,) = elements(html, "img")
    assert img["alt"] == evil
    processing = make_media(workspace, status="processing", pid=None, title=evil)
    html = render("{% fastpix_player m %}{% fastpix_poster m %}", {"m": processing})
    assert "<script>alert" not in html


# --- options ---


def test_python_style_options_become_player_attributes(workspace, fake_api):
    media = make_media(workspace)
    html = render(
        "{% fastpix_player media autoplay=True muted=True loop=False start_time=30 "
        'accent_color="#f60" preload="metadata" playback_rates=rates crossorigin="anonymous" '
        'default_subtitle_track="English" default_audio_track="French" placeholder="/p.png" '
        'custom_domain="video.example.com" thumbnail_time=12 metadata_video_title="T" '
        'metadata_viewer_user_id=7 title=None id="main-player" %}',
        {"media": media, "rates": [0.5, 1, 2]},
    )
    attrs = player(html)
    assert html.count(" auto-play") == 1 and attrs["auto-play"] is None  # bare attribute
    assert attrs["muted"] is None
    assert "loop" not in attrs and "title" not in attrs  # False, None: left out
    assert attrs["start-time"] == "30"
    assert attrs["accent-color"] == "#f60"
    assert attrs["preload"] == "metadata"
    assert attrs["playback-rates"] == "0.5 1 2"
    assert attrs["crossorigin"] == "anonymous"
    assert attrs["default-subtitle-track"] == "English"
    assert attrs["default-audio-track"] == "French"
    assert attrs["placeholder"] == "/p.png"
    assert attrs["custom-domain"] == "video.example.com"
    assert attrs["thumbnail-time"] == "12"
    assert attrs["metadata-video-title"] == "T" and attrs["metadata-viewer-user-id"] == "7"
    assert attrs["id"] == "main-player"
    # The default poster is taken at thumbnail_time.
    assert attrs["poster"].endswith("/thumbnail.jpg?time=12")


def test_a_given_poster_or_none_replaces_the_thumbnail(workspace, fake_api):
    media = make_media(workspace)
    mine = player(render('{% fastpix_player m poster="/mine.jpg" %}', {"m": media}))
    assert mine["poster"] == "/mine.jpg"
    assert "poster" not in player(render("{% fastpix_player m poster=False %}", {"m": media}))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% fastpix_player m autoplya=True %}", "unknown option(s) autoplya"),
        ("{% fastpix_player m token='x' %}", "unknown option(s) token"),
        ("{% fastpix_player m playback_id='x' %}", "unknown option(s) playback_id"),
        ("{% fastpix_player %}", "needs the video first"),
        ("{% fastpix_player autoplay=True %}", "needs the video first"),
        ("{% fastpix_player m autoplay %}", "is not an option"),
        ("{% fastpix_player m muted=True muted=False %}", "given twice"),
        ("{% fastpix_poster m size=3 %}", "unknown option(s) size"),
        ("{% fastpix_thumbnail_url m token='x' %}", "unknown option(s) token"),
        ("{% fastpix_stream_url m width=3 %}", "unknown option(s) width"),
        ('{% fastpix_thumbnail_url m format="gif" %}', "not 'gif'"),
        ('{% fastpix_clip_url m format="jpg" %}', "not 'jpg'"),
        ("{% fastpix_thumbnail_url m width=-5 %}", "width must be a number"),
        ('{% fastpix_poster m fit_mode="zoom" %}', "fit_mode is one of"),
        ("{% fastpix_player_script now %}", "takes no arguments"),
    ],
)
def test_mistakes_fail_when_the_template_compiles(source, message):
    with pytest.raises(TemplateSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        render(source)


def test_option_names_map_like_the_player_spells_them():
    assert attribute_name("autoplay") == "auto-play"
    assert attribute_name("auto_play") == "auto-play"
    assert attribute_name("auto-play") == "auto-play"
    assert attribute_name("start_time") == "start-time"
    assert attribute_name("cross_origin") == "crossorigin"
    assert attribute_name("metadata_video_title") == "metadata-video-title"
    assert attribute_name("metadata_") is None
    assert attribute_name("onclick") is None
    assert attribute_value(True) is True
    assert attribute_value(False) is None and attribute_value(None) is None
    assert attribute_value(("0.5", 2)) == "0.5 2"
    assert attribute_value(30) == "30"


def test_a_bad_value_known_only_at_render_time_is_logged_not_raised(workspace, fake_api, caplog):
    media = make_media(workspace)
    html = render(
        "[{% fastpix_thumbnail_url m width=w %}]{% fastpix_poster m width=w %}",
        {"m": media, "w": "wide"},
    )
    assert html.startswith("[]")
    assert "fastpix-poster--unavailable" in html
    assert [r.levelname for r in caplog.records] == ["ERROR", "ERROR"]
    assert "'wide'" in caplog.text
    html = render("[{% fastpix_clip_url m time=t %}]", {"m": media, "t": [1]})
    assert html == "[]"


# --- the player script: once per page ---


def test_the_script_comes_once_with_the_first_player(workspace, fake_api):
    one, two = make_media(workspace, pid="pb-a"), make_media(workspace, pid="pb-b")
    html = render(
        "{% fastpix_player one %}{% fastpix_player two %}{% fastpix_player_script %}",
        {"one": one, "two": two},
        get_request(),
    )
    assert len(scripts(html)) == 1 and len(elements(html, "fastpix-player")) == 2
    assert html.index("<script") < html.index("<fastpix-player")
    (script,) = scripts(html)
    assert script == {"src": SCRIPT, "defer": None}


def test_the_script_is_once_per_request_across_templates(workspace, fake_api):
    media = make_media(workspace)
    request = get_request()
    first = render("{% fastpix_player m %}", {"m": media}, request)
    second = render("{% fastpix_player m %}", {"m": media}, request)
    assert len(scripts(first)) == 1 and scripts(second) == []
    # Without a request: once per render, includes included.
    html = render(
        "{% fastpix_player m %}{% include 'django_fastpix/player_script.html' %}"
        "{% for x in '12' %}{% fastpix_player m %}{% endfor %}",
        {"m": media},
    )
    assert len(elements(html, "fastpix-player")) == 3
    # The include is the raw template (it always renders); the tag emitted it once.
    assert len(scripts(html)) == 2
    assert len(scripts(render("{% fastpix_player m %}", {"m": media}))) == 1


def test_the_script_placed_in_head_is_not_repeated(workspace, fake_api):
    media = make_media(workspace)
    html = render(
        "<head>{% fastpix_player_script %}</head>{% fastpix_player m %}{% fastpix_player m %}",
        {"m": media},
        get_request(),
    )
    assert len(scripts(html)) == 1
    assert html.index("<script") < html.index("</head>")
    # A page with no player at all still gets the script where it was asked for.
    assert len(scripts(render("{% fastpix_player_script %}", {}, get_request()))) == 1


def test_the_script_has_integrity_when_configured(workspace, fake_api, settings):
    settings.FASTPIX = {
        **settings.FASTPIX,
        "PLAYER_SCRIPT_URL": "/static/fastpix/player.js",
        "PLAYER_SCRIPT_INTEGRITY": "sha384-abc+def/ghi=",
    }
    (script,) = scripts(render("{% fastpix_player_script %}"))
    assert script == {
        "src": "/static/fastpix/player.js",
        "defer": None,
        "integrity": "sha384-abc+def/ghi=",
        "crossorigin": "anonymous",
    }


# --- signing failures: logged, and the page still renders ---


def test_a_workspace_without_a_signing_permission_gets_the_fallback(
    workspace, fake_token, fake_api, caplog
):
    fake_token(scope=Scope.READ_WRITE)  # video only: cannot create a signing key
    private = make_media(workspace, policy="private", pid="pb-p1")
    other = make_media(workspace, policy="private", pid="pb-p2")
    public = make_media(workspace, pid="pb-pub")
    with caplog.at_level(logging.ERROR, logger="django_fastpix"):
        html = render(
            "{% fastpix_player a %}{% fastpix_player b %}{% fastpix_player c %}"
            "[{% fastpix_stream_url a %}]{% fastpix_poster b %}",
            {"a": private, "b": other, "c": public},
            get_request(),
        )
    assert html.count("fastpix-player--unavailable") == 2
    assert player(html)["playback-id"] == "pb-pub"
    assert "[]" in html and "fastpix-poster--unavailable" in html
    failures = [r for r in caplog.records if "Could not sign playback" in r.getMessage()]
    assert len(failures) == 1  # once per workspace and page, not once per video
    assert failures[0].levelno == logging.ERROR and "SigningKeyError" in failures[0].getMessage()
    assert failures[0].exc_info is not None


def test_fastpix_unreachable_while_creating_a_key_renders_the_fallback(
    workspace, system_token, fake_api, caplog
):
    fake_api.inject(KEY_ROUTE, status=503)
    one = make_media(workspace, policy="private", pid="pb-u1")
    two = make_media(workspace, policy="private", pid="pb-u2")
    html = render("{% fastpix_player one %}", {"one": one}, get_request())
    attempts_for_one = len(fake_api.requests_for(KEY_ROUTE))
    assert attempts_for_one >= 1
    fake_api.clear_requests()
    html += render(
        "{% fastpix_player one %}{% fastpix_player two %}", {"one": one, "two": two}, get_request()
    )
    # Neither a second private video nor the next pages try FastPix again for a while
    # (services.signing_keys.CREATION_FAILURE_PAUSE): an outage costs one slow call, not one
    # per page.
    assert fake_api.requests_for(KEY_ROUTE) == []
    assert html.count("fastpix-player--unavailable") == 3
    cache.clear()  # the pause is over
    render("{% fastpix_player one %}", {"one": one}, get_request())
    assert len(fake_api.requests_for(KEY_ROUTE)) == attempts_for_one
    assert "Could not sign playback" in caplog.text
    assert SigningKey.objects.count() == 0


def test_no_on_demand_key_creation_renders_the_fallback(
    workspace, system_token, fake_api, settings, caplog
):
    settings.FASTPIX = {**settings.FASTPIX, "CREATE_SIGNING_KEY_ON_DEMAND": False}
    media = make_media(workspace, policy="private")
    html = render("{% fastpix_player m %}", {"m": media})
    assert "fastpix-player--unavailable" in html
    assert "fastpix_signing_keys create" in caplog.text
    assert fake_api.requests_for(KEY_ROUTE) == []


# --- image and stream URLs ---


def test_url_tags_sign_private_media(workspace, system_token, fake_api):
    media = make_media(workspace, policy="private", pid="pb-img")
    html = render(
        "{% fastpix_thumbnail_url m time=12 width=640 format='webp' as thumb %}"
        "{% fastpix_clip_url m width=320 as clip %}{% fastpix_stream_url m as hls %}"
        "{{ thumb }}|{{ clip }}|{{ hls }}|{% fastpix_clip_url m format='webp' %}",
        {"m": media},
        get_request(),
    )
    thumb, clip, hls, webp = html.replace("&amp;", "&").split("|")
    base = fake_api.image_base_url
    token = hls.split("?token=")[1]
    decode(workspace, token, "media:pb-img")
    assert thumb == f"{base}/pb-img/thumbnail.webp?time=12&width=640&token={token}"
    assert clip == f"{base}/pb-img/clip.gif?width=320&token={token}"
    assert webp == f"{base}/pb-img/clip.webp?token={token}"
    assert hls == f"{fake_api.stream_base_url}/pb-img.m3u8?token={token}"


def test_url_tags_of_public_media_carry_no_token(workspace, fake_api):
    media = make_media(workspace, pid="pb-pub-img")
    html = render(
        "{% fastpix_thumbnail_url m width=320 height=180 fit_mode='crop' %}|"
        "{% fastpix_stream_url m %}",
        {"m": media},
    )
    assert html == (
        f"{fake_api.image_base_url}/pb-pub-img/thumbnail.jpg?width=320&amp;height=180"
        f"&amp;fit_mode=crop|{fake_api.stream_base_url}/pb-pub-img.m3u8"
    )


@pytest.mark.parametrize("status", ["pending", "processing", "failed", "deleted"])
def test_url_tags_are_empty_until_the_media_is_ready(workspace, fake_api, status):
    media = make_media(workspace, status=status, policy="private")
    source = (
        "[{% fastpix_thumbnail_url m %}][{% fastpix_clip_url m %}][{% fastpix_stream_url m %}]"
        "{% fastpix_stream_url m as url %}{% if not url %}none{% endif %}"
    )
    assert render(source, {"m": media}) == "[][][]none"
    assert render(source, {"m": None}) == "[][][]none"
    no_playback = make_media(workspace, pid=None)
    assert render(source, {"m": no_playback}) == "[][][]none"


def test_the_poster_tag_in_every_state(workspace, system_token, fake_api):
    ready = make_media(workspace, policy="private", pid="pb-poster", title="Ready one")
    html = render("{% fastpix_poster m width=320 %}", {"m": ready}, get_request())
    (img,) = elements(html, "img")
    assert img["src"].startswith(f"{fake_api.image_base_url}/pb-poster/thumbnail.jpg?width=320")
    decode(workspace, img["src"].split("token=")[1], "media:pb-poster")
    assert img["alt"] == "Ready one" and img["width"] == "320" and img["loading"] == "lazy"
    for status, state in [
        ("processing", "processing"),
        ("failed", "failed"),
        ("deleted", "unavailable"),
    ]:
        media = make_media(workspace, status=status, pid=None, title="T")
        html = render("{% fastpix_poster m alt='Lesson' loading='eager' %}", {"m": media})
        (div,) = elements(html, "div")
        assert div["class"] == f"fastpix-poster fastpix-poster--{state}"
        assert div["aria-label"].startswith("Lesson: video")
        assert elements(html, "img") == []
    (div,) = elements(render("{% fastpix_poster m %}", {"m": None}), "div")
    assert div["class"] == "fastpix-poster fastpix-poster--unavailable"


def test_one_token_per_media_and_page(workspace, system_token, fake_api):
    media = make_media(workspace, policy="private", pid="pb-once")
    request = get_request()
    html = render(
        "{% fastpix_player m %}{% fastpix_stream_url m %}{% fastpix_poster m %}",
        {"m": media},
        request,
    )
    assert request._fastpix_playback.signer.minted == 1
    assert html.count(player(html)["token"]) == 4  # token, poster, stream URL, <img>


def test_a_bad_value_known_only_at_render_time_renders_the_fallback(
    workspace, system_token, fake_api, caplog
):
    media = make_media(workspace, policy="public", pid="pb-inf")
    html = render("{% fastpix_player m thumbnail_time=t %}", {"m": media, "t": "1e999"})
    assert "fastpix-player" in html
    html = render("{% fastpix_player m thumbnail_time=t %}", {"m": media, "t": float("inf")})
    assert "fastpix-player" in html
