"""Include with ``path("fastpix/", include("django_fastpix.urls"))``."""

from django.urls import path

from . import views, views_uploads

app_name = "django_fastpix"

urlpatterns = [
    path("webhooks/<slug:workspace>/", views.webhook, name="webhook"),
    path("uploads/", views_uploads.upload_create, name="upload-create"),
    path("uploads/<int:pk>/", views_uploads.upload_status, name="upload-status"),
    path("uploads/<int:pk>/cancel/", views_uploads.upload_cancel, name="upload-cancel"),
]
