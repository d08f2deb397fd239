"""Browser uploads: start one through FastPix, link it to its media exactly once, cancel, sweep.

The file never passes through Django: FastPix hands out a signed URL, the browser sends the
bytes there, and FastPix reports the media it made in webhooks. Those may arrive before the
view that started the upload has stored its row, after it, twice, or in any order; every path
ends in ``link_upload_media``, which links once under the upload's row lock.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.db import models, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from .. import signals
from ..client import FastPixClient
from ..conf import fastpix_settings
from ..exceptions import (
    BadRequestError,
    FastPixError,
    NotFoundError,
    UploadContextError,
    UploadError,
)
from ..models import Media, Upload, UploadStatus, Workspace
from . import api
from .undo import undone_in_fastpix_on_failure

logger = logging.getLogger(__name__)

_CONTEXT_SALT = "django_fastpix.upload"
# FastPix's documented default when a create response gives no timeout.
DEFAULT_UPLOAD_TIMEOUT = 14400
ACCESS_POLICIES = ("public", "private")


@dataclass(frozen=True)
class UploadContext:
    """What an upload is for: verified from the signed context a form carried."""

    workspace: Workspace
    target: models.Model | None = None
    field_name: str = ""
    access_policy: str = "public"


@dataclass(frozen=True)
class StartedUpload:
    """A stored upload and its signed URL (a capability: hand it to the browser, log nothing)."""

    upload: Upload
    url: str


@dataclass(frozen=True)
class SweepResult:
    linked: int = 0
    timed_out: int = 0


def video_field_problem(model: type[models.Model], field_name: str) -> str | None:
    """Why ``field_name`` cannot receive an upload's media on ``model`` (None if it can)."""
    try:
        field = model._meta.get_field(field_name)
    except Exception:
        return f"{model._meta.label} has no field {field_name!r}."
    if not isinstance(field, models.ForeignKey) or field.related_model is not Media:
        return f"{model._meta.label}.{field_name} is not a VideoField (a ForeignKey to Media)."
    return None


def upload_context(
    workspace: Workspace,
    *,
    target: models.Model | None = None,
    field_name: str = "",
    access_policy: str = "public",
) -> str:
    """A signed, tamper-proof description of an upload, for a form to carry to the view."""
    if access_policy not in ACCESS_POLICIES:
        raise ValueError(f"access_policy must be one of {', '.join(ACCESS_POLICIES)}.")
    payload: dict[str, Any] = {"w": workspace.pk, "a": access_policy}
    if target is not None and target.pk is not None:
        if field_name:
            problem = video_field_problem(type(target), field_name)
            if problem:
                raise ValueError(problem)
        payload["c"] = ContentType.objects.get_for_model(target).pk
        payload["o"] = str(target.pk)
        payload["f"] = field_name
    elif field_name and target is None:
        raise ValueError("field_name needs a saved target object.")
    return signing.dumps(payload, salt=_CONTEXT_SALT, compress=True)


def read_upload_context(value: str) -> UploadContext:
    """The context a form carried, verified; UploadContextError if forged, expired or stale."""
    try:
        payload = signing.loads(
            value,
            salt=_CONTEXT_SALT,
            max_age=int(fastpix_settings.UPLOAD_CONTEXT_MAX_AGE),
        )
    except signing.SignatureExpired:
        raise UploadContextError("The upload form has expired; reload the page.") from None
    except signing.BadSignature:
        raise UploadContextError("The upload context is not valid.") from None
    if not isinstance(payload, dict):
        raise UploadContextError("The upload context is not valid.")
    workspace_pk = payload.get("w")
    workspace = (
        Workspace.objects.filter(pk=workspace_pk).first() if isinstance(workspace_pk, int) else None
    )
    if workspace is None:
        raise UploadContextError("The upload's workspace no longer exists.")
    target = None
    if payload.get("c"):
        content_type = ContentType.objects.filter(pk=payload["c"]).first()
        model = content_type.model_class() if content_type else None
        if model is None:
            raise UploadContextError("The upload's target model no longer exists.")
        object_id = payload.get("o")
        target = model._default_manager.filter(pk=str(object_id)).first() if object_id else None
        if target is None:
            raise UploadContextError("The object this upload is for no longer exists.")
    policy = payload.get("a") if payload.get("a") in ACCESS_POLICIES else "public"
    return UploadContext(workspace, target, str(payload.get("f") or ""), str(policy))


