from django.urls import path

from . import views

urlpatterns = [
    path("", views.lesson_list, name="lesson-list"),
    path("lessons/<int:pk>/", views.lesson_detail, name="lesson-detail"),
]
