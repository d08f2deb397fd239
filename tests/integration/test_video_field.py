"""``VideoField``: a site object's video as a Media. Assignment, queries by status, the
MEDIA_SOURCES ``video_field`` option that points it at each media made from the object's URL,
the Media playback methods, and the form widget's preview in every state (admin included)."""

from __future__ import annotations

import logging

import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.signals import post_save

from django_fastpix.models import Media, PlaybackId
from django_fastpix.scopes import Scope
from django_fastpix.sources import media_sources, parse_source, video_field_problem
from django_fastpix.video import VideoField
from django_fastpix.widgets import VideoChoiceField, VideoWidget
from tests.testapp.models import Clip, Lesson
from tests.testapp.playback import decode, elements, get_request, make_media, player, render

pytestmark = pytest.mark.django_db

VIDEO = "https://cdn.example.com/lesson.mp4"
OTHER_VIDEO = "https://cdn.example.com/lesson-v2.mp4"


@pytest.fixture
def system_token(fake_token):
    return fake_token(scope=Scope.READ_WRITE, system=Scope.READ_WRITE)


class LessonForm(forms.ModelForm):
    class Meta:
        model = Lesson
        fields = ["title", "video"]


# --- the field ---


def test_the_field_links_a_media_with_video_defaults():
    field = Lesson._meta.get_field("video")
    assert isinstance(field, models.ForeignKey) and field.related_model is Media
    assert field.null and field.blank
    assert field.remote_field.on_delete is models.SET_NULL
    assert field.remote_field.related_name == "+"
    _, path, args, kwargs = field.deconstruct()
    assert (path, args, kwargs) == ("django_fastpix.video.VideoField", [], {})


def test_explicit_arguments_survive_a_migration_round_trip():
    field = VideoField(on_delete=models.PROTECT, null=False, related_name="lessons")
    field.set_attributes_from_name("video")
    _, _, args, kwargs = field.deconstruct()
    assert kwargs == {"on_delete": models.PROTECT, "null": False, "related_name": "lessons"}
    again = VideoField(*args, **kwargs)
    assert not again.null and again.blank
    assert again.remote_field.related_name == "lessons"
    nameless = VideoField(related_name=None)
    nameless.set_attributes_from_name("video")
    assert nameless.deconstruct()[3] == {"related_name": None}


def test_assigning_a_media_and_querying_by_status(workspace):
    ready = make_media(workspace, pid="pb-ready")
    processing = make_media(workspace, status="processing", pid=None)
    first = Lesson.objects.create(title="one", video=ready)
    Lesson.objects.create(title="two", video=processing)
    Lesson.objects.create(title="three")
    assert Lesson.objects.get(pk=first.pk).video == ready
    assert list(Lesson.objects.filter(video__status="ready")) == [first]
    assert Lesson.objects.filter(video__isnull=True).count() == 1
    assert Lesson.objects.filter(video__playback_ids__fastpix_id="pb-ready").get() == first


def test_deleting_the_media_row_empties_the_field(workspace):
    media = make_media(workspace)
    lesson = Lesson.objects.create(title="one", video=media)
    media.delete()
    lesson.refresh_from_db()
    assert lesson.video is None


# --- MEDIA_SOURCES "video_field" ---


def test_a_source_points_the_field_at_the_media_it_makes(
    workspace, django_capture_on_commit_callbacks
):
    saves: list[object] = []

    def count(sender, instance, **kwargs):
        saves.append(instance)

    post_save.connect(count, sender=Lesson, dispatch_uid="test-count-saves")
    try:
        with django_capture_on_commit_callbacks():  # creation in FastPix is not the point here
            lesson = Lesson.objects.create(title="one", video_url=VIDEO)
        first = Media.objects.get()
        assert lesson.video == first  # the in-memory object follows
        assert Lesson.objects.get(pk=lesson.pk).video_id == first.pk
        with django_capture_on_commit_callbacks():
            lesson.video_url = OTHER_VIDEO
            lesson.save()
        second = Media.objects.exclude(pk=first.pk).get()
        assert second.source_url == OTHER_VIDEO
        assert lesson.video == second
        assert Lesson.objects.get(pk=lesson.pk).video == second
        # Saving again with the same URL makes nothing and moves nothing.
        with django_capture_on_commit_callbacks():
            lesson.title = "renamed"
            lesson.save()
        assert Media.objects.count() == 2
        assert Lesson.objects.get(pk=lesson.pk).video == second
    finally:
        post_save.disconnect(dispatch_uid="test-count-saves", sender=Lesson)
    assert len(saves) == 3  # the field was set with an update: no extra save, no recursion


