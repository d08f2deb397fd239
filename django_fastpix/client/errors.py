"""Turn error responses and requests exceptions into the app's exceptions, secrets scrubbed."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from urllib3.exceptions import NewConnectionError

from ..exceptions import FastPixAPIError, error_class_for
from .credentials import Credentials
from .redaction import redact, snippet


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - now()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _error_fields(value: Any) -> list[dict[str, Any]]:
    """Normalise ``error.fields[]`` or legacy ``errors[]`` items to ``{field, message}``."""
    if not isinstance(value, list):
        return []
    fields: list[dict[str, Any]] = []
    for item in value:
        if isinstance(item, dict):
            name = item.get("field") or item.get("param") or item.get("path")
            message = item.get("message") or item.get("msg") or item.get("description")
            fields.append({"field": _text(name), "message": _text(message)})
        elif item is not None:
            fields.append({"field": None, "message": str(item)})
    return fields


@dataclass
class _ErrorFields:
    """What an error answer says, before redaction: every field here came from FastPix."""

    code: int | str | None = None
    message: str | None = None
    description: str | None = None
    fields: list[dict[str, Any]] = dataclass_field(default_factory=list)


def _from_payload(payload: Any) -> _ErrorFields:
    """The fields of a JSON error body (``{"error": {...}}``, a bare string, or legacy shapes)."""
    found = _ErrorFields()
    if not isinstance(payload, dict):
        return found
    error = payload.get("error")
    if isinstance(error, dict):
        raw_code = error.get("code")
        found.code = raw_code if isinstance(raw_code, (int, str)) else _text(raw_code)
        found.message = _text(error.get("message"))
        found.description = _text(error.get("description"))
        found.fields = _error_fields(error.get("fields"))
    elif error is not None:
        found.message = _text(error)
    found.message = found.message or _text(payload.get("message"))
    found.fields += _error_fields(payload.get("errors"))
    return found


def _from_response(response: requests.Response, credentials: Credentials) -> _ErrorFields:
    content = response.content
    try:
        payload = json.loads(content) if content else None
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        found = _from_payload(payload)
    elif content:
        found = _ErrorFields(
            description=f"non-JSON response body: {snippet(content, credentials)!r}"
        )
    else:
        found = _ErrorFields(description="empty response body")
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location", "")
        found.description = (
            f"redirected to {location!r}; FastPix does not redirect API calls, "
            "so check FASTPIX['API_BASE_URL']"
        )
    found.message = found.message or response.reason or f"HTTP {response.status_code}"
    return found


def _redacted(found: _ErrorFields, credentials: Credentials) -> _ErrorFields:
    """Every text field scrubbed: an error answer may echo the request's credentials back."""

    def clean(value: Any) -> Any:
        return redact(value, credentials) if isinstance(value, str) else value

    return _ErrorFields(
        code=clean(found.code),
        message=clean(found.message),
        description=clean(found.description),
        fields=[{name: clean(value) for name, value in item.items()} for item in found.fields],
    )


def api_error(
    response: requests.Response,
    method: str,
    url: str,
    credentials: Credentials,
    retry_after: float | None,
) -> FastPixAPIError:
    """The exception for an error response, with its body parsed (JSON or not) and redacted."""
    found = _redacted(_from_response(response, credentials), credentials)
    error_class = error_class_for(response.status_code)
    return error_class(
        found.message or "",
        status=response.status_code,
        code=found.code,
        description=found.description,
        fields=found.fields,
        method=method,
        url=url,
        token_hint=credentials.hint,
        retry_after=retry_after,
    )


def _cause(exc: BaseException) -> BaseException | None:
    """The exception wrapped by a requests/urllib3 exception (``reason`` or an exception arg)."""
    inner = getattr(exc, "reason", None)
    if isinstance(inner, BaseException):
        return inner
    for arg in exc.args:
        if isinstance(arg, BaseException) and arg is not exc:
            return arg
    return None


def describe(exc: requests.exceptions.RequestException, credentials: Credentials) -> str:
    """A short, redacted reason from a requests exception (its innermost cause)."""
    reason: BaseException = exc
    for _ in range(10):
        inner = _cause(reason)
        if inner is None:
            break
        reason = inner
    text = f"{type(reason).__name__}: {reason}" if str(reason) else type(reason).__name__
    text = redact(text, credentials)
    return text if len(text) <= 300 else text[:299] + "…"


def never_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never established, so no request reached FastPix."""
    reason: BaseException | None = exc
    for _ in range(10):
        if reason is None or isinstance(reason, NewConnectionError):
            break
        reason = _cause(reason)
    return isinstance(reason, NewConnectionError)
