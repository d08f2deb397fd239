"""Users on both sides of the token permission boundary, and admin URL helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

PASSWORD = "correct horse battery staple"


def admin_url(model: str, view: str, *args: Any) -> str:
    """``admin:django_fastpix_<model>_<view>``."""
    return reverse(f"admin:django_fastpix_{model}_{view}", args=args)


def grant(user: Any, *codenames: str) -> None:
    perms = Permission.objects.filter(
        content_type__app_label="django_fastpix", codename__in=codenames
    )
    assert perms.count() == len(codenames), codenames
    user.user_permissions.add(*perms)


@pytest.fixture
def make_staff(django_user_model: Any) -> Callable[..., Any]:
    def make(username: str, *codenames: str) -> Any:
        user = django_user_model.objects.create_user(username, password=PASSWORD, is_staff=True)
        grant(user, *codenames)
        return user

    return make


@pytest.fixture
def manager(make_staff: Callable[..., Any]) -> Any:
    """A staff user (not superuser) holding only manage_tokens among the token permissions."""
    return make_staff("tokenmanager", "manage_tokens")


@pytest.fixture
def manager_client(manager: Any) -> Client:
    client = Client()
    client.force_login(manager)
    return client


@pytest.fixture
def staff_client(make_staff: Callable[..., Any]) -> Client:
    """Staff with every default AccessToken permission (and workspace ones) but manage_tokens."""
    user = make_staff(
        "plainstaff",
        "view_accesstoken",
        "change_accesstoken",
        "add_accesstoken",
        "delete_accesstoken",
        "view_workspace",
    )
    client = Client()
    client.force_login(user)
    return client


def action_post(action: str, pks: list[int], **extra: str) -> dict[str, Any]:
    """The POST body of an admin action on the changelist (first step, from the list)."""
    return {"action": action, "_selected_action": [str(pk) for pk in pks], "index": "0", **extra}


def confirm_post(action: str, pks: list[int], **extra: str) -> dict[str, Any]:
    """The POST body the confirmation page sends back."""
    return {"action": action, "_selected_action": [str(pk) for pk in pks], "post": "yes", **extra}


def messages_of(response: Any) -> list[tuple[str, str]]:
    """The (level, text) of every message the request queued, without following redirects."""
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]
