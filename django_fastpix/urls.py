"""Include with ``path("fastpix/", include("django_fastpix.urls"))``."""

from django.urls import path

from . import views

app_name = "django_fastpix"

urlpatterns = [
    path("webhooks/<slug:workspace>/", views.webhook, name="webhook"),
]
