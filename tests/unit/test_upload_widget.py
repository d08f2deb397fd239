"""The upload widget: what it renders for upload.js, its signed context, its scripts; and the
vendored @fastpix/resumable-uploads file is the one PROVENANCE.md names."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from django import forms
from django.core.exceptions import ImproperlyConfigured

import django_fastpix
from django_fastpix.services.uploads import read_upload_context
from django_fastpix.upload_widget import UploadWidget, bind_upload_widget
from django_fastpix.widgets import VideoWidget
from tests.testapp.models import Lesson
from tests.testapp.playback import elements, make_media

STATIC = Path(django_fastpix.__file__).resolve().parent / "static" / "django_fastpix"
VENDOR = STATIC / "vendor" / "resumable-uploads"
VENDOR_URL = "/static/django_fastpix/vendor/resumable-uploads/uploads.js"
SCRIPT_URL = "/static/django_fastpix/upload.js"


class LessonForm(forms.ModelForm):
    class Meta:
        model = Lesson
        fields = ["title", "video"]
        widgets = {"video": UploadWidget(workspace="prod")}


def root(html: str) -> dict[str, str | None]:
    (found,) = [div for div in elements(html, "div") if "data-fastpix-upload" in div]
    return found


# --- the vendored library ---


def test_the_vendored_uploader_matches_its_provenance():
    provenance = (VENDOR / "PROVENANCE.md").read_text()
    recorded = re.search(r"sha256 of uploads\.js: `([0-9a-f]{64})`", provenance)
    assert recorded, "PROVENANCE.md must record the file's sha256"
    actual = hashlib.sha256((VENDOR / "uploads.js").read_bytes()).hexdigest()
    assert actual == recorded.group(1)
    assert "@fastpix/resumable-uploads" in provenance and "`1.0.3`" in provenance
    assert re.search(r"sha512-[A-Za-z0-9+/]{86}==", provenance)  # the npm tarball integrity
    assert "npm pack @fastpix/resumable-uploads@1.0.3" in provenance
    license_text = (VENDOR / "LICENSE").read_text()
    assert "MIT License" in license_text and "FastPix" in license_text
    # The IIFE build: it sets window.Uploader (what upload.js looks for).
    assert "window.Uploader=" in (VENDOR / "uploads.js").read_text()


def test_upload_js_is_plain_script_with_the_documented_hooks():
    source = (STATIC / "upload.js").read_text()
    for hook in (
        "[data-fastpix-upload]",
        "fastpix:upload-state",
        "fastpix:upload-linked",
        "X-CSRFToken",
        "csrfmiddlewaretoken",
        "window.Uploader",
    ):
        assert hook in source
    assert "import " not in source and "eval(" not in source


# --- the widget ---


@pytest.mark.django_db
def test_the_widget_renders_what_upload_js_needs(workspace):
    media = make_media(workspace, status="processing", pid=None)
    form = LessonForm(initial={"video": media.pk})
    html = str(form["video"])
    attrs = root(html)
    assert attrs["data-create-url"] == "/fastpix/uploads/"
    assert attrs["data-state"] == "idle" and attrs["data-progress"] == "0"
    context = read_upload_context(attrs["data-context"])
    assert context.workspace == workspace and context.target is None
    assert context.access_policy == "public"
    (hidden,) = [i for i in elements(html, "input") if i.get("type") == "hidden"]
    assert hidden["name"] == "video" and hidden["value"] == str(media.pk)
    assert hidden["id"] == "id_video" and "data-fastpix-upload-value" in hidden
    assert "required" not in hidden
    (file_input,) = [i for i in elements(html, "input") if i.get("type") == "file"]
    assert "name" not in file_input  # the file itself is never posted to the site
    assert file_input["id"] == "id_video_file" and "disabled" not in file_input
    assert 'for="id_video_file"' in form["video"].label_tag()
    assert len(elements(html, "progress")) == 1
    buttons = [b for b in elements(html, "button")]
    assert {k for b in buttons for k in b if k.startswith("data-fastpix")} == {
        "data-fastpix-upload-pause",
        "data-fastpix-upload-resume",
        "data-fastpix-upload-cancel",
    }
    assert all(b["type"] == "button" for b in buttons)  # never submit the form
    # CSP: scripts by URL only, the vendored library first.
    assert [s["src"] for s in elements(html, "script")] == [VENDOR_URL, SCRIPT_URL]
    assert re.search(r"<script[^>]*>(?!</script>)", html) is None
    assert str(form.media).count("<script") == 2
    assert VENDOR_URL in str(form.media) and SCRIPT_URL in str(form.media)
    # The current media's preview, as VideoWidget shows it.
    expected = VideoWidget(choices=form.fields["video"].choices).preview(media.pk)
    assert expected and expected in html
    assert not form.fields["video"].widget.is_hidden  # the admin must not hide the row


@pytest.mark.django_db
def test_the_script_url_setting_replaces_the_vendored_copy(workspace, settings):
    settings.FASTPIX = {**settings.FASTPIX, "UPLOAD_SCRIPT_URL": "https://cdn.example.com/u.js"}
    form = LessonForm()
    html = str(form["video"])
    assert [s["src"] for s in elements(html, "script")] == [
        "https://cdn.example.com/u.js",
        SCRIPT_URL,
    ]
    assert "https://cdn.example.com/u.js" in str(form.media)
    no_tags = UploadWidget(workspace=workspace, include_scripts=False)
    assert elements(no_tags.render("video", None), "script") == []


@pytest.mark.django_db
def test_the_posted_value_is_the_media(workspace):
    media = make_media(workspace)
    form = LessonForm(data={"title": "One", "video": str(media.pk)})
    assert form.is_valid(), form.errors
    assert form.save().video == media
    assert LessonForm(data={"title": "Two", "video": ""}).save().video is None


@pytest.mark.django_db
def test_bind_targets_a_saved_instance(workspace, other_workspace):
    lesson = Lesson.objects.create(title="Intro")
    form = LessonForm(instance=lesson)
    widget = bind_upload_widget(form, "video", workspace=other_workspace, access_policy="private")
    assert widget is form.fields["video"].widget
    context = read_upload_context(root(str(form["video"]))["data-context"])
    assert context.workspace == other_workspace and context.target == lesson
    assert context.field_name == "video" and context.access_policy == "private"
    # upload.js tells the user the object already holds the video (no save needed).
    assert "data-bound" in root(str(form["video"]))
    # Another form instance is not affected (widgets are copied per form).
    assert read_upload_context(root(str(LessonForm()["video"]))["data-context"]).workspace == (
        workspace
    )


@pytest.mark.django_db
def test_bind_on_an_unsaved_instance_has_no_target_and_replaces_another_widget(workspace):
    class PlainForm(forms.ModelForm):
        class Meta:
            model = Lesson
            fields = ["video"]

    seen = []

    def pick(instance):
        seen.append(instance)
        return instance.workspace_slug

    form = PlainForm(instance=Lesson(title="draft"))
    widget = bind_upload_widget(form, "video", workspace=pick)
    assert isinstance(widget, UploadWidget)
    rendered = root(str(form["video"]))
    context = read_upload_context(rendered["data-context"])
    assert context.workspace == workspace and context.target is None and context.field_name == ""
    assert "data-bound" not in rendered  # the form's save keeps the video
    assert seen == [form.instance]


@pytest.mark.django_db
def test_without_a_workspace(workspace):
    with pytest.raises(ImproperlyConfigured, match="no workspace"):
        UploadWidget().render("video", None)
    with pytest.raises(ImproperlyConfigured, match="nope"):
        UploadWidget(workspace="nope").render("video", None)
    html = UploadWidget(workspace=lambda instance: None).render("video", None)
    assert "data-context" not in root(html)
    (file_input,) = [i for i in elements(html, "input") if i.get("type") == "file"]
    assert "disabled" in file_input and "not available" in html
