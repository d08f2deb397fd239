"""Shared plumbing for the endpoint groups: credentials, transport, scopes, path building."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote
from uuid import UUID

from ..exceptions import InvalidResponseError
from ..scopes import Area, Scope
from .credentials import Credentials
from .transport import Transport

F = TypeVar("F", bound=Callable[..., Any])

IdempotencyKey = str | UUID | None


def requires(scope: Scope, area: Area = Area.VIDEO) -> Callable[[F], F]:
    """Declare the permission a client method needs (read by ``required_permission``)."""

    def decorate(method: F) -> F:
        setattr(method, "required_scope", scope)  # noqa: B010 (F is not known to have it)
        setattr(method, "required_area", area)  # noqa: B010
        return method

    return decorate


def required_scope(method: Callable[..., Any]) -> Scope:
    """The level a client method (bound or unbound) declared with ``@requires``."""
    return required_permission(method)[1]


def required_permission(method: Callable[..., Any]) -> tuple[Area, Scope]:
    """The (area, level) a client method (bound or unbound) declared with ``@requires``."""
    scope = getattr(method, "required_scope", None)
    area = getattr(method, "required_area", None)
    if not isinstance(scope, Scope) or not isinstance(area, Area):
        name = getattr(method, "__qualname__", repr(method))
        raise ValueError(f"{name} does not declare a FastPix scope.")
    return area, scope


def segment(value: object, what: str) -> str:
    """One URL path segment from an id; an empty id would silently hit the list endpoint."""
    text = str(value) if value is not None else ""
    if not text.strip():
        raise ValueError(f"A FastPix {what} is required.")
    return quote(text, safe="")


def camel(name: str) -> str:
    """``max_resolution`` → ``maxResolution``; camelCase names pass through unchanged."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def compact(values: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A request body from keyword values: None dropped, snake_case extras made camelCase."""
    body = {key: value for key, value in values.items() if value is not None}
    if extra:
        body.update({camel(key): value for key, value in extra.items() if value is not None})
    return body


def list_params(limit: int, offset: int, order_by: str | None = None) -> dict[str, Any]:
    """Query parameters of a FastPix list endpoint."""
    params: dict[str, Any] = {"limit": int(limit), "offset": int(offset)}
    if order_by is not None:
        params["orderBy"] = order_by
    return params


class BaseClient:
    """Holds one credential pair and a transport; endpoint groups build on it."""

    def __init__(
        self,
        credentials: Credentials,
        transport: Transport | None = None,
        *,
        before_resend: Callable[[], object] | None = None,
    ) -> None:
        if not isinstance(credentials, Credentials):
            raise TypeError("FastPixClient needs a Credentials instance.")
        self.credentials = credentials
        self.transport = transport if transport is not None else Transport.from_settings()
        # Run before every retry of every request (see Transport.request).
        self.before_resend = before_resend

    def __repr__(self) -> str:
        return f"<{type(self).__name__} token …{self.credentials.hint} {self.transport.base_url}>"

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotency_key: IdempotencyKey = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        return self.transport.request(
            method,
            path,
            credentials=self.credentials,
            params=params,
            json=json,
            idempotency_key=None if idempotency_key is None else str(idempotency_key),
            before_resend=self.before_resend,
            extra_headers=headers,
        )

    def _data(self, envelope: Mapping[str, Any], what: str) -> Any:
        """The ``data`` member of a success envelope (or the envelope itself if unwrapped)."""
        if "data" in envelope:
            return envelope["data"]
        if envelope and "success" not in envelope:
            return envelope
        raise InvalidResponseError(f"FastPix returned no data for the {what}.")
