"""Request/response values passed to handlers, and path patterns shared by routes and faults."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .state import Store, Workspace
from .validation import ApiError, parse_page, require_object

API_PREFIX = "/v1"
INVALID_JSON = object()


@dataclass
class Call:
    """One authenticated API call as a handler sees it."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    workspace: Workspace
    origin: str
    headers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A request header, case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def json_object(self) -> dict[str, Any]:
        """The body as an object, or 422 (also for bodies that were not JSON)."""
        if self.body is INVALID_JSON:
            raise ApiError(422, fields=[{"field": "body", "message": "invalid JSON"}])
        return require_object(self.body)

    def optional_object(self) -> dict[str, Any]:
        """The body as an object; an empty body counts as `{}`."""
        return {} if self.body is None else self.json_object()

    def page_of(
        self, resources: Iterable[Any], keep: Callable[[Any], bool] | None = None
    ) -> tuple[list[Any], dict[str, int]]:
        """One page (from `limit`/`offset`/`orderBy`) of this workspace's resources."""
        page = parse_page(self.query)
        items = sorted(
            (
                r
                for r in resources
                if r.workspace.id == self.workspace.id and (keep is None or keep(r))
            ),
            key=lambda r: r.seq,
        )
        return page.apply(items)


@dataclass
class Reply:
    """A handler's answer: a JSON ``body``, or raw ``content`` (playlists, images)."""

    status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    content_type: str = "application/json"


def ok(data: Any = None, status: int = 200, pagination: dict[str, int] | None = None) -> Reply:
    """The success envelope; `data=None` gives the bare `{"success": true}`."""
    body: dict[str, Any] = {"success": True}
    if data is not None:
        body["data"] = data
    if pagination is not None:
        body["pagination"] = pagination
    return Reply(status, body)


Handler = Callable[[Store, Call], Reply]


@dataclass(frozen=True)
class Route:
    """A method + path template bound to a handler."""

    method: str
    template: str
    handler: Handler

    @property
    def regex(self) -> re.Pattern[str]:
        """The template compiled to a regex; `{name}` matches one path segment."""
        return template_regex(self.template)


def template_regex(template: str) -> re.Pattern[str]:
    """Compile `/on-demand/{mediaId}` style templates."""
    parts = re.split(r"(\{[^}/]+\})", template)
    out = "".join(
        f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") and p.endswith("}") else re.escape(p)
        for p in parts
    )
    return re.compile(f"^{out}$")


def relative_path(path: str) -> str:
    """Strip the /v1 prefix so patterns are written as in the API reference."""
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        return path[len(API_PREFIX) :] or "/"
    return path


@dataclass(frozen=True)
class RoutePattern:
    """A route filter: `"POST /on-demand"`, `"GET /on-demand/{mediaId}"`, `"/live/*"`, `"*"`.

    The optional method (or `*`) comes first; the path is relative to /v1.
    `{name}` matches one segment; `*` matches anything (also across `/`), `?` one character.
    """

    method: str
    path: str

    @classmethod
    def parse(cls, route: str) -> RoutePattern:
        """Parse `"[METHOD ]PATH"`."""
        route = route.strip()
        method, _, path = route.partition(" ")
        if not path:
            if route.startswith("/") or route == "*":
                method, path = "*", route
            else:
                method, path = route, "*"
        return cls(method.upper(), relative_path(path.strip()))

    def matches(self, method: str, path: str) -> bool:
        """Whether a request (path with or without /v1) is selected."""
        if self.method not in ("*", method.upper()):
            return False
        rel = relative_path(path.split("?", 1)[0])
        return _glob_regex(self.path).fullmatch(rel) is not None


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """`{name}` matches one segment, `*` any run of characters (across `/`), `?` one."""
    out = []
    for token in re.split(r"(\{[^}/]+\}|\*|\?)", pattern):
        if token == "*":
            out.append(".*")
        elif token == "?":
            out.append(".")
        elif token.startswith("{") and token.endswith("}"):
            out.append("[^/]+")
        else:
            out.append(re.escape(token))
    return re.compile("".join(out))
