"""Turn error responses and requests exceptions into the app's exceptions, secrets scrubbed."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
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


def api_error(
    response: requests.Response,
    method: str,
    url: str,
    credentials: Credentials,
    retry_after: float | None,
) -> FastPixAPIError:
    """The exception for an error response, with its body parsed (JSON or not) and redacted."""
    status = response.status_code
    content = response.content
    code: int | str | None = None
    message: str | None = None
    description: str | None = None
    fields: list[dict[str, Any]] = []
    try:
        payload = json.loads(content) if content else None
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            raw_code = error.get("code")
            code = raw_code if isinstance(raw_code, (int, str)) else _text(raw_code)
            message = _text(error.get("message"))
            description = _text(error.get("description"))
            fields = _error_fields(error.get("fields"))
        elif error is not None:
            message = _text(error)
        message = message or _text(payload.get("message"))
        fields += _error_fields(payload.get("errors"))
    elif content:
        description = f"non-JSON response body: {snippet(content, credentials)!r}"
    else:
        description = "empty response body"
    if 300 <= status < 400:
        location = response.headers.get("Location", "")
        description = (
            f"redirected to {location!r}; FastPix does not redirect API calls, "
            "so check FASTPIX['API_BASE_URL']"
        )
    message = message or response.reason or f"HTTP {status}"
    # Error bodies are echoed into messages, so scrub anything the server reflected back.
    for item in fields:
        for name in ("field", "message"):
            if isinstance(item.get(name), str):
                item[name] = redact(item[name], credentials)
    error_class = error_class_for(status)
    return error_class(
        redact(message, credentials),
        status=status,
        code=code,
        description=redact(description, credentials) if description else None,
        fields=fields,
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
