"""Resources FastPix created that the site could not store: undone in FastPix, not left behind."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from ..client import FastPixClient
from ..exceptions import FastPixError
from ..models import Workspace
from . import api

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def undone_in_fastpix_on_failure(
    workspace: Workspace,
    undo: Callable[[FastPixClient, str], Any],
    remote_id: str,
    what: str,
) -> Iterator[None]:
    """Store what FastPix just created inside this block; if storing raises, ``undo`` it there.

    A resource FastPix holds that no row tracks is never listed, shown, swept or deleted (and
    may be billed), so the failure is re-raised only after asking FastPix to undo it. If that
    fails too, the leftover is logged by its id, for an operator.
    """
    try:
        yield
    except Exception:
        try:
            api.call(workspace, undo, remote_id)
        except FastPixError as exc:
            logger.error("%s %s was created in FastPix but not stored: %s", what, remote_id, exc)
        raise
