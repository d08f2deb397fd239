"""Payload validation and the error type the fake answers with."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACCESS_POLICIES = ("public", "private", "drm")
BASIC_ACCESS_POLICIES = ("public", "private")
MAX_RESOLUTIONS = ("2160p", "1440p", "1080p", "720p", "480p")
LIVE_RESOLUTIONS = ("1080p", "720p", "480p")
MEDIA_QUALITIES = ("standard", "pro", "premium")
MP4_SUPPORT = ("none", "capped_4k", "audioOnly", "audioOnly,capped_4k")
POLICY_ACTIONS = ("allow", "deny")

_REASONS = {
    400: "Bad Request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    405: "method not allowed",
    409: "conflict",
    422: "payload validation failed",
    429: "too many requests",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def reason(status: int) -> str:
    """Return the short `error.message` FastPix uses for a status code."""
    return _REASONS.get(status, "error")


def error_body(
    status: int,
    message: str | None = None,
    description: str | None = None,
    fields: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Build the FastPix error envelope."""
    error: dict[str, Any] = {"code": status, "message": message or reason(status)}
    if description is not None:
        error["description"] = description
    if fields is not None:
        error["fields"] = fields
    return {"success": False, "error": error}


class ApiError(Exception):
    """An error answer: raised by handlers, rendered as the error envelope."""

    def __init__(
        self,
        status: int,
        message: str | None = None,
        description: str | None = None,
        fields: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message or reason(status)}")
        self.status = status
        self.body = error_body(status, message, description, fields)
        self.headers = dict(headers or {})


@dataclass
class Problems:
    """Collects field errors and raises one 422 with all of them."""

    fields: list[dict[str, str]] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        """Record one invalid field."""
        self.fields.append({"field": name, "message": message})

    def raise_if_any(self) -> None:
        """Raise the 422 envelope when anything was recorded."""
        if self.fields:
            raise ApiError(422, fields=list(self.fields))


def require_object(body: Any) -> dict[str, Any]:
    """Return the body as a dict or raise 422 (non-JSON bodies arrive as a sentinel)."""
    if not isinstance(body, dict):
        raise ApiError(422, fields=[{"field": "body", "message": "must be a JSON object"}])
    return body


def check_string(p: Problems, body: Mapping[str, Any], name: str, max_len: int = 255) -> None:
    """Validate an optional string field with a maximum length."""
    if name not in body or body[name] is None:
        return
    value = body[name]
    if not isinstance(value, str):
        p.add(name, "must be a string")
    elif len(value) > max_len:
        p.add(name, f"must be at most {max_len} characters")


def check_enum(
    p: Problems, body: Mapping[str, Any], name: str, allowed: tuple[str, ...], *, required: bool
) -> None:
    """Validate a string enum field."""
    if body.get(name) is None:
        if required:
            p.add(name, "is required")
        return
    if body[name] not in allowed:
        p.add(name, "must be one of " + ", ".join(allowed))


def check_bool(p: Problems, body: Mapping[str, Any], name: str) -> None:
    """Validate an optional boolean field."""
    if body.get(name) is not None and not isinstance(body[name], bool):
        p.add(name, "must be a boolean")


def check_metadata(p: Problems, body: Mapping[str, Any], name: str = "metadata") -> None:
    """Metadata: an object of at most 10 string values of at most 255 characters."""
    if body.get(name) is None:
        return
    value = body[name]
    if not isinstance(value, dict):
        p.add(name, "must be an object of string values")
        return
    if len(value) > 10:
        p.add(name, "must have at most 10 keys")
    for key, item in value.items():
        if not isinstance(item, str):
            p.add(f"{name}.{key}", "must be a string")
        elif len(item) > 255:
            p.add(f"{name}.{key}", "must be at most 255 characters")


