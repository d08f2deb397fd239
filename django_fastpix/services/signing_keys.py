"""Playback signing keys: create through FastPix, rotate with an overlap, revoke, retire.

A key signs new tokens while it is ``active``. A rotation makes a new active key and turns
the old ones ``retiring`` until every token they signed has expired (the longest token
lifetime from now), then deletes them in FastPix. A revoke is for a leak: the key signs
nothing from that moment and is deleted in FastPix at once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import signals
from ..client import FastPixClient
from ..conf import fastpix_settings
from ..exceptions import FastPixError, NotFoundError, SigningKeyError
from ..fields import get_crypter
from ..models import SigningKey, SigningKeyStatus, Workspace
from . import api
from .undo import undone_in_fastpix_on_failure

logger = logging.getLogger(__name__)

# A token must stay valid a little past its exp for clocks that run behind FastPix's.
CLOCK_SKEW = timedelta(seconds=60)
# The bounds any configured token lifetime is clamped to.
MIN_TOKEN_LIFETIME = 60
MAX_TOKEN_LIFETIME = 24 * 3600


def token_lifetime(requested: int | float | None = None) -> int:
    """Seconds a playback token lives: ``requested`` or the setting, clamped to 60 s .. 24 h.

    The setting is also the ceiling of ``requested``: a rotation keeps old keys in FastPix for
    that long, so no token may outlive it.
    """
    ceiling = _seconds(fastpix_settings.PLAYBACK_TOKEN_LIFETIME)
    seconds = ceiling if requested is None else min(_seconds(requested), ceiling)
    return max(MIN_TOKEN_LIFETIME, min(MAX_TOKEN_LIFETIME, seconds))


def _seconds(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return MIN_TOKEN_LIFETIME


# A first private page during a FastPix outage must not make every later page wait for the same
# failing call: a failed on-demand creation is not retried for this long (per workspace).
CREATION_FAILURE_PAUSE = 60


def signing_key_for(workspace: Workspace, *, create: bool | None = None) -> SigningKey:
    """The key that signs the workspace's new tokens; made through FastPix on first need.

    ``create`` defaults to ``FASTPIX["CREATE_SIGNING_KEY_ON_DEMAND"]``. Concurrent first
    requests make one key: the workspace row is locked while the key is created.
    """
    key = SigningKey.objects.signing(workspace).first()
    if key is not None:
        return key
    if not (fastpix_settings.CREATE_SIGNING_KEY_ON_DEMAND if create is None else create):
        raise SigningKeyError(
            f"Workspace {workspace.slug!r} has no active playback signing key: create one with "
            f"`manage.py fastpix_signing_keys create --workspace {workspace.slug}`."
        )
    paused = _creation_paused_key(workspace)
    if cache.get(paused):
        raise SigningKeyError(
            f"Creating a signing key for workspace {workspace.slug!r} failed less than "
            f"{CREATION_FAILURE_PAUSE} s ago; not retried yet (see the earlier error)."
        )
    try:
        with transaction.atomic():
            Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
            key = SigningKey.objects.signing(workspace).first()
            if key is None:
                key = create_signing_key(workspace, by="system:on-demand")
    except SigningKeyError:
        cache.set(paused, True, CREATION_FAILURE_PAUSE)
        raise
    return key


def _creation_paused_key(workspace: Workspace) -> str:
    return f"django_fastpix:signing-key-creation-failed:{workspace.pk}"


@sensitive_variables()
def create_signing_key(workspace: Workspace, *, by: str = "") -> SigningKey:
    """Ask FastPix for a new key of ``workspace`` and store it (encrypted) as the active key.

    Needs a token granted the system permission. Other active keys stay active: use
    ``rotate_signing_key`` to replace them.
    """
    # Before FastPix is asked: a key it made that cannot be stored would be orphaned there.
    get_crypter()
    try:
        remote = api.call(
            workspace, FastPixClient.create_signing_key, idempotency_key=str(uuid.uuid4())
        )
    except FastPixError as exc:
        raise SigningKeyError(
            f"FastPix did not create a signing key for workspace {workspace.slug!r}: {exc}"
        ) from exc
    if not remote.private_key_pem:
        raise SigningKeyError("FastPix created a signing key but returned no private key.")
    undo = FastPixClient.delete_signing_key
    with (
        undone_in_fastpix_on_failure(workspace, undo, remote.id, "Signing key"),
        transaction.atomic(),
    ):
        key = SigningKey.objects.create(
            workspace=workspace,
            fastpix_id=remote.id,
            private_key=remote.private_key_pem,
            created_by=by,
        )
    cache.delete(_creation_paused_key(workspace))
    logger.info("Created playback signing key %s for %s", key.fastpix_id, workspace.slug)
    signals.send_after_commit(signals.signing_key_created, sender=SigningKey, signing_key=key)
    return key


def rotate_signing_key(workspace: Workspace, *, by: str = "") -> SigningKey:
    """A new active key; the old ones retire once every token they signed has expired."""
    new_key = create_signing_key(workspace, by=by)
    now = timezone.now()
    overlap_until = now + timedelta(seconds=token_lifetime()) + CLOCK_SKEW
    with transaction.atomic():
        # One rotation at a time per workspace, and only keys older than this one retire: two
        # concurrent rotations must not retire each other's new key.
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        retired = SigningKey.objects.select_for_update().filter(
            workspace=workspace, status=SigningKeyStatus.ACTIVE, pk__lt=new_key.pk
        )
        old = list(retired)
        for key in old:
            key.status = SigningKeyStatus.RETIRING
            key.expires_at = overlap_until
            key.status_changed_at = now
            key.status_changed_by = by
            key.status_reason = f"Replaced by {new_key.fastpix_id}."
            key.save(
                update_fields=[
                    "status",
                    "expires_at",
                    "status_changed_at",
                    "status_changed_by",
                    "status_reason",
                ]
            )
    logger.info(
        "Rotated the playback signing key of %s: %s signs now, %d retiring until %s",
        workspace.slug,
        new_key.fastpix_id,
        len(old),
        overlap_until.isoformat(),
    )
    signals.send_after_commit(
        signals.signing_key_rotated, sender=SigningKey, signing_key=new_key, retiring=old
    )
    return new_key


def revoke_signing_key(key: SigningKey, *, by: str = "", reason: str = "") -> SigningKey:
    """Withdraw ``key`` at once: it signs nothing from now on and is deleted in FastPix.

    The local status changes first and commits whatever FastPix answers, so a leak stops
    being usable by this site even when FastPix cannot be reached; the remote delete is then
    retried by ``delete_pending_keys`` (``fastpix_signing_keys prune``) until it succeeds.
    """
    with transaction.atomic():
        locked = SigningKey.objects.select_for_update().get(pk=key.pk)
        if locked.status != SigningKeyStatus.REVOKED:
            locked.status = SigningKeyStatus.REVOKED
            locked.status_changed_at = timezone.now()
            locked.status_changed_by = by
            locked.status_reason = reason or "Revoked."
            locked.save(
                update_fields=["status", "status_changed_at", "status_changed_by", "status_reason"]
            )
            signals.send_after_commit(
                signals.signing_key_revoked, sender=SigningKey, signing_key=locked, reason=reason
            )
    logger.warning(
        "Revoked playback signing key %s of workspace #%s", locked.fastpix_id, locked.workspace_id
    )
    delete_in_fastpix(locked)
    return locked


def delete_in_fastpix(key: SigningKey) -> bool:
    """Delete ``key`` in FastPix (gone already counts); False, logged, if FastPix failed."""
    try:
        api.call(key.workspace, FastPixClient.delete_signing_key, key.fastpix_id)
    except NotFoundError:
        pass
    except FastPixError as exc:
        logger.warning(
            "Could not delete signing key %s in FastPix (%s); `fastpix_signing_keys prune` "
            "retries it.",
            key.fastpix_id,
            exc,
        )
        return False
    now = timezone.now()
    SigningKey.objects.filter(pk=key.pk).update(deleted_in_fastpix_at=now)
    key.deleted_in_fastpix_at = now
    return True


def delete_pending_keys() -> tuple[int, int]:
    """Delete in FastPix every revoked key not yet deleted and every retiring key past its
    overlap (which then becomes ``retired``). Idempotent; returns (deleted, failed)."""
    now = timezone.now()
    deleted = failed = 0
    due = SigningKey.objects.awaiting_deletion().select_related("workspace")
    for key in due:
        if key.status == SigningKeyStatus.RETIRING and (key.expires_at or now) > now:
            continue
        if delete_in_fastpix(key):
            deleted += 1
            if key.status == SigningKeyStatus.RETIRING:
                SigningKey.objects.filter(pk=key.pk, status=SigningKeyStatus.RETIRING).update(
                    status=SigningKeyStatus.RETIRED, status_changed_at=now
                )
        else:
            failed += 1
    return deleted, failed
