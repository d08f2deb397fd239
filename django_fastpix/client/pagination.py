"""Iterate FastPix list endpoints page by page (``offset`` is a 1-based page number)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

from .types import Page

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_PAGE_SIZE = 50

Fetch = Callable[[int, int], Page[T]]
"""``fetch(limit, offset)`` returning one page."""


def _ids(page: Page[T]) -> list[object]:
    return [getattr(item, "id", item) for item in page.items]


def iter_pages(
    fetch: Fetch[T], page_size: int = MAX_PAGE_SIZE, start: int = 1
) -> Iterator[Page[T]]:
    """Yield each non-empty page from ``start`` until FastPix reports no further page."""
    page_size = max(1, min(MAX_PAGE_SIZE, int(page_size)))
    offset = max(1, int(start))
    previous: list[object] | None = None
    while True:
        page = fetch(page_size, offset)
        if not page.items:
            return
        ids = _ids(page)
        # A server that ignores ``offset`` would otherwise loop forever on the same page.
        if ids == previous:
            logger.warning("FastPix returned the same page for offset %d; stopping.", offset)
            return
        previous = ids
        yield page
        if not page.has_next:
            return
        offset = max(offset, page.offset) + 1


def iter_items(pages: Iterator[Page[T]]) -> Iterator[T]:
    """Yield the items of ``pages`` once each, even if a new item shifted a later page."""
    # Offset paging over a list that grows while we read repeats items across pages.
    seen: set[object] = set()
    for page in pages:
        for item in page.items:
            key = getattr(item, "id", None)
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            yield item
