"""FastPix webhooks: verify, store every delivery by event id, apply media events forward-only."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import math
import traceback
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from functools import partial
from typing import Any

from django.db import IntegrityError, connections, router, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.debug import sensitive_variables

from .. import jobs, signals
from ..client import Media as RemoteMedia
from ..conf import fastpix_settings
from ..exceptions import InvalidResponseError, WebhookNotApplicable
from ..fields import UndecryptableValue
from ..models import (
    DONE_OUTCOMES,
    Media,
    MediaStatus,
    Upload,
    UploadStatus,
    WebhookEvent,
    WebhookOutcome,
    Workspace,
)
from ..webhook_handlers import handlers_for
from . import statements, webhook_workspaces
from .live import LIVE_EVENT_PREFIX, apply_live_event, link_recording
from .media import (
    FASTPIX_ID_WIDTH,
    apply_remote_state,
    link_remote,
    lock_linked_media,
    mark_deleted,
    parse_reference,
    reference_key,
)
from .uploads import apply_upload_media, finish_upload

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "FastPix-Signature"

# Event type → the status it reports (None: take data.status). Unlisted media events only
# refresh fields; unlisted non-media events are stored and ignored.
MEDIA_EVENTS: dict[str, str | None] = {
    "video.media.created": "created",
    "video.media.upload": None,
    "video.upload.media_created": "created",
    "video.media.ready": "ready",
    "video.media.failed": "failed",
    "video.media.updated": None,
    "video.media.deleted": "deleted",
    "video.media.upload.cancelled": None,
}


@dataclass(frozen=True)
class Delivery:
    """What the view should answer, and the event stored (if any)."""

    status: int
    detail: str
    event: WebhookEvent | None = None


@sensitive_variables()
def signature(secret_b64: str, body: bytes) -> str:
    """FastPix's signature: base64(HMAC-SHA256(key=base64decode(secret), msg=raw body))."""
    key = base64.b64decode(secret_b64, validate=False)
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode("ascii")


@sensitive_variables()
def accepted_secrets(workspace: Workspace) -> list[str]:
    """The current webhook secret, and the previous one while its rotation window is open."""
    candidates = [workspace.webhook_secret]
    window = timedelta(seconds=float(fastpix_settings.WEBHOOK_PREVIOUS_SECRET_WINDOW))
    rotated = workspace.webhook_secret_rotated_at
    if rotated and timezone.now() - rotated <= window:
        candidates.append(workspace.previous_webhook_secret)
    secrets = []
    for value in candidates:
        if isinstance(value, UndecryptableValue):
            # A secret lost to a wrong key verifies nothing; the others still may.
            logger.warning("A webhook secret of %s cannot be decrypted; skipped.", workspace.slug)
        elif value:
            secrets.append(str(value))
    return secrets


@sensitive_variables()
def signature_valid(workspace: Workspace, body: bytes, given: str | None) -> bool:
    """Whether ``given`` signs ``body`` under an accepted secret (constant-time compare)."""
    if not given:
        return False
    valid = False
    for secret in accepted_secrets(workspace):
        try:
            expected = signature(secret, body)
        except (binascii.Error, ValueError):
            continue
        # Every secret is compared, so timing reveals nothing about which one matched.
        valid |= hmac.compare_digest(expected.encode(), given.strip().encode())
    return valid


