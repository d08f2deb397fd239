"""Credentials: exact Basic header, and no secret in repr/str/format."""

from __future__ import annotations

import base64

import pytest

from django_fastpix.client import Credentials

from .conftest import BASIC, SECRET, TOKEN_ID, assert_clean


def test_basic_auth_header_is_exact(creds: Credentials) -> None:
    assert creds.basic_auth_header() == BASIC
    decoded = base64.b64decode(BASIC.removeprefix("Basic ")).decode()
    assert decoded == f"{TOKEN_ID}:{SECRET}"


def test_hint_is_last_four_of_token_id(creds: Credentials) -> None:
    assert creds.hint == "WXYZ"


def test_repr_str_and_format_hide_secret_and_token_id(creds: Credentials) -> None:
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds])):
        assert_clean(text)
        assert "WXYZ" in text


def test_short_token_id_shows_at_most_a_quarter() -> None:
    assert Credentials("abc12", "s3cret").hint == "2"
    assert Credentials("abc", "s3cret").hint == ""


@pytest.mark.parametrize(
    ("token_id", "secret"),
    [("", "sk_not_shown_123"), ("tok_12345678", ""), ("tok:12345678", "sk_not_shown_123")],
)
def test_invalid_pairs_are_rejected(token_id: str, secret: str) -> None:
    with pytest.raises(ValueError) as info:
        Credentials(token_id, secret)
    assert not secret or secret not in str(info.value)


def test_frozen_and_comparable(creds: Credentials) -> None:
    assert creds == Credentials(TOKEN_ID, SECRET)
    with pytest.raises(AttributeError):
        creds.secret_key = "other"  # type: ignore[misc]