def test_a_refused_url_is_pointed_at_too_so_the_page_shows_why(
    workspace, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks():
        lesson = Lesson.objects.create(title="one", video_url="ftp://example.com/v.mp4")
    assert lesson.video is not None and lesson.video.has_failed
    assert "could not be processed" in render("{% fastpix_player l.video %}", {"l": lesson})


def test_without_the_option_the_field_is_left_alone(
    workspace, settings, django_capture_on_commit_callbacks
):
    source = dict(settings.FASTPIX["MEDIA_SOURCES"]["testapp.Lesson"])
    del source["video_field"]
    settings.FASTPIX = {**settings.FASTPIX, "MEDIA_SOURCES": {"testapp.Lesson": source}}
    with django_capture_on_commit_callbacks():
        lesson = Lesson.objects.create(title="one", video_url=VIDEO)
    assert Media.objects.count() == 1
    assert Lesson.objects.get(pk=lesson.pk).video is None


@pytest.mark.parametrize(
    ("model", "name", "problem"),
    [
        (Lesson, "video", None),
        (Lesson, None, None),
        (Lesson, "nope", "has no field 'nope'"),
        (Lesson, "title", "is not a VideoField"),
        (Lesson, 3, "must be the name of a VideoField"),
        (Media, "workspace", "links to django_fastpix.Workspace, not to Media"),
        (Clip, "video_url", "is not a VideoField"),
    ],
)
def test_the_option_is_validated(model, name, problem):
    found = video_field_problem(model, name)
    assert (found is None) if problem is None else (problem in found)


def test_a_bad_option_skips_the_source_with_an_error_logged(settings, caplog):
    source = {**settings.FASTPIX["MEDIA_SOURCES"]["testapp.Lesson"], "video_field": "title"}
    with pytest.raises(ImproperlyConfigured, match=r"\['video_field'\]: testapp.Lesson.title"):
        parse_source("testapp.Lesson", source)
    settings.FASTPIX = {**settings.FASTPIX, "MEDIA_SOURCES": {"testapp.Lesson": source}}
    with caplog.at_level(logging.ERROR):
        assert media_sources() == {}
    assert "video_field" in caplog.text


# --- Media's playback methods ---


def test_media_states_as_properties(workspace):
    for status, ready, processing, failed in [
        ("pending", False, True, False),
        ("in_queue", False, True, False),
        ("processing", False, True, False),
        ("ready", True, False, False),
        ("failed", False, False, True),
        ("deleted", False, False, False),
    ]:
        media = Media(workspace=workspace, status=status)
        assert (media.is_ready, media.is_processing, media.has_failed) == (
            ready,
            processing,
            failed,
        )
        assert media.playback is None  # unsaved: no playback ids, no query


def test_media_player_is_the_tag(workspace, fake_api):
    media = make_media(workspace, pid="pb-py", title="Py")
    html = media.player(autoplay=True, start_time=5)
    assert html == render("{% fastpix_player m autoplay=True start_time=5 %}", {"m": media})
    assert player(html)["auto-play"] is None
    assert "being processed" in make_media(workspace, status="pending", pid=None).player()
    with pytest.raises(TypeError, match="autoplya"):
        media.player(autoplya=True)


def test_media_urls_are_signed_when_private(workspace, system_token, fake_api):
    media = make_media(workspace, policy="private", pid="pb-urls")
    request = get_request()
    stream = media.stream_url(request=request)
    token = stream.split("?token=")[1]
    decode(workspace, token, "media:pb-urls")
    assert stream == f"{fake_api.stream_base_url}/pb-urls.m3u8?token={token}"
    assert media.thumbnail_url(request=request, width=320) == (
        f"{fake_api.image_base_url}/pb-urls/thumbnail.jpg?width=320&token={token}"
    )
    assert media.clip_url(request=request, format="webp").startswith(
        f"{fake_api.image_base_url}/pb-urls/clip.webp?token="
    )
    assert request._fastpix_tokens_minted is True
    with pytest.raises(ValueError, match="fit_mode"):
        media.thumbnail_url(fit_mode="zoom")
    with pytest.raises(TypeError, match="token"):
        media.thumbnail_url(token="forged")


def test_media_urls_are_empty_until_ready(workspace, fake_api):
    for media in (make_media(workspace, status="processing"), make_media(workspace, pid=None)):
        assert media.stream_url() == media.thumbnail_url() == media.clip_url() == ""


def test_playback_id_urls_follow_the_settings(workspace, settings):
    settings.FASTPIX = {
        **settings.FASTPIX,
        "STREAM_BASE_URL": "https://stream.example.test/",
        "IMAGE_BASE_URL": "https://images.example.test",
    }
    playback = make_media(workspace, pid="pb/odd id").playback
    assert playback.stream_url == "https://stream.example.test/pb%2Fodd%20id.m3u8"
    assert playback.thumbnail_url == "https://images.example.test/pb%2Fodd%20id/thumbnail.png"


# --- the widget ---


def test_the_form_field_is_a_media_select_with_a_preview():
    form = LessonForm()
    field = form.fields["video"]
    assert isinstance(field, VideoChoiceField)
    assert isinstance(field.widget, VideoWidget)
    assert not field.required


def test_choices_show_each_media_status(workspace):
    make_media(workspace, status="processing", pid=None, title="Draft")
    html = str(LessonForm()["video"])
    assert "Draft (Processing)" in html


@pytest.mark.parametrize(
    ("status", "policy", "expected"),
    [
        ("ready", "public", "player"),
        ("ready", "private", "player"),
        ("processing", "public", "fastpix-player--processing"),
        ("pending", "private", "fastpix-player--processing"),
        ("failed", "public", "fastpix-player--failed"),
        ("deleted", "public", "fastpix-player--unavailable"),
    ],
)
def test_the_widget_previews_the_current_media(
    workspace, system_token, fake_api, status, policy, expected
):
    media = make_media(workspace, status=status, policy=policy, pid="pb-widget")
    lesson = Lesson.objects.create(title="one", video=media)
    html = str(LessonForm(instance=lesson)["video"])
    assert elements(html, "select")[0]["name"] == "video"
    (selected,) = [o for o in elements(html, "option") if "selected" in o]
    assert selected["value"] == str(media.pk)
    if expected == "player":
        attrs = player(html)
        assert attrs["playback-id"] == "pb-widget"
        assert ("token" in attrs) is (policy == "private")
    else:
        assert expected in html and elements(html, "fastpix-player") == []


def test_the_widget_shows_no_preview_without_a_media(workspace):
    assert "fastpix-video-widget__preview" not in str(LessonForm()["video"])
    choices = LessonForm().fields["video"].choices
    widget = VideoWidget(choices=choices)
    assert widget.preview("not a pk") == "" and widget.preview(987654) == ""
    failed = make_media(workspace, status="failed", error="codec refused")
    staff = VideoWidget(choices=choices, preview_options={"show_error": True})
    assert "codec refused" in staff.preview(failed.pk)
    assert "codec refused" not in widget.preview(failed.pk)
    # A posted id outside the field's choices is never previewed (nor signed).
    narrowed = forms.ModelChoiceField(queryset=Media.objects.exclude(pk=failed.pk))
    assert VideoWidget(choices=narrowed.choices).preview(failed.pk) == ""
    assert VideoWidget().preview(failed.pk) == ""


def test_the_admin_change_form_shows_the_video(workspace, system_token, fake_api, admin_client):
    media = make_media(workspace, policy="private", pid="pb-admin")
    lesson = Lesson.objects.create(title="one", video=media)
    response = admin_client.get(f"/admin/testapp/lesson/{lesson.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    attrs = player(html)
    decode(workspace, attrs["token"], "media:pb-admin")
    # The admin's pages are never cached anyway; the middleware agrees.
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    # Saving the form keeps (or changes) the choice like any foreign key.
    other = make_media(workspace, pid="pb-admin-2")
    response = admin_client.post(
        f"/admin/testapp/lesson/{lesson.pk}/change/",
        {"title": "one", "workspace_slug": "prod", "video": str(other.pk)},
    )
    assert response.status_code == 302
    lesson.refresh_from_db()
    assert lesson.video == other
    assert PlaybackId.objects.filter(media=other).exists()
