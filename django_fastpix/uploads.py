"""The site-controlled side of browser uploads: who may start one (FASTPIX["UPLOAD_PERMISSION"])."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest


def default_upload_permission(request: HttpRequest, target: models.Model | None) -> bool:
    """Signed-in users who may change ``target`` (or, with no target, add uploads)."""
    user: Any = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if target is None:
        return bool(user.has_perm("django_fastpix.add_upload"))
    opts = target._meta
    return bool(user.has_perm(f"{opts.app_label}.change_{opts.model_name}"))
