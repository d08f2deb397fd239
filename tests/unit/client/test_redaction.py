"""The redaction helpers used for error messages built from response bodies."""

from __future__ import annotations

from django_fastpix.client import Credentials
from django_fastpix.client.redaction import REDACTED, redact, snippet

from .conftest import BASIC, SECRET, TOKEN_ID, assert_clean


def test_redact_replaces_every_form(creds: Credentials) -> None:
    text = f"{BASIC} | {BASIC.split()[1]} | {SECRET} | {TOKEN_ID}"
    cleaned = redact(text, creds)
    assert_clean(cleaned)
    assert cleaned.count(REDACTED) == 3
    assert "…WXYZ" in cleaned


def test_redact_without_credentials_is_identity() -> None:
    assert redact("abc", None) == "abc"


def test_snippet_never_leaves_a_partial_secret(creds: Credentials) -> None:
    for pad in range(180, 210):
        body = ("x" * pad + SECRET + "y" * 50).encode()
        text = snippet(body, creds)
        assert SECRET[:8] not in text
        assert len(text) <= 201


def test_snippet_collapses_whitespace_and_truncates(creds: Credentials) -> None:
    assert snippet(b"<h1>\n  Bad   Gateway\n</h1>", creds) == "<h1> Bad Gateway </h1>"
    assert snippet(b"a" * 1000, creds).endswith("…")
    assert snippet(b"\xff\xfe bad utf8", creds).endswith("bad utf8")
