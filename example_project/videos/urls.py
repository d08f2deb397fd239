from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.lesson_list, name="lesson-list"),
    path("lessons/<int:pk>/", views.lesson_detail, name="lesson-detail"),
    path("live/", views.live_list, name="live-list"),
    path("live/<int:pk>/", views.live_detail, name="live-detail"),
    path("live/<int:pk>/status/", views.live_status, name="live-status"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="videos/login.html"),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
