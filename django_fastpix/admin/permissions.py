"""Who may see and act on FastPix access tokens in the admin."""

from __future__ import annotations

from django.http import HttpRequest

MANAGE_TOKENS = "django_fastpix.manage_tokens"


def can_manage_tokens(request: HttpRequest) -> bool:
    """Whether the request's user is a token manager (superuser or ``manage_tokens``).

    This one permission is the whole boundary of the token admin: Django's default
    view/change/add/delete permissions on AccessToken grant nothing on their own, because a
    staff user who can read tokens can copy a credential's identity and one who can change
    them can swap it.
    """
    user = request.user
    return bool(user.is_active and user.is_staff and user.has_perm(MANAGE_TOKENS))
