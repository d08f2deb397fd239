"""Whole pages with players: a list of fifty private videos in a constant number of queries
(and the unprefetched list being N+1, so the bound can fail), and the cache headers of pages
that carry playback tokens, with and without Django's cache middleware."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_fastpix.middleware import fastpix_playback_page, tokens_minted
from django_fastpix.models import SigningKey
from django_fastpix.scopes import Scope
from django_fastpix.services.signing_keys import signing_key_for
from tests.testapp import views
from tests.testapp.models import Lesson
from tests.testapp.playback import decode, elements, make_lessons, make_media, player

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.testapp.urls")]

LESSONS = 50
# The lessons (media and workspace joined), their playback ids, the workspace's signing key.
MAX_QUERIES = 4
MIDDLEWARE = "django_fastpix.middleware.PlaybackCacheMiddleware"


@pytest.fixture
def system_token(fake_token):
    return fake_token(scope=Scope.READ_WRITE, system=Scope.READ_WRITE)


@pytest.fixture
def signing_key(workspace, system_token, fake_api):
    """The workspace's key, made beforehand: the page reads it, it does not create it."""
    return signing_key_for(workspace)


def nonce(response) -> str:
    return response.content.decode().split('<p id="nonce">')[1].split("<")[0]


# --- queries ---


def test_fifty_private_videos_cost_a_constant_number_of_queries(
    client, workspace, signing_key, django_assert_max_num_queries
):
    make_lessons(workspace, LESSONS)
    with django_assert_max_num_queries(MAX_QUERIES) as captured:
        response = client.get("/lessons/")
    assert response.status_code == 200
    signing_key_reads = [q for q in captured.captured_queries if "signingkey" in q["sql"]]
    assert len(signing_key_reads) == 1
    players = elements(response.content.decode(), "fastpix-player")
    assert len(players) == LESSONS
    assert {p["playback-id"] for p in players} == {f"pb-{n:04d}" for n in range(LESSONS)}
    header, _ = decode(workspace, players[-1]["token"], f"media:pb-{LESSONS - 1:04d}")
    assert header["kid"] == signing_key.fastpix_id
    assert len(elements(response.content.decode(), "script")) == 1


def test_the_unprefetched_list_is_n_plus_one(
    client, workspace, signing_key, django_assert_max_num_queries
):
    make_lessons(workspace, LESSONS)
    # The same bound fails without select_related/prefetch_related: the test can fail...
    bound = django_assert_max_num_queries(MAX_QUERIES)
    with pytest.raises(pytest.fail.Exception, match="Expected to perform 4 queries or less"), bound:
        client.get("/lessons/unprefetched/")
    # ...because each video costs its media and its playback ids (the workspace is not read:
    # tokens are signed by workspace id).
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/lessons/unprefetched/")
    assert len(elements(response.content.decode(), "fastpix-player")) == LESSONS
    assert len(captured) >= 2 * LESSONS
    # The signing key is still read once per page, not once per video.
    assert len([q for q in captured if "signingkey" in q["sql"]]) == 1


def test_a_page_of_public_videos_reads_no_signing_key(
    client, workspace, fake_api, django_assert_max_num_queries
):
    make_lessons(workspace, 10, policy="public")
    with django_assert_max_num_queries(2):
        response = client.get("/lessons/")
    assert len(elements(response.content.decode(), "fastpix-player")) == 10
    assert SigningKey.objects.count() == 0


# --- cache headers: middleware and decorator ---


def private_lesson(workspace, pid: str = "pb-page-private") -> Lesson:
    return Lesson.objects.create(
        title="Private", video=make_media(workspace, policy="private", pid=pid)
    )


def public_lesson(workspace, pid: str = "pb-page-public") -> Lesson:
    return Lesson.objects.create(title="Public", video=make_media(workspace, pid=pid))


def is_kept_out_of_caches(response) -> bool:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    return {"private", "no-store", "max-age=0"} <= directives


def test_a_page_with_a_private_player_is_not_cacheable(client, workspace, signing_key):
    lesson = private_lesson(workspace)
    response = client.get(f"/lessons/{lesson.pk}/")
    assert player(response.content.decode())["token"]
    assert is_kept_out_of_caches(response)
    assert tokens_minted(response.wsgi_request)
    assert "Vary" not in response or "Cookie" not in response["Vary"]


def test_a_page_with_public_players_only_is_untouched(client, workspace, fake_api):
    lesson = public_lesson(workspace)
    response = client.get(f"/lessons/{lesson.pk}/")
    assert "token" not in player(response.content.decode())
    assert not response.has_header("Cache-Control")


