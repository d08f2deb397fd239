"""Who may see and act on FastPix access tokens and playback signing keys in the admin."""

from __future__ import annotations

from django.http import HttpRequest

MANAGE_TOKENS = "django_fastpix.manage_tokens"
MANAGE_SIGNING_KEYS = "django_fastpix.manage_signing_keys"


def can_manage_tokens(request: HttpRequest) -> bool:
    """Whether the request's user is a token manager (superuser or ``manage_tokens``).

    This one permission is the whole boundary of the token admin: Django's default
    view/change/add/delete permissions on AccessToken grant nothing on their own, because a
    staff user who can read tokens can copy a credential's identity and one who can change
    them can swap it.
    """
    return _staff_with(request, MANAGE_TOKENS)


def can_manage_signing_keys(request: HttpRequest) -> bool:
    """Whether the request's user manages playback signing keys (superuser or
    ``manage_signing_keys``).

    The whole boundary of the signing-key admin, as ``manage_tokens`` is for tokens: a revoke
    stops every private video of a workspace at once, and even the list says which key signs.
    """
    return _staff_with(request, MANAGE_SIGNING_KEYS)


def _staff_with(request: HttpRequest, permission: str) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and user.has_perm(permission))
