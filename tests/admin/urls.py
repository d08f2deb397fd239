"""URLconfs for the workspace admin tests: with and without the app's webhook route."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def webhook(request: HttpRequest, workspace: str) -> HttpResponse:
    return HttpResponse()


fastpix_patterns = ([path("webhooks/<slug:workspace>/", webhook, name="webhook")], "django_fastpix")

with_webhook = [path("admin/", admin.site.urls), path("fastpix/", include(fastpix_patterns))]
without_webhook = [path("admin/", admin.site.urls)]
urlpatterns = with_webhook
