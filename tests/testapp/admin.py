"""The test site's admin: a lesson's change form shows its video (VideoWidget)."""

from __future__ import annotations

from django.contrib import admin

from .models import Lesson


@admin.register(Lesson)
class LessonAdmin(admin.ModelAdmin):
    list_display = ["title", "video"]
    fields = ["title", "workspace_slug", "video"]
