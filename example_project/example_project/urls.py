from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("fastpix/", include("django_fastpix.urls")),
    path("", include("videos.urls")),
]