@pytest.mark.parametrize(
    "case", ["not ready", "deleted", "no video", "signing failed"], ids=lambda c: c
)
def test_a_private_video_that_minted_nothing_leaves_the_page_cacheable(
    client, workspace, fake_token, fake_api, case
):
    fake_token(scope=Scope.READ_WRITE)  # cannot create a signing key: signing fails
    video = {
        "not ready": lambda: make_media(workspace, status="processing", policy="private"),
        "deleted": lambda: make_media(workspace, status="deleted", policy="private"),
        "no video": lambda: None,
        "signing failed": lambda: make_media(workspace, policy="private"),
    }[case]()
    lesson = Lesson.objects.create(title="x", video=video)
    response = client.get(f"/lessons/{lesson.pk}/")
    assert response.status_code == 200
    assert "fastpix-player--" in response.content.decode()
    assert not response.has_header("Cache-Control")


def test_a_player_rendered_from_python_marks_the_request(client, workspace, signing_key):
    # lesson.video.player() without request=: the middleware's request state is used.
    lesson = private_lesson(workspace)
    response = client.get(f"/lessons/{lesson.pk}/python/")
    assert player(response.content.decode())["token"]
    assert is_kept_out_of_caches(response)


def test_the_decorator_does_the_same_without_the_middleware(
    client, workspace, signing_key, settings
):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    private, public = private_lesson(workspace), public_lesson(workspace)
    assert not client.get(f"/lessons/{private.pk}/").has_header("Cache-Control")
    assert is_kept_out_of_caches(client.get(f"/lessons/{private.pk}/decorated/"))
    assert not client.get(f"/lessons/{public.pk}/decorated/").has_header("Cache-Control")
    # A TemplateResponse renders after the view returned: marked after rendering.
    rendered_late = client.get(f"/lessons/{private.pk}/template-response/")
    assert player(rendered_late.content.decode())["token"]
    assert is_kept_out_of_caches(rendered_late)
    assert not client.get(f"/lessons/{public.pk}/template-response/").has_header("Cache-Control")


def test_the_decorator_wraps_async_views(async_client, settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE]
    assert iscoroutinefunction(views.async_minting)
    response = async_to_sync(async_client.get)("/async-minting/")
    assert is_kept_out_of_caches(response)
    # And the middleware in an async stack.
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, MIDDLEWARE]
    assert is_kept_out_of_caches(async_to_sync(async_client.get)("/async-minting/"))


def test_the_decorator_keeps_the_view_signature():
    def view(request):
        """Docs."""

    wrapped = fastpix_playback_page(view)
    assert wrapped.__name__ == "view" and wrapped.__doc__ == "Docs." and wrapped is not view


@pytest.fixture
def cache_middleware(settings):
    """Django's per-site cache around the test site, on a private local-memory cache."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "fastpix-playback-pages",
        }
    }
    settings.CACHE_MIDDLEWARE_SECONDS = 600
    settings.MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *settings.MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    from django.core.cache import cache

    cache.clear()
    yield settings
    cache.clear()


def test_the_cache_middleware_never_serves_a_stale_token(
    client, workspace, signing_key, cache_middleware
):
    public, private = public_lesson(workspace), private_lesson(workspace)
    # The cache is on: a public page is stored and served again as it was.
    first_public = client.get(f"/lessons/{public.pk}/")
    assert nonce(client.get(f"/lessons/{public.pk}/")) == nonce(first_public)
    # A private page is rendered afresh each time, with a token minted for that request.
    first = client.get(f"/lessons/{private.pk}/")
    second = client.get(f"/lessons/{private.pk}/")
    assert nonce(first) != nonce(second)
    assert is_kept_out_of_caches(first) and is_kept_out_of_caches(second)
    _, first_claims = decode(
        workspace, player(first.content.decode())["token"], "media:pb-page-private"
    )
    _, claims = decode(workspace, player(second.content.decode())["token"], "media:pb-page-private")
    assert claims["iat"] >= first_claims["iat"]


def test_without_the_playback_middleware_the_private_page_would_be_cached(
    client, workspace, signing_key, cache_middleware
):
    # What the middleware prevents (and proof that the test above can fail).
    cache_middleware.MIDDLEWARE = [m for m in cache_middleware.MIDDLEWARE if m != MIDDLEWARE]
    private = private_lesson(workspace)
    first = client.get(f"/lessons/{private.pk}/")
    assert nonce(client.get(f"/lessons/{private.pk}/")) == nonce(first)
