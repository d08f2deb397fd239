"""URLconfs where an earlier pattern shadows the app's webhook route (fastpix.W004, the doctor).

``urlpatterns`` shadows it for the "prod" workspace only; ``shadow_all`` for every slug.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path


def catch_all(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return HttpResponse()


webhooks = path("fastpix/", include("django_fastpix.urls"))
shadow_all = [re_path(r"^fastpix/", catch_all, name="catch_all"), webhooks]
urlpatterns = [path("fastpix/webhooks/prod/", catch_all, name="prod_catch_all"), webhooks]
