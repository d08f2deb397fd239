"""Every field an error answer hands to the exception is redacted, FastPix's error code included.

A proxy or a misbehaving server may echo the request back (the Authorization header, the token
id, the secret), in any field of its error body: none of it may reach str(), repr(), the
exception's arguments or any attribute a caller might log.
"""

from __future__ import annotations

from typing import Any

import pytest
import responses

from django_fastpix.client import Credentials, Transport
from django_fastpix.exceptions import FastPixAPIError

from .conftest import BASE, BASIC, SECRET, TOKEN_ID, assert_clean

ECHO = f"token {TOKEN_ID} secret {SECRET} header {BASIC}"


def every_text(error: FastPixAPIError) -> list[str]:
    """str, repr, args and every attribute (nested values included) of ``error``."""
    texts = [str(error), repr(error), repr(error.args)]
    texts += [f"{name}={value!r}" for name, value in vars(error).items()]
    return texts


def raised(mocked: responses.RequestsMock, transport: Transport, creds: Credentials, **kw: Any):
    mocked.get(f"{BASE}/on-demand/m1", **kw)
    with pytest.raises(FastPixAPIError) as info:
        transport.request("GET", "/on-demand/m1", credentials=creds)
    return info.value


@pytest.mark.parametrize(
    "code",
    [ECHO, {"detail": ECHO}, [ECHO]],
    ids=["string", "object", "list"],
)
def test_an_echoing_error_code_is_redacted(
    mocked: responses.RequestsMock,
    make_transport: Any,
    creds: Credentials,
    code: object,
) -> None:
    body = {"success": False, "error": {"code": code, "message": "bad request"}}
    error = raised(mocked, make_transport(max_retries=0), creds, json=body, status=400)
    assert "[redacted]" in str(error.code) and "…WXYZ" in str(error.code)
    for text in every_text(error):
        assert_clean(text)


def test_every_field_of_an_echoing_answer_is_redacted(
    mocked: responses.RequestsMock, make_transport: Any, creds: Credentials
) -> None:
    body = {
        "success": False,
        "error": {
            "code": ECHO,
            "message": ECHO,
            "description": ECHO,
            "fields": [{"field": ECHO, "message": ECHO}, ECHO],
        },
        "errors": [{"param": ECHO, "msg": ECHO}],
    }
    error = raised(mocked, make_transport(max_retries=0), creds, json=body, status=422)
    assert error.status == 422 and len(error.fields) == 3
    assert error.token_hint == "WXYZ"
    for text in every_text(error):
        assert_clean(text)
