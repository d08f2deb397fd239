"""Operator actions behind the management commands: start and watch media, stored pairs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.views.decorators.debug import sensitive_variables

from ..fields import UndecryptableValue
from ..models import AccessToken, Media, MediaStatus, Workspace
from .media import attempt_creation, refresh_media

FINAL_STATUSES = frozenset({MediaStatus.READY, MediaStatus.FAILED, MediaStatus.DELETED})


# --- media ---


def start_media(
    workspace: Workspace, url: str, *, title: str = "", access_policy: str = "public"
) -> Media:
    """Store a pending media for ``url`` and create it in FastPix now, not through the queue.

    A transient failure is not raised: the row stays pending with the reason in ``error`` and
    its next attempt scheduled, so the caller can always name the row.
    """
    media = Media.objects.create(
        workspace=workspace, source_url=url.strip(), title=title, access_policy=access_policy
    )
    attempt_creation(media.pk)
    media.refresh_from_db()
    return media


def wait_for_media(
    media: Media,
    *,
    timeout: float,
    interval: float,
    on_poll: Callable[[Media], None] | None = None,
) -> Media:
    """Refresh ``media`` from FastPix until it is ready, failed or deleted, or ``timeout`` ends."""
    deadline = time.monotonic() + timeout
    while media.fastpix_id and media.status not in FINAL_STATUSES:
        media = refresh_media(media)
        if on_poll is not None:
            on_poll(media)
        if media.status in FINAL_STATUSES or time.monotonic() + interval > deadline:
            break
        time.sleep(interval)
    return media


# --- the fake server, fed from this site's tokens ---


@dataclass(frozen=True)
class StoredPair:
    """A decrypted token of this site, for registering with a local fake FastPix."""

    workspace: str
    label: str
    scope: str
    token_id: str = field(repr=False)
    secret_key: str = field(repr=False)


@sensitive_variables()
def stored_token_pairs() -> tuple[list[StoredPair], list[str]]:
    """Every active token, decrypted, by workspace slug; and labels of those that won't decrypt."""
    pairs: list[StoredPair] = []
    undecryptable: list[str] = []
    tokens = AccessToken.objects.active().select_related("workspace").order_by("pk")
    for token in tokens:
        label = f"#{token.pk} {token}"
        if isinstance(token.token_id, UndecryptableValue) or isinstance(
            token.secret_key, UndecryptableValue
        ):
            undecryptable.append(label)
            continue
        credentials = token.credentials()
        pairs.append(
            StoredPair(
                workspace=token.workspace.slug,
                label=label,
                scope=str(token.scope),
                token_id=credentials.token_id,
                secret_key=credentials.secret_key,
            )
        )
    return pairs, undecryptable