@sensitive_variables()
def start_upload(
    context: UploadContext,
    *,
    user: Any = None,
    cors_origin: str = "*",
    filename: str = "",
    size: int | None = None,
) -> StartedUpload:
    """Ask FastPix for a browser upload URL and store the upload (linked if FastPix was quick)."""
    workspace = context.workspace
    title = filename.rsplit("/", 1)[-1][:255]
    try:
        remote = api.call(
            workspace,
            FastPixClient.create_direct_upload,
            cors_origin,
            access_policy=context.access_policy,
            title=title or None,
            idempotency_key=str(uuid.uuid4()),
            browser=True,
        )
    except FastPixError as exc:
        raise UploadError(f"FastPix did not create an upload URL: {exc}") from exc
    if not remote.url:
        raise UploadError("FastPix created an upload but returned no URL for it.")
    timeout = remote.timeout if remote.timeout and remote.timeout > 0 else DEFAULT_UPLOAD_TIMEOUT
    target = context.target
    # Not stored, nobody would ever link or sweep it: withdrawn in FastPix.
    undo = FastPixClient.cancel_upload
    with undone_in_fastpix_on_failure(workspace, undo, remote.id, "Upload"), transaction.atomic():
        # Serialises with the webhook that may link this upload: whichever commits second
        # sees the other's row (see apply_upload_media).
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        upload = Upload.objects.create(
            workspace=workspace,
            fastpix_id=remote.id,
            expires_at=timezone.now() + timedelta(seconds=timeout),
            content_type=ContentType.objects.get_for_model(target) if target else None,
            object_id=str(target.pk) if target else "",
            field_name=context.field_name if target else "",
            access_policy=context.access_policy,
            filename=title,
            size=size if size is None or size >= 0 else None,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        signals.send_after_commit(signals.upload_created, sender=Upload, upload=upload)
    link_upload_media(upload)
    upload.refresh_from_db()
    logger.info("Started upload %s in %s", upload.fastpix_id, workspace.slug)
    return StartedUpload(upload, remote.url)


def link_upload_media(upload: Upload, media: Media | None = None) -> bool:
    """Link ``upload`` to its media (found by upload id if not given), once; True if it did."""
    with transaction.atomic():
        locked = Upload.objects.select_for_update().filter(pk=upload.pk).first()
        if locked is None or locked.media_id is not None:
            return False
        if media is None:
            media = (
                Media.objects.filter(workspace_id=locked.workspace_id, upload_id=locked.fastpix_id)
                .order_by("pk")
                .first()
            )
            if media is None:
                return False
        _attach(locked, media)
    return True


def apply_upload_media(workspace: Workspace, upload_id: str, media: Media) -> bool:
    """A media event named ``upload_id``: link it if the upload is stored (inside a transaction).

    The caller holds the workspace lock (see ``start_upload``), so an upload stored
    concurrently is either visible here or will find this media itself.
    """
    upload = Upload.objects.filter(workspace=workspace, fastpix_id=upload_id).first()
    if upload is None:
        return False
    return link_upload_media(upload, media)


def _attach(upload: Upload, media: Media) -> None:
    """Link in the caller's transaction: the upload, the media's origin, the target's field."""
    previous = upload.status
    upload.media = media
    upload.status = UploadStatus.ASSET_CREATED
    upload.error = ""
    upload.finished_at = upload.finished_at or timezone.now()
    upload.save(update_fields=["media", "status", "error", "finished_at", "updated_at"])
    media_changes: dict[str, Any] = {}
    if upload.content_type_id and not media.content_type_id:
        media_changes.update(content_type_id=upload.content_type_id, object_id=upload.object_id)
    if upload.filename and not media.title:
        media_changes["title"] = upload.filename
    if not media.upload_id:
        media_changes["upload_id"] = upload.fastpix_id
    if media_changes:
        Media.objects.filter(pk=media.pk).update(**media_changes)
        for name, value in media_changes.items():
            setattr(media, name, value)
    _fill_target_field(upload, media)
    if previous != UploadStatus.WAITING:
        logger.info("Upload %s (%s) got its media after all", upload.fastpix_id, previous)
    signals.send_after_commit(signals.upload_linked, sender=Upload, upload=upload, media=media)


def _fill_target_field(upload: Upload, media: Media) -> None:
    if not (upload.content_type_id and upload.field_name):
        return
    model = upload.content_type.model_class() if upload.content_type else None
    if model is None or video_field_problem(model, upload.field_name):
        logger.warning("Upload %s: its target field is gone; not filled", upload.fastpix_id)
        return
    # An update, not a save: the site's save signals (and a URL source's creation) stay out.
    field = model._meta.get_field(upload.field_name)
    assert isinstance(field, models.ForeignKey)  # checked by video_field_problem
    model._default_manager.filter(pk=upload.object_id).update(**{field.attname: media.pk})


def cancel_upload(upload: Upload, *, by: str = "") -> Upload:
    """Cancel a waiting upload in FastPix, then here; UploadError if it cannot be."""
    if upload.status != UploadStatus.WAITING:
        raise UploadError(f"Upload {upload.fastpix_id} is {upload.get_status_display().lower()}.")
    try:
        api.call(upload.workspace, FastPixClient.cancel_upload, upload.fastpix_id)
    except NotFoundError:
        pass  # FastPix no longer has it: nothing can arrive any more
    except BadRequestError as exc:
        # Typically: the file arrived meanwhile. Its media event will link it.
        raise UploadError(f"FastPix would not cancel upload {upload.fastpix_id}: {exc}") from exc
    except FastPixError as exc:
        raise UploadError(f"Could not cancel upload {upload.fastpix_id}: {exc}") from exc
    finish_upload(upload, UploadStatus.CANCELLED, f"Cancelled by {by}." if by else "Cancelled.")
    upload.refresh_from_db()
    return upload


def finish_upload(upload: Upload, status: UploadStatus, reason: str = "") -> bool:
    """Move a waiting upload to a final status without a media (once); True if it moved."""
    with transaction.atomic():
        moved = Upload.objects.filter(
            pk=upload.pk, status=UploadStatus.WAITING, media__isnull=True
        ).update(status=status, error=reason, finished_at=timezone.now(), updated_at=timezone.now())
        if moved:
            fresh = Upload.objects.get(pk=upload.pk)
            if status == UploadStatus.CANCELLED:
                signals.send_after_commit(signals.upload_cancelled, sender=Upload, upload=fresh)
            else:
                signals.send_after_commit(
                    signals.upload_failed, sender=Upload, upload=fresh, reason=reason
                )
    return bool(moved)


def sweep_uploads(now: datetime | None = None) -> SweepResult:
    """Link uploads whose media arrived unnoticed; time out expired ones (withdrawn in FastPix)."""
    now = now or timezone.now()
    linked = timed_out = 0
    for upload in Upload.objects.sweepable(now).select_related("workspace").iterator():
        if link_upload_media(upload):
            linked += 1
            continue
        if upload.status != UploadStatus.WAITING or not upload.expires_at:
            continue
        if upload.expires_at <= now:
            _cancel_remote(upload.workspace, upload.fastpix_id)
            if finish_upload(upload, UploadStatus.TIMED_OUT, "The upload URL expired unused."):
                timed_out += 1
    return SweepResult(linked=linked, timed_out=timed_out)


def _cancel_remote(workspace: Workspace, upload_id: str) -> None:
    """Withdraw an upload URL in FastPix, best effort (it expires there anyway)."""
    try:
        api.call(workspace, FastPixClient.cancel_upload, upload_id)
    except FastPixError as exc:
        logger.info("Upload %s was not withdrawn in FastPix: %s", upload_id, exc)
