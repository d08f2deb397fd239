"""System checks: encryption key, stored secrets, API settings."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError

from .exceptions import EncryptionKeyError


@checks.register(checks.Tags.security)
def check_encryption_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """fastpix.E001: FIELD_ENCRYPTION_KEY is set and every key in it is well formed."""
    from .fields import get_crypter

    try:
        get_crypter()
    except EncryptionKeyError as exc:
        return [
            checks.Error(
                str(exc),
                hint="Set FIELD_ENCRYPTION_KEY to a Fernet key or a list of them (first encrypts).",
                id="fastpix.E001",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_stored_secrets_decrypt(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """fastpix.E002: the configured keys decrypt every stored secret (a wrong key fails here)."""
    from .fields import UndecryptableValue, get_crypter
    from .services.encryption import encrypted_models

    try:
        get_crypter()
    except EncryptionKeyError:
        return []  # E001 already says so.
    bad: list[str] = []
    try:
        for model, names in encrypted_models():
            for obj in model._default_manager.only("pk", "name", *names):
                if any(isinstance(getattr(obj, n), UndecryptableValue) for n in names):
                    bad.append(f"{model._meta.verbose_name} #{obj.pk} {getattr(obj, 'name', '')!r}")
    except DatabaseError:
        # No table yet (before migrate) or no database: nothing stored to check.
        return []
    if not bad:
        return []
    return [
        checks.Error(
            f"{len(bad)} stored FastPix secret(s) cannot be decrypted with FIELD_ENCRYPTION_KEY: "
            + ", ".join(bad[:10])
            + (" …" if len(bad) > 10 else ""),
            hint="FIELD_ENCRYPTION_KEY is wrong or lost the key these were encrypted with. Add "
            "that key back (a list, the new key first) and run `manage.py fastpix_rotate_keys`. "
            "Nothing has been overwritten.",
            id="fastpix.E002",
        )
    ]


@checks.register()
def check_fastpix_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """fastpix.E003: FASTPIX has only known keys; fastpix.W001: https while DEBUG is off."""
    from .conf import fastpix_settings

    try:
        fastpix_settings.validate()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="fastpix.E003")]
    messages: list[checks.CheckMessage] = []
    base_url = str(fastpix_settings.API_BASE_URL)
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        messages.append(
            checks.Error(
                f"FASTPIX['API_BASE_URL'] is not an http(s) URL: {base_url!r}.", id="fastpix.E004"
            )
        )
    elif parts.scheme != "https" and not settings.DEBUG:
        messages.append(
            checks.Warning(
                f"FASTPIX['API_BASE_URL'] is {base_url!r}, not https, while DEBUG is off: "
                "secrets would travel in the clear, and this is likely a fake server left on.",
                hint="Remove API_BASE_URL from FASTPIX to use https://api.fastpix.com/v1.",
                id="fastpix.W001",
            )
        )
    return messages
