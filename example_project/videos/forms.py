"""The lesson page's upload form: the file goes from the browser straight to FastPix."""

from __future__ import annotations

from typing import Any

from django import forms

from django_fastpix.models import Workspace
from django_fastpix.upload_widget import bind_upload_widget

from .fastpix_hooks import lesson_access_policy
from .models import Lesson


class LessonVideoForm(forms.ModelForm):
    """The lesson's ``video``, chosen by uploading a file (``UploadWidget``).

    Bound to the saved lesson: when FastPix reports the uploaded file's media, the app writes
    it to ``lesson.video`` by itself, whether or not the form is ever submitted.
    """

    class Meta:
        model = Lesson
        fields = ["video"]

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lesson = self.instance
        bind_upload_widget(
            self,
            "video",
            workspace=workspace,
            target=lesson,
            access_policy=lesson_access_policy(lesson),
            accept="video/*",
        )
        self.fields["video"].label = "Upload a new video"