def check_restrictions(p: Problems, body: Mapping[str, Any], name: str) -> None:
    """Validate accessRestrictions {domains, userAgents}."""
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, dict):
        p.add(name, "must be an object")
        return
    for part in ("domains", "userAgents"):
        rule = value.get(part)
        if rule is None:
            continue
        if not isinstance(rule, dict):
            p.add(f"{name}.{part}", "must be an object")
            continue
        check_enum(p, rule, "defaultPolicy", POLICY_ACTIONS, required=False)
        for lst in ("allow", "deny"):
            items = rule.get(lst)
            if items is not None and not (
                isinstance(items, list) and all(isinstance(i, str) for i in items)
            ):
                p.add(f"{name}.{part}.{lst}", "must be a list of strings")


def check_access_policy(
    p: Problems, body: Mapping[str, Any], allowed: tuple[str, ...] = ACCESS_POLICIES
) -> None:
    """accessPolicy is required; drm needs drmConfigurationId."""
    check_enum(p, body, "accessPolicy", allowed, required=True)
    if body.get("accessPolicy") == "drm" and not isinstance(body.get("drmConfigurationId"), str):
        p.add("drmConfigurationId", "is required when accessPolicy is drm")


def check_media_settings(p: Problems, body: Mapping[str, Any]) -> None:
    """Options shared by create-from-URL and pushMediaSettings of a direct upload."""
    check_access_policy(p, body)
    check_metadata(p, body)
    check_string(p, body, "title")
    check_string(p, body, "creatorId")
    check_enum(p, body, "maxResolution", MAX_RESOLUTIONS, required=False)
    check_enum(p, body, "mediaQuality", MEDIA_QUALITIES, required=False)
    check_enum(p, body, "mp4Support", MP4_SUPPORT[1:], required=False)
    check_bool(p, body, "sourceAccess")
    check_bool(p, body, "optimizeAudio")
    check_restrictions(p, body, "accessRestrictions")


def check_inputs(p: Problems, body: Mapping[str, Any], *, required: bool) -> None:
    """inputs[]: non-empty when required, each with a type; video items need a url."""
    inputs = body.get("inputs")
    if inputs is None:
        if required:
            p.add("inputs", "is required")
        return
    if not isinstance(inputs, list) or (required and not inputs):
        p.add("inputs", "must be a non-empty array")
        return
    videos = 0
    for i, item in enumerate(inputs):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            p.add(f"inputs[{i}].type", "is required")
            continue
        kind = item["type"]
        if kind == "video":
            videos += 1
        if kind == "audio":
            if not isinstance(item.get("swapTrackUrl") or item.get("url"), str):
                p.add(f"inputs[{i}].swapTrackUrl", "is required")
        elif not isinstance(item.get("url"), str) or not item["url"]:
            p.add(f"inputs[{i}].url", "is required")
    if required and videos == 0 and not p.fields:
        p.add("inputs", "must contain a video input")


@dataclass(frozen=True)
class Page:
    """Parsed pagination query: limit, 1-based page number and order."""

    limit: int
    offset: int
    order_by: str

    def apply(self, items: list[Any]) -> tuple[list[Any], dict[str, int]]:
        """Slice one page and build the pagination object."""
        ordered = items if self.order_by == "asc" else list(reversed(items))
        start = (self.offset - 1) * self.limit
        pagination = {
            "totalRecords": len(items),
            "currentOffset": self.offset,
            "offsetCount": math.ceil(len(items) / self.limit),
        }
        return ordered[start : start + self.limit], pagination


def parse_page(query: Mapping[str, str]) -> Page:
    """Validate limit (1-50, default 10), offset (>= 1, default 1) and orderBy."""
    p = Problems()
    values: dict[str, int] = {}
    for name, default, low, high in (("limit", 10, 1, 50), ("offset", 1, 1, None)):
        raw = query.get(name)
        if raw is None or raw == "":
            values[name] = default
            continue
        try:
            number = int(raw)
        except ValueError:
            p.add(name, "must be an integer")
            continue
        if number < low or (high is not None and number > high):
            bound = f"between {low} and {high}" if high else f"at least {low}"
            p.add(name, f"must be {bound}")
        values[name] = number
    order = query.get("orderBy") or "desc"
    if order not in ("asc", "desc"):
        p.add("orderBy", "must be asc or desc")
    p.raise_if_any()
    return Page(values["limit"], values["offset"], order)
