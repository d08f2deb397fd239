"""URLs of the playback test pages (``@pytest.mark.urls("tests.testapp.urls")``)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("lessons/", views.lesson_list, name="lesson-list"),
    path("lessons/unprefetched/", views.lesson_list_unprefetched),
    path("lessons/<int:pk>/", views.lesson_detail, name="lesson-detail"),
    path("lessons/<int:pk>/decorated/", views.lesson_detail_decorated),
    path("lessons/<int:pk>/template-response/", views.lesson_detail_template_response),
    path("lessons/<int:pk>/python/", views.lesson_player_from_python),
    path("async-minting/", views.async_minting),
]