@sensitive_variables()
def rotate_webhook_secret(workspace: Workspace, new_secret: str) -> None:
    """Set a new secret; the old one stays valid for WEBHOOK_PREVIOUS_SECRET_WINDOW seconds."""
    new_secret = new_secret.strip()
    try:
        base64.b64decode(new_secret, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("A FastPix webhook secret is base64 text.") from None
    with transaction.atomic():
        current = workspace.webhook_secret
        # An undecryptable current secret (wrong key) is replaced, not compared: setting a new
        # secret is the way out of that state.
        if current and (isinstance(current, UndecryptableValue) or str(current) != new_secret):
            workspace.previous_webhook_secret = workspace.webhook_secret
            workspace.webhook_secret_rotated_at = timezone.now()
        workspace.webhook_secret = new_secret
        workspace.save(
            update_fields=[
                "webhook_secret",
                "previous_webhook_secret",
                "webhook_secret_rotated_at",
                "updated_at",
            ]
        )


def is_probe(body: bytes) -> bool:
    """FastPix's unsigned registration probe: an empty body or ``{}``."""
    stripped = body.strip()
    return stripped in (b"", b"{}")


def receive_at(slug: str, body: bytes, given_signature: str | None) -> Delivery | None:
    """``receive`` for the workspace named ``slug`` (None: there is none); the view's entry.

    The workspace row comes from this process's memory when it was read in the last few
    seconds (``webhook_workspaces``), so a delivery usually costs no read of it. A signature
    the remembered secrets refuse is checked again against a fresh read: a secret set or
    rotated in another process counts at once.
    """
    read = _read(body)
    event_id = read.envelope.event_id if read.envelope is not None else None
    found = webhook_workspaces.workspace_at(slug, event_id)
    if found.workspace is None:
        return None
    try:
        delivery = receive(
            found.workspace, body, given_signature, read=read, already_done=found.event_done
        )
        if found.remembered and delivery.status == 401:
            found = webhook_workspaces.workspace_at(slug, event_id, fresh=True)
            if found.workspace is None:
                return None
            delivery = receive(
                found.workspace, body, given_signature, read=read, already_done=found.event_done
            )
    except Exception:
        webhook_workspaces.forget()  # a workspace deleted elsewhere, say: read it again next
        raise
    if delivery.status >= 500:
        webhook_workspaces.forget()
    return delivery


def receive(
    workspace: Workspace,
    body: bytes,
    given_signature: str | None,
    *,
    read: Read | None = None,
    already_done: bool | None = None,
) -> Delivery:
    """Verify, store and process one delivery; the answer tells FastPix whether to retry.

    ``read``: ``_read(body)``, if the caller did that already. ``already_done``: the caller
    read that this event is stored and done (``receive_at``; None: it does not know). A
    redelivery is otherwise found by the INSERT of its event, which then inserts nothing.
    """
    if len(body) > int(fastpix_settings.WEBHOOK_MAX_BODY_BYTES):
        return Delivery(413, "Body too large.")
    if is_probe(body):
        return Delivery(200, "Probe acknowledged.")
    if not workspace.webhook_secret:
        return Delivery(401, "No webhook secret is configured for this workspace.")
    if not signature_valid(workspace, body, given_signature):
        return Delivery(401, "Invalid or missing FastPix-Signature.")
    # Only now is the body authentic: what was read from it before decided nothing.
    read = read or _read(body)
    if read.problem is not None:
        return read.problem
    assert read.envelope is not None
    envelope, payload = read.envelope, read.payload
    if already_done:
        return _redelivered(workspace, envelope)
    return _ingest(workspace, envelope, scrub_secrets(payload, envelope.type))


@dataclass(frozen=True)
class Read:
    """A body read as an event: the payload and its envelope, or the 400 that refuses it."""

    problem: Delivery | None
    payload: Any = None
    envelope: Envelope | None = None


def _read(body: bytes) -> Read:
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        return Read(Delivery(400, "Body is not JSON."))
    except RecursionError:
        return Read(Delivery(400, f"Body nests deeper than {MAX_DEPTH} levels."))
    if not _storable(payload):
        return Read(
            Delivery(
                400,
                f"Body holds values no database can store (NUL, lone surrogates, infinite "
                f"numbers, nesting deeper than {MAX_DEPTH}).",
            )
        )
    parsed = parse_envelope(payload)
    if isinstance(parsed, str):
        return Read(Delivery(400, parsed))
    return Read(None, payload, parsed)


def _ingest(workspace: Workspace, envelope: Envelope, payload: dict[str, Any]) -> Delivery:
    """Store a new delivery and apply it in ONE transaction.

    The row is inserted first, stating the outcome the processing is expected to reach (the
    rest of the transaction makes it true or changes it), so that a concurrent copy of the
    delivery waits on its unique key and then finds it done. If processing fails, the whole
    transaction is undone and the delivery is stored again, failed, with the traceback: either
    way the delivery is recorded, and no one ever sees its row ahead of its effects.
    """
    expected = _expected(envelope.type)
    if expected == WebhookOutcome.PROCESSED and fastpix_settings.WEBHOOK_PROCESSING == "queued":
        return _store_for_worker(workspace, envelope, payload)
    stored: WebhookEvent | None = None
    try:
        with transaction.atomic():
            stored = store_event(workspace, envelope, payload, outcome=expected)
            if stored is not None and stored.outcome == WebhookOutcome.PROCESSED:
                _process_locked(stored)
    except Exception as exc:
        if stored is None:
            if isinstance(exc, IntegrityError):
                return _redelivered(workspace, envelope, exc)
            raise
        return _record_failure(workspace, envelope, payload, exc)
    if stored is None:
        return _redelivered(workspace, envelope)
    return Delivery(200, "Processed.", stored)


def _store_for_worker(
    workspace: Workspace, envelope: Envelope, payload: dict[str, Any]
) -> Delivery:
    """Queued processing: store the delivery as pending, answer, and let a worker apply it.

    One INSERT, in autocommit when the site's request has no transaction (no BEGIN and COMMIT
    round trips), in a savepoint when it has one (on other vendors a duplicate's INSERT fails,
    which must not break the site's transaction). The worker is handed the event once the row
    is committed.
    """
    try:
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                stored = store_event(workspace, envelope, payload)
        else:
            stored = store_event(workspace, envelope, payload)
    except IntegrityError as exc:
        return _redelivered(workspace, envelope, exc)
    if stored is None:
        return _redelivered(workspace, envelope)
    transaction.on_commit(partial(_hand_to_worker, stored))
    return Delivery(200, "Stored; queued for processing.", stored)


def _hand_to_worker(event: WebhookEvent) -> None:
    """Queue the processing of a stored event; if the queue refuses, apply it here and now."""
    try:
        jobs.enqueue("process_webhook_event", event.pk)
    except Exception:
        logger.exception(
            "Could not queue FastPix event %s (%s); applying it in this request instead",
            event.event_id,
            event.type,
        )
        process_event(event)


def _expected(event_type: str) -> str:
    """The outcome a delivery of ``event_type`` reaches unless processing says otherwise."""
    if (
        event_type in MEDIA_EVENTS
        or event_type.startswith(LIVE_EVENT_PREFIX)
        or handlers_for(event_type)
    ):
        return WebhookOutcome.PROCESSED
    return WebhookOutcome.IGNORED


def _redelivered(
    workspace: Workspace, envelope: Envelope, error: IntegrityError | None = None
) -> Delivery:
    """A delivery whose event is stored already: count it; process it if not done yet.

    ``error``: the ORM's INSERT failed with it (other vendors), maybe for another reason.
    """
    event = _count_redelivery(workspace, envelope)
    if event is None:
        if error is not None:
            raise error  # not a duplicate: some other constraint; a real failure
        # Stored a moment ago and deleted since (by an operator, with its workspace?).
        return Delivery(500, "The event could not be stored; deliver it again.")
    if event.outcome in DONE_OUTCOMES:
        return Delivery(200, "Duplicate delivery; already processed.", event)
    if not process_event(event):
        # Non-2xx: FastPix delivers again, and the stored failure is retried then.
        return Delivery(500, "Processing failed; recorded for retry.", event)
    return Delivery(200, "Processed.", event)


def _count_redelivery(workspace: Workspace, envelope: Envelope) -> WebhookEvent | None:
    """Count one more delivery of a stored event and return its row (None: not stored)."""
    using = router.db_for_write(WebhookEvent)
    connection = connections[using]
    if not statements.statements_usable(connection):
        existing = WebhookEvent.objects.filter(workspace=workspace, event_id=envelope.event_id)
        existing.update(deliveries=F("deliveries") + 1)
        return existing.first()

    def write() -> str:
        events = statements.table(connection, WebhookEvent)
        column = partial(statements.field_column, connection, WebhookEvent)
        return (
            f"UPDATE {events} SET {column('deliveries')} = {column('deliveries')} + 1 "  # noqa: S608
            f"WHERE {column('workspace')} = %s AND {column('event_id')} = %s "
            f"RETURNING {statements.columns_of(connection, WebhookEvent)}"
        )

    sql = statements.written_once(("count-redelivery", connection.vendor), write)
    found = statements.rows(WebhookEvent, using, sql, [workspace.pk, envelope.event_id])
    return found[0] if found else None


def _record_failure(
    workspace: Workspace, envelope: Envelope, payload: dict[str, Any], exc: Exception
) -> Delivery:
    """Store a delivery whose processing failed (rolled back), with the reason; answer 500."""
    logger.exception("Processing FastPix event %s (%s) failed", envelope.event_id, envelope.type)
    failure = {
        "outcome": WebhookOutcome.FAILED,
        "error": f"{type(exc).__name__}: {exc}"[:2000],
        "traceback": traceback.format_exc()[-20000:],
        "processed_at": timezone.now(),
    }
    event: WebhookEvent | None = None
    try:
        with transaction.atomic():
            event = store_event(workspace, envelope, payload, **failure)
    except IntegrityError:
        # The ORM's INSERT on other vendors (stored already: as below), or the commit's check
        # of a foreign key (the workspace was deleted meanwhile: nothing can be stored).
        event = None
    if event is None:
        # Stored meanwhile by a concurrent copy (whose outcome stands if it got through) or by
        # an earlier delivery that failed too.
        existing = WebhookEvent.objects.filter(workspace=workspace, event_id=envelope.event_id)
        existing.update(deliveries=F("deliveries") + 1)
        existing.exclude(outcome__in=DONE_OUTCOMES).update(**failure)
        event = existing.first()
    # Non-2xx: FastPix delivers again, and the stored failure is retried then.
    return Delivery(500, "Processing failed; recorded for retry.", event)


# Credentials FastPix puts in event data (a live stream's keys, a simulcast target's key): an
# event is stored and shown in the admin, so they are blanked before it is stored.
SECRET_KEYS = frozenset({"streamKey", "srtSecret", "srtPlaybackSecret"})
REDACTED = "[redacted]"


def scrub_secrets(payload: Any, event_type: str = "") -> Any:
    """``payload`` with every credential replaced by ``[redacted]`` (a copy; nested too).

    An upload event's ``url`` is the signed upload URL, a capability while the upload waits.
    """
    hidden = SECRET_KEYS | {"url"} if event_type.startswith("video.media.upload") else SECRET_KEYS
    return _scrubbed(payload, hidden)


def _scrubbed(value: Any, hidden: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {
            k: (REDACTED if k in hidden and value[k] else _scrubbed(v, hidden))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrubbed(v, hidden) for v in value]
    return value


@dataclass(frozen=True)
class Envelope:
    event_id: str
    type: str
    object_type: str
    object_id: str
    occurred_at: datetime | None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# No FastPix event nests anywhere near this deep; deeper bodies are refused, not stored.
MAX_DEPTH = 100


def _storable(value: Any, depth: int = 0) -> bool:
    """Whether a JSON column can hold ``value``: no NUL, no lone surrogate, finite numbers."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, str):
        return "\x00" not in value and _encodable(value)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_storable(k, depth + 1) and _storable(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(v, depth + 1) for v in value)
    return True


def _encodable(text: str) -> bool:
    # json.loads turns "\ud800" into a lone surrogate, which no database encoding accepts.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _event_id(value: str) -> str:
    """The stored event id: whole up to the column's width, else a prefix and a digest.

    A plain cut would make two long ids sharing a prefix look like one (a duplicate).
    """
    if len(value) <= 255:
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()
    return f"{value[:190]}~{digest}"


def parse_envelope(payload: Any) -> Envelope | str:
    """The envelope's keys, read leniently (id/eventId, type/event); an error text if unusable."""
    if not isinstance(payload, dict):
        return "Body is not a JSON object."
    event_id = payload.get("id") or payload.get("eventId") or payload.get("webhookId")
    event_type = payload.get("type") or payload.get("event")
    if not isinstance(event_id, (str, int)) or not str(event_id).strip():
        return "Event has no id."
    if not isinstance(event_type, str) or not event_type.strip():
        return "Event has no type."
    obj = _member(payload, "object")
    object_id = whole_object_id(payload)[:255]
    occurred_at = _occurred_at(payload)
    if event_type in MEDIA_EVENTS and not object_id.strip():
        return "Media event without a media id."
    return Envelope(
        event_id=_event_id(str(event_id)),
        type=event_type[:100],
        object_type=str(obj.get("type") or obj.get("name") or "")[:50],
        object_id=object_id,
        occurred_at=occurred_at,
    )


def whole_object_id(payload: dict[str, Any]) -> str:
    """The id of the object an event is about (object.id, data.id/uploadId/streamId), uncut."""
    data = _member(payload, "data")
    found = (
        _member(payload, "object").get("id")
        or data.get("id")
        or data.get("uploadId")
        or data.get("streamId")
    )
    return str(found) if isinstance(found, (str, int)) and found else ""


def _occurred_at(payload: dict[str, Any]) -> datetime | None:
    """When FastPix says the event happened; an unreadable time is no time, not an error."""
    occurred = payload.get("createdAt") or payload.get("created_at")
    occurred_at: datetime | None = None
    try:
        if isinstance(occurred, str):
            occurred_at = parse_datetime(occurred)
        if occurred_at is None and isinstance(payload.get("occurredAt"), (int, float)):
            occurred_at = datetime.fromtimestamp(payload["occurredAt"], tz=dt_timezone.utc)
        if occurred_at is not None and timezone.is_naive(occurred_at):
            occurred_at = occurred_at.replace(tzinfo=dt_timezone.utc)
        # In UTC here, not in the database: 9999-12-31T23:00-05:00 is year 10000 in UTC,
        # which PostgreSQL would store and Python could then never read back.
        return occurred_at.astimezone(dt_timezone.utc) if occurred_at is not None else None
    except (ValueError, OverflowError, OSError):
        return None


def store_event(
    workspace: Workspace, envelope: Envelope, payload: dict[str, Any], **values: Any
) -> WebhookEvent | None:
    """Insert the row of a new delivery (in the caller's transaction); None if the event id is
    stored already (a concurrent copy's INSERT waits for the first one's transaction to end).
    On the ORM's path (other vendors) that is an IntegrityError instead. ``webhook_received``
    goes out once the transaction commits."""
    if values.get("outcome", WebhookOutcome.PENDING) != WebhookOutcome.PENDING:
        values.setdefault("processed_at", timezone.now())
    event = WebhookEvent(
        workspace=workspace,
        event_id=envelope.event_id,
        type=envelope.type,
        object_type=envelope.object_type,
        object_id=envelope.object_id,
        payload=payload,
        occurred_at=envelope.occurred_at,
        **values,
    )
    if not statements.insert(event, ignore_conflicts=True):
        return None
    signals.send_after_commit(signals.webhook_received, sender=WebhookEvent, event=event)
    return event


def process_event(event: WebhookEvent) -> bool:
    """Apply a stored event once; record the outcome (and traceback on failure). True if done.

    For an event stored earlier (a redelivery of a failed one, an operator's replay). The
    event's row is locked while it is applied, so concurrent copies apply it once: the later
    copy waits, then finds it processed.
    """
    try:
        with transaction.atomic():
            locked = WebhookEvent.objects.select_for_update().get(pk=event.pk)
            if locked.outcome in DONE_OUTCOMES:
                event.refresh_from_db()
                return True
            _process_locked(locked, always_save=True)
            for name in ("outcome", "processed_at", "error", "traceback"):
                setattr(event, name, getattr(locked, name))
        return True
    except Exception as exc:  # any failure is recorded on the event, never lost
        logger.exception("Processing FastPix event %s (%s) failed", event.event_id, event.type)
        WebhookEvent.objects.filter(pk=event.pk).update(
            outcome=WebhookOutcome.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            traceback=traceback.format_exc()[-20000:],
            processed_at=timezone.now(),
        )
        event.refresh_from_db()
        return False


def _process_locked(event: WebhookEvent, *, always_save: bool = False) -> None:
    """Apply ``event`` and the site's handlers (inside the caller's transaction, which holds
    the event's row) and record the outcome; a row already stating it is not written again."""
    try:
        handled = apply_event(event)
        handled = run_site_handlers(event, _applied_media(event)) or handled
        note = ""
    except NotApplicable as exc:
        handled, note = False, str(exc)
    outcome = WebhookOutcome.PROCESSED if handled else WebhookOutcome.IGNORED
    if always_save or outcome != event.outcome or note:
        event.outcome = outcome
        event.processed_at = timezone.now()
        event.error = note
        event.traceback = ""
        event.save(update_fields=["outcome", "processed_at", "error", "traceback"])


_UNKNOWN: Any = object()


def run_site_handlers(event: WebhookEvent, media: Media | None = _UNKNOWN) -> bool:
    """Run the site's ``@fastpix_webhook`` handlers for ``event``; whether any ran.

    Inside the caller's transaction: a handler that raises rolls the event back and is
    recorded on it as a processing failure (FastPix delivers it again). ``media``: the row
    the event was applied to, if the caller has it (else it is looked up).
    """
    handlers = handlers_for(event.type)
    if not handlers:
        return False
    if media is _UNKNOWN:
        media = None
        if event.object_id:
            media = Media.objects.filter(
                workspace_id=event.workspace_id, fastpix_id=event.object_id
            ).first()
    for handler in handlers:
        handler(event, media)
    return True


def _applied_media(event: WebhookEvent) -> Media | None:
    """The media ``apply_event`` applied ``event`` to (unknown if it applied none)."""
    return event.__dict__.get("_fastpix_applied_media", _UNKNOWN)


# An authentic event this app cannot apply (stored, answered 2xx, marked ignored).
NotApplicable = WebhookNotApplicable


def replay_event(event: WebhookEvent) -> bool:
    """Process a stored event again (operators' replay; idempotent by design)."""
    return process_event(event)


def apply_event(event: WebhookEvent) -> bool:
    """Apply one media event to the local media (inside a transaction); False if not handled."""
    if event.type.startswith(LIVE_EVENT_PREFIX):
        return apply_live_event(event)
    if event.type not in MEDIA_EVENTS:
        return False
    payload = event.payload if isinstance(event.payload, dict) else {}
    data = _member(payload, "data")
    if not isinstance(data.get("id"), str) or not data["id"]:
        # The id as the envelope gave it, whole: event.object_id is cut to its column, and a
        # cut id would name some other media (or none) instead of being refused below.
        data["id"] = whole_object_id(payload) or event.object_id
    if event.type in ("video.media.upload", "video.media.upload.cancelled"):
        return _apply_upload_event(event, data)
    try:
        remote = RemoteMedia.from_api(data)
    except InvalidResponseError:
        raise ValueError("Media event without a media id.") from None
    if len(remote.id) > FASTPIX_ID_WIDTH:
        raise NotApplicable(f"The media id is longer than {FASTPIX_ID_WIDTH} characters.")
    deleted = event.type == "video.media.deleted"
    media, playback_known = None, False
    if not remote.upload_id:
        # The common case, a media this site knows by its id: one locking read.
        media, playback_known = lock_linked_media(event.workspace_id, remote)
    if media is None:
        media = _find_or_stand_in(event, remote, deleted)
    # For the site's handlers (run_site_handlers), which get the row as applied.
    event.__dict__["_fastpix_applied_media"] = media
    if deleted:
        mark_deleted(media)
        return True
    status = MEDIA_EVENTS[event.type]
    apply_remote_state(
        media,
        remote,
        status_hint=status or remote.status or "",
        occurred_at=event.occurred_at or event.received_at,
        playback_ids_known=playback_known,
    )
    if status == "failed" and not media.error:
        # Also on the object: site handlers are given this one, not a fresh read.
        media.error = _failure_reason(data)
        Media.objects.filter(pk=media.pk, error="").update(error=media.error)
    if remote.upload_id:
        apply_upload_media(event.workspace, remote.upload_id, media)
    if remote.stream_id and media.live_stream_id is None:
        link_recording(media, remote.stream_id)
    return True


def _find_or_stand_in(event: WebhookEvent, remote: RemoteMedia, deleted: bool) -> Media:
    """The row for ``remote`` found by id, reference or upload (linked now), else a stand-in;
    returned locked."""
    if remote.upload_id:
        # Serialises with start_upload storing the upload this media is for: whichever of the
        # two commits second sees the other's row and links them.
        Workspace.objects.select_for_update().filter(pk=event.workspace_id).first()
    media = find_media(event.workspace, remote)
    if media is None:
        # A stand-in row for a media this site has not linked yet. A `deleted` that arrives
        # first leaves it deleted: a tombstone no later event can bring back.
        media = _stand_in(
            event.workspace, remote.id, MediaStatus.DELETED if deleted else MediaStatus.CREATED
        )
    elif not media.fastpix_id:
        # A `deleted` event's data still says what the media was (often "Ready"): linking
        # with that status would store it and send media_ready for a media already gone.
        media = link_remote(media, replace(remote, status="deleted") if deleted else remote)
    if remote.upload_id and len(remote.upload_id) <= FASTPIX_ID_WIDTH:
        # Identity, not state: an older event (upload_created after ready) still says which
        # upload this media came from, which is how the upload finds it.
        Media.objects.filter(pk=media.pk, upload_id="").update(upload_id=remote.upload_id)
    return Media.objects.select_for_update().get(pk=media.pk)


def _stand_in(workspace: Workspace, fastpix_id: str, status: MediaStatus) -> Media:
    """The row for ``fastpix_id``, created if missing; safe against a concurrent creator."""
    try:
        with transaction.atomic():
            return Media.objects.create(workspace=workspace, fastpix_id=fastpix_id, status=status)
    except IntegrityError:
        # Another delivery for the same media created it first (its commit released us).
        return Media.objects.select_for_update().get(workspace=workspace, fastpix_id=fastpix_id)


def _apply_upload_event(event: WebhookEvent, data: dict[str, Any]) -> bool:
    upload_id = str(data.get("uploadId") or data.get("id") or "")
    if event.type == "video.media.upload.cancelled":
        upload = Upload.objects.filter(workspace=event.workspace, fastpix_id=upload_id).first()
        if upload is not None:
            finish_upload(upload, UploadStatus.CANCELLED, "Cancelled in FastPix.")
    media = Media.objects.filter(workspace=event.workspace, upload_id=upload_id).first()
    if media is None:
        return True
    if event.type == "video.media.upload.cancelled":
        Media.objects.filter(pk=media.pk, fastpix_id__isnull=True).update(
            status=MediaStatus.FAILED, error="Upload cancelled."
        )
    return True


def find_media(workspace: Workspace, remote: RemoteMedia) -> Media | None:
    """The local row of a FastPix media: by id, then by our reference, then by upload id."""
    media = Media.objects.filter(workspace=workspace, fastpix_id=remote.id).first()
    if media is not None:
        return media
    reference = parse_reference(remote.metadata.get(reference_key()))
    if reference is not None:
        media = Media.objects.filter(workspace=workspace, reference=reference).first()
        if media is not None:
            return media
    if remote.upload_id:
        return Media.objects.filter(workspace=workspace, upload_id=remote.upload_id).first()
    return None


def _member(payload: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested object of the payload, copied; anything else reads as empty."""
    value = payload.get(key)
    return dict(value) if isinstance(value, dict) else {}


def _failure_reason(data: dict[str, Any]) -> str:
    for key in ("errors", "error", "failureReason", "message"):
        value = data.get(key)
        if value:
            return f"FastPix: {json.dumps(value)[:1000] if not isinstance(value, str) else value}"
    return "FastPix reported the media as failed."
