"""Encrypted model field that fails closed when the configured keys cannot decrypt a value.

The storage format is django-encrypted-model-fields' own (Fernet tokens, ``FIELD_ENCRYPTION_KEY``
a key or a list of keys, the first encrypting), and the crypter comes from that library. What
this module adds is what the library leaves open: with a wrong key the library hands back the
ciphertext as if it were the value, and a later save encrypts that ciphertext again, destroying
the secret. Here an undecryptable value becomes an :class:`UndecryptableValue` that refuses to be
used as text and is written back to the database byte for byte, never re-encrypted.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.views.decorators.debug import sensitive_variables

from .exceptions import EncryptionKeyError, UndecryptableValueError

_crypters: dict[tuple[str, ...], MultiFernet] = {}

SERIALIZED_PLACEHOLDER = "<encrypted>"

MALFORMED_KEY = (
    "FIELD_ENCRYPTION_KEY is malformed: each key must be 32 url-safe base64-encoded bytes "
    "(generate one with `python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'`)."
)


def configured_keys() -> tuple[str, ...]:
    """FIELD_ENCRYPTION_KEY as a tuple of keys (first encrypts); empty when not set."""
    keys = getattr(settings, "FIELD_ENCRYPTION_KEY", None)
    if not keys:
        return ()
    if isinstance(keys, (list, tuple)):
        return tuple(str(k) for k in keys)
    return (str(keys),)


def get_crypter() -> MultiFernet:
    """The crypter for the current FIELD_ENCRYPTION_KEY, built by the library and cached per key."""
    keys = configured_keys()
    if not keys:
        raise EncryptionKeyError(
            "FIELD_ENCRYPTION_KEY is not set: django_fastpix stores FastPix secrets encrypted. "
            "Generate one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'` and set it (e.g. from the environment)."
        )
    crypter = _crypters.get(keys)
    if crypter is None:
        library = _library()
        try:
            crypter = MultiFernet([library.parse_key(key) for key in keys])
        except Exception:  # the library raises bare ValueError/TypeError for bad keys
            raise EncryptionKeyError(MALFORMED_KEY) from None
        _crypters[keys] = crypter
    return crypter


def _library() -> Any:
    # Imported here, not at the top: the library builds a crypter from the setting when it is
    # first imported and raises its own ImproperlyConfigured for a missing or malformed key.
    # That would turn the clear system check (and a command's one-line error) into a traceback.
    try:
        from encrypted_model_fields import fields as library
    except ImproperlyConfigured:
        raise EncryptionKeyError(MALFORMED_KEY) from None
    return library


@sensitive_variables()
def encrypt(value: str) -> str:
    """Encrypt ``value`` under the first configured key."""
    return get_crypter().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(ciphertext: str) -> str:
    """Decrypt with any configured key; raises InvalidToken when none fits."""
    # No plaintext or key is a local here (it runs before every API call, so it carries no
    # sensitive_variables wrapper); _decrypt, which holds both, is marked.
    return _decrypt(configured_keys(), ciphertext)


@lru_cache(maxsize=256)
@sensitive_variables()
def _decrypt(keys: tuple[str, ...], ciphertext: str) -> str:
    # Cached per key set: tokens are decrypted before every API call, and a Fernet decrypt
    # (HMAC check + AES) is a measurable share of a loopback call. Failures are not cached.
    return get_crypter().decrypt(ciphertext.encode("ascii")).decode("utf-8")


def is_current(ciphertext: str) -> bool:
    """Whether ``ciphertext`` is already encrypted under the first (current) key."""
    first = MultiFernet(get_crypter()._fernets[:1])
    try:
        first.decrypt(ciphertext.encode("ascii"))
    except InvalidToken:
        return False
    return True


class UndecryptableValue:
    """Stands in for a stored value that the configured keys cannot decrypt."""

    __slots__ = ("ciphertext",)

    def __init__(self, ciphertext: str) -> None:
        self.ciphertext = ciphertext

    def __repr__(self) -> str:
        return "<UndecryptableValue>"

    def __str__(self) -> str:
        raise UndecryptableValueError(
            "An encrypted FastPix value cannot be decrypted with FIELD_ENCRYPTION_KEY; add the "
            "key it was encrypted with (a list, new key first) and run fastpix_rotate_keys."
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UndecryptableValue) and other.ciphertext == self.ciphertext

    def __hash__(self) -> int:
        return hash(self.ciphertext)

    def __bool__(self) -> bool:
        return True


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token; decrypts on load, fails closed on a wrong key.

    Never filter on it: each encryption of the same value differs, so lookups match nothing.
    """

    description = "Text encrypted at rest with FIELD_ENCRYPTION_KEY"

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        if value is None or value == "":
            return value
        try:
            return decrypt(value)
        except InvalidToken:
            return UndecryptableValue(value)

    def to_python(self, value: Any) -> Any:
        # Form and deserialisation input is plaintext; decryption only happens on load.
        return value

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, UndecryptableValue):
            return value.ciphertext
        return super().get_prep_value(value)

    @sensitive_variables()
    def get_db_prep_save(self, value: Any, connection: BaseDatabaseWrapper) -> Any:
        if value is None or value == "":
            return value
        if isinstance(value, UndecryptableValue):
            # Written back exactly as stored: re-encrypting would destroy the secret.
            return value.ciphertext
        if value == SERIALIZED_PLACEHOLDER:
            # What dumpdata writes instead of a secret: loading it back would replace the
            # secret with this text. Restore secrets from a database backup instead.
            raise ValueError(
                f"Refusing to store the dumpdata placeholder {SERIALIZED_PLACEHOLDER!r} in "
                f"{self.model.__name__}.{self.name}: secrets are not exported."
            )
        if hasattr(value, "as_sql"):
            # An expression (bulk_update's CASE): its Values are encrypted as they compile.
            # The library encrypts str(expression) here, silently corrupting every row.
            return value
        return encrypt(str(value))

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name not in ("isnull",):
            raise FieldError(
                f"Filtering on the encrypted field {self.name!r} (lookup {lookup_name!r}) would "
                "silently match nothing: filter on its digest or hint column instead."
            )
        return super().get_lookup(lookup_name)

    def value_to_string(self, obj: models.Model) -> str:
        # dumpdata and serializers must not write secrets in plain text. An empty value is no
        # secret, and writing it as the placeholder would make loaddata refuse the whole row
        # (a workspace without a webhook secret could never be loaded back).
        if self.value_from_object(obj) == "":
            return ""
        return SERIALIZED_PLACEHOLDER


@sensitive_variables()
def plaintext(value: Any, what: str, remedy: str) -> str:
    """A loaded encrypted value as text, or a clear error naming ``what`` and the remedy.

    Fail closed: an undecryptable value is never handed on (it would be the ciphertext).
    """
    if isinstance(value, UndecryptableValue):
        raise UndecryptableValueError(
            f"The {what} cannot be decrypted with FIELD_ENCRYPTION_KEY. Add the key it was "
            f"encrypted with to FIELD_ENCRYPTION_KEY (a list: the new key first), or {remedy}. "
            "The stored value is untouched."
        )
    return "" if value is None else str(value)
