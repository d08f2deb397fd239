"""Live streams: create and control them through FastPix, mirror their state from webhooks.

A stream key lets anyone holding it broadcast as the site. It is stored encrypted, shown once
when the stream is made, and afterwards only through ``reveal_stream_key``: permission
checked, recorded on the row, in the admin's history and in the log (never the key itself).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import signals
from ..client import FastPixClient
from ..client import LiveStream as RemoteLiveStream
from ..conf import fastpix_settings
from ..exceptions import FastPixError, LiveStreamError, NotFoundError, WebhookNotApplicable
from ..fields import get_crypter
from ..models import LiveStream, LiveStreamStatus, Media, SimulcastTarget, WebhookEvent, Workspace
from . import api
from .undo import undone_in_fastpix_on_failure

logger = logging.getLogger(__name__)

LIVE_EVENT_PREFIX = "video.live_stream."
SIMULCAST_EVENT_PREFIX = "video.live_stream.simulcast_target."
REVEAL_PERMISSION = "django_fastpix.reveal_stream_key"
RESOLUTIONS = ("1080p", "720p", "480p")


def ingest_urls() -> dict[str, str]:
    """Where an encoder sends the stream (FastPix's API does not return these)."""
    return {
        "rtmps": str(fastpix_settings.LIVE_RTMPS_URL),
        "srt": str(fastpix_settings.LIVE_SRT_URL),
    }


def _hint(secret: str | None) -> str:
    return (secret or "")[-4:]


def _playback_ids(remote: RemoteLiveStream) -> list[dict[str, str]]:
    return [{"id": p.id, "accessPolicy": p.access_policy or "public"} for p in remote.playback_ids]


@sensitive_variables()
def create_live_stream(
    workspace: Workspace,
    *,
    title: str = "",
    access_policy: str = "public",
    reconnect_window: int = 60,
    enable_recording: bool = True,
    max_resolution: str | None = None,
    by: str = "",
) -> LiveStream:
    """Create a stream in FastPix and store it with its key encrypted."""
    if access_policy not in ("public", "private"):
        raise LiveStreamError("access_policy must be 'public' or 'private'.")
    if not 60 <= int(reconnect_window) <= 1800:
        raise LiveStreamError("reconnect_window must be between 60 and 1800 seconds.")
    if max_resolution is not None and max_resolution not in RESOLUTIONS:
        raise LiveStreamError(f"max_resolution must be one of {', '.join(RESOLUTIONS)}.")
    # Before FastPix is asked: a stream whose key we cannot store would be unusable.
    get_crypter()
    try:
        remote = api.call(
            workspace,
            FastPixClient.create_live_stream,
            access_policy=access_policy,
            reconnect_window=int(reconnect_window),
            enable_recording=enable_recording,
            max_resolution=max_resolution,
            media_policy=access_policy,
            metadata={"title": title[:255]} if title else None,
            idempotency_key=str(uuid.uuid4()),
        )
    except FastPixError as exc:
        raise LiveStreamError(f"FastPix did not create the live stream: {exc}") from exc
    if not remote.stream_key:
        raise LiveStreamError("FastPix created a live stream but returned no stream key.")
    values = {
        "title": title[:200],
        "stream_key": remote.stream_key,
        "stream_key_hint": _hint(remote.stream_key),
        "srt_secret": remote.srt_secret or "",
        "access_policy": access_policy,
        "reconnect_window": remote.reconnect_window or int(reconnect_window),
        "enable_recording": enable_recording,
        "max_resolution": remote.max_resolution or max_resolution or "",
        "playback_ids": _playback_ids(remote),
        "metadata": remote.metadata,
        "created_by": by[:150],
    }
    undo = FastPixClient.delete_live_stream
    with (
        undone_in_fastpix_on_failure(workspace, undo, remote.id, "Live stream"),
        transaction.atomic(),
    ):
        # A webhook may have stored a stand-in first: complete it rather than collide.
        stream, created = LiveStream.objects.select_for_update().get_or_create(
            workspace=workspace, fastpix_id=remote.id, defaults=values
        )
        if not created:
            for name, value in values.items():
                setattr(stream, name, value)
            stream.save()
        signals.send_after_commit(
            signals.live_stream_created, sender=LiveStream, live_stream=stream
        )
    logger.info("Created live stream %s in %s", stream.fastpix_id, workspace.slug)
    return stream


def _control(stream: LiveStream, method: Any, verb: str) -> None:
    if stream.status == LiveStreamStatus.DELETED:
        raise LiveStreamError(f"Live stream {stream.fastpix_id} is deleted.")
    try:
        api.call(stream.workspace, method, stream.fastpix_id)
    except FastPixError as exc:
        raise LiveStreamError(
            f"FastPix did not {verb} live stream {stream.fastpix_id}: {exc}"
        ) from exc


def enable_live_stream(stream: LiveStream, *, by: str = "") -> LiveStream:
    """Let the stream accept an encoder again (disabled → idle)."""
    _control(stream, FastPixClient.enable_live_stream, "enable")
    set_status(stream, LiveStreamStatus.IDLE)
    logger.info("Live stream %s enabled by %s", stream.fastpix_id, by or "-")
    return stream


def disable_live_stream(stream: LiveStream, *, by: str = "") -> LiveStream:
    """Refuse any encoder (ends a broadcast in progress)."""
    _control(stream, FastPixClient.disable_live_stream, "disable")
    set_status(stream, LiveStreamStatus.DISABLED)
    logger.info("Live stream %s disabled by %s", stream.fastpix_id, by or "-")
    return stream


def finish_live_stream(stream: LiveStream, *, by: str = "") -> LiveStream:
    """End the broadcast now (active → idle; the recording starts processing).

    FastPix decides whether the stream is live (it refuses otherwise): the local status may be
    behind a late webhook.
    """
    _control(stream, FastPixClient.finish_live_stream, "finish")
    set_status(stream, LiveStreamStatus.IDLE)
    logger.info("Live stream %s finished by %s", stream.fastpix_id, by or "-")
    return stream


def delete_live_stream(stream: LiveStream, *, by: str = "") -> LiveStream:
    """Delete the stream in FastPix (its key stops working); the row stays, marked deleted."""
    if stream.status != LiveStreamStatus.DELETED:
        try:
            api.call(stream.workspace, FastPixClient.delete_live_stream, stream.fastpix_id)
        except NotFoundError:
            pass  # already gone there
        except FastPixError as exc:
            raise LiveStreamError(
                f"FastPix did not delete live stream {stream.fastpix_id}: {exc}"
            ) from exc
        set_status(stream, LiveStreamStatus.DELETED)
    logger.info("Live stream %s deleted by %s", stream.fastpix_id, by or "-")
    return stream


def refresh_live_stream(stream: LiveStream) -> LiveStream:
    """Read the stream from FastPix and store its state and playback ids."""
    try:
        remote = api.call(stream.workspace, FastPixClient.get_live_stream, stream.fastpix_id)
    except NotFoundError:
        set_status(stream, LiveStreamStatus.DELETED)
        return stream
    except FastPixError as exc:
        raise LiveStreamError(f"Could not read live stream {stream.fastpix_id}: {exc}") from exc
    LiveStream.objects.filter(pk=stream.pk).update(
        playback_ids=_playback_ids(remote) or stream.playback_ids, updated_at=timezone.now()
    )
    status = LiveStreamStatus.from_fastpix(remote.status)
    if status is not None:
        set_status(stream, status)
    stream.refresh_from_db()
    return stream


def live_viewer_count(stream: LiveStream) -> int:
    """How many people are watching now (asks FastPix; not stored)."""
    try:
        return int(
            api.call(stream.workspace, FastPixClient.get_live_viewer_count, stream.fastpix_id)
        )
    except FastPixError as exc:
        raise LiveStreamError(f"Could not read the viewer count: {exc}") from exc


def set_status(stream: LiveStream, status: LiveStreamStatus, *, occurred_at: Any = None) -> bool:
    """Store a new state (deleted is final; an event older than the last applied is ignored)."""
    with transaction.atomic():
        locked = LiveStream.objects.select_for_update().get(pk=stream.pk)
        previous = locked.status
        if previous == LiveStreamStatus.DELETED:
            return False
        last = locked.last_event_at
        stale = occurred_at is not None and last is not None and occurred_at < last
        # Deletion is a fact, not a state: it applies whatever the clocks say.
        if stale and status != LiveStreamStatus.DELETED:
            return False
        changes: dict[str, Any] = {}
        if occurred_at is not None and not stale:
            changes["last_event_at"] = occurred_at
        if previous != status:
            changes.update(status=status, status_changed_at=timezone.now())
        if changes:
            LiveStream.objects.filter(pk=locked.pk).update(**changes, updated_at=timezone.now())
        stream.refresh_from_db()
        if previous != status:
            signals.send_after_commit(
                signals.live_stream_state_changed,
                sender=LiveStream,
                live_stream=stream,
                previous=previous,
                status=str(status),
            )
        return previous != status


@sensitive_variables()
def reveal_stream_key(stream: LiveStream, user: Any) -> str:
    """The stream key, for a user allowed to see it; every reveal is recorded.

    The reveal covers the SRT secret too (``stream.srt_secret_value()`` after this call): an
    encoder sending SRT needs both.
    """
    if (
        user is None
        or not getattr(user, "is_active", False)
        or not user.has_perm(REVEAL_PERMISSION)
    ):
        raise PermissionDenied("You may not reveal live stream keys.")
    key = stream.stream_key_value()
    by = str(user.get_username())[:150]
    now = timezone.now()
    with transaction.atomic():
        LiveStream.objects.filter(pk=stream.pk).update(key_revealed_at=now, key_revealed_by=by)
        _audit(stream, user, "Revealed the stream key and SRT secret.")
        signals.send_after_commit(
            signals.stream_key_revealed, sender=LiveStream, live_stream=stream, by=by
        )
    stream.key_revealed_at, stream.key_revealed_by = now, by
    logger.warning("Stream key of live stream %s revealed to %s", stream.fastpix_id, by)
    return key


def _audit(stream: LiveStream, user: Any, message: str) -> None:
    """A row in the admin's history of the stream (when the admin is installed)."""
    if not apps.is_installed("django.contrib.admin"):
        return
    from django.contrib.admin.models import CHANGE, LogEntry

    LogEntry.objects.create(
        user_id=user.pk,
        content_type_id=ContentType.objects.get_for_model(LiveStream).pk,
        object_id=str(stream.pk),
        object_repr=str(stream)[:200],
        action_flag=CHANGE,
        change_message=message,
    )


# --- simulcast targets ---


@sensitive_variables()
def add_simulcast_target(
    stream: LiveStream, *, url: str, stream_key: str, by: str = ""
) -> SimulcastTarget:
    """Restream ``stream`` to ``url`` (FastPix allows it while the stream is idle)."""
    if not url.startswith(("rtmp://", "rtmps://")):
        raise LiveStreamError("A simulcast URL starts with rtmp:// or rtmps://.")
    if not stream_key.strip():
        raise LiveStreamError("A simulcast target needs the platform's stream key.")
    get_crypter()
    try:
        remote = api.call(
            stream.workspace,
            FastPixClient.create_simulcast,
            stream.fastpix_id,
            url=url,
            stream_key=stream_key.strip(),
            idempotency_key=str(uuid.uuid4()),
        )
    except FastPixError as exc:
        raise LiveStreamError(f"FastPix did not add the simulcast target: {exc}") from exc
    target = SimulcastTarget.objects.create(
        live_stream=stream,
        fastpix_id=remote.id,
        url=remote.url or url,
        stream_key=stream_key.strip(),
        stream_key_hint=_hint(stream_key.strip()),
        is_enabled=remote.is_enabled if remote.is_enabled is not None else True,
        metadata=remote.metadata,
    )
    logger.info("Simulcast target %s added to %s by %s", target.fastpix_id, stream.fastpix_id, by)
    return target


def set_simulcast_enabled(target: SimulcastTarget, enabled: bool) -> SimulcastTarget:
    """Pause or resume restreaming to one target."""
    stream = target.live_stream
    try:
        api.call(
            stream.workspace,
            FastPixClient.update_simulcast,
            stream.fastpix_id,
            target.fastpix_id,
            is_enabled=enabled,
        )
    except FastPixError as exc:
        raise LiveStreamError(f"FastPix did not update the simulcast target: {exc}") from exc
    SimulcastTarget.objects.filter(pk=target.pk).update(is_enabled=enabled)
    target.is_enabled = enabled
    return target


def remove_simulcast_target(target: SimulcastTarget) -> None:
    """Stop restreaming to a target and forget it (its key goes with the row)."""
    stream = target.live_stream
    try:
        api.call(
            stream.workspace, FastPixClient.delete_simulcast, stream.fastpix_id, target.fastpix_id
        )
    except NotFoundError:
        pass
    except FastPixError as exc:
        raise LiveStreamError(f"FastPix did not remove the simulcast target: {exc}") from exc
    target.delete()


# --- webhooks ---


def link_recording(media: Media, stream_id: str) -> None:
    """Mark ``media`` as a recording of stream ``stream_id`` (a stand-in if not stored yet)."""
    if len(stream_id) > 64:
        return
    stream = _stream_for_event(media.workspace, stream_id)
    Media.objects.filter(pk=media.pk, live_stream__isnull=True).update(live_stream=stream)
    media.live_stream = stream


def apply_live_event(event: WebhookEvent) -> bool:
    """Apply a ``video.live_stream.*`` event (inside the caller's transaction)."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    member = payload.get("data")
    data: dict[str, Any] = member if isinstance(member, dict) else {}
    if event.type.startswith(SIMULCAST_EVENT_PREFIX):
        return _apply_simulcast_event(event, data)
    stream_id = str(data.get("streamId") or event.object_id or "")
    if not stream_id or len(stream_id) > 64:
        raise WebhookNotApplicable("Live stream event without a usable stream id.")
    stream = _stream_for_event(event.workspace, stream_id)
    kind = event.type.removeprefix(LIVE_EVENT_PREFIX)
    if kind == "recording":
        status: LiveStreamStatus | None = LiveStreamStatus.ACTIVE
    elif kind == "updated":
        status = LiveStreamStatus.from_fastpix(data.get("status"))
    else:
        status = LiveStreamStatus.from_fastpix(kind) or LiveStreamStatus.from_fastpix(
            data.get("status")
        )
    recordings = data.get("mediaIds")
    if isinstance(recordings, list) and recordings:
        # Recordings whose own events came before any event of this stream.
        Media.objects.filter(
            workspace=event.workspace,
            fastpix_id__in=[str(m) for m in recordings if m],
            live_stream__isnull=True,
        ).update(live_stream=stream)
    playback = data.get("playbackIds")
    if isinstance(playback, list) and playback:
        remote = RemoteLiveStream.from_api({"streamId": stream_id, "playbackIds": playback})
        LiveStream.objects.filter(pk=stream.pk).update(playback_ids=_playback_ids(remote))
    if status is None:
        return True
    set_status(stream, status, occurred_at=event.occurred_at or event.received_at)
    return True


def _stream_for_event(workspace: Workspace, stream_id: str) -> LiveStream:
    """The local stream, or a stand-in for one made elsewhere (or not stored yet).

    A stand-in has no key: stored events carry none (see ``services.webhooks.scrub_secrets``).
    The request creating the stream completes it; one made in the dashboard keeps its key
    there.
    """
    stream = LiveStream.objects.filter(workspace=workspace, fastpix_id=stream_id).first()
    if stream is not None:
        return stream
    try:
        with transaction.atomic():
            return LiveStream.objects.create(
                workspace=workspace, fastpix_id=stream_id, stream_key="", created_by="webhook"
            )
    except IntegrityError:
        return LiveStream.objects.get(workspace=workspace, fastpix_id=stream_id)


def _apply_simulcast_event(event: WebhookEvent, data: dict[str, Any]) -> bool:
    # The target is the data itself, or nested in the stream's data as ``simulcastTarget``.
    nested = data.get("simulcastTarget")
    target_data: dict[str, Any] = nested if isinstance(nested, dict) else data
    simulcast_id = str(target_data.get("simulcastId") or data.get("simulcastId") or "")
    if not simulcast_id:
        return False
    target = SimulcastTarget.objects.filter(
        live_stream__workspace=event.workspace, fastpix_id=simulcast_id
    ).first()
    if target is None:
        return False
    state = event.type.removeprefix(SIMULCAST_EVENT_PREFIX)
    SimulcastTarget.objects.filter(pk=target.pk).update(status=state[:30])
    return True
