"""The JSON endpoints behind the upload widget: start a direct upload, poll it, cancel it.

The browser posts the signed context the widget rendered; the answer carries FastPix's signed
upload URL once (it is a capability: never stored, never logged). Every answer is JSON, also
for an anonymous request (403, not a login redirect) and for a FastPix failure (502/503 with a
message that names no secret).
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_POST

from .conf import fastpix_settings
from .exceptions import (
    BadRequestError,
    FastPixAPIError,
    FastPixError,
    TokenError,
    TransportError,
)
from .models import Upload, UploadStatus
from .services.uploads import (
    UploadContextError,
    cancel_upload,
    read_upload_context,
    start_upload,
)

logger = logging.getLogger(__name__)

MAX_FILENAME = 255


def _error(message: str, http_status: int, **extra: Any) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=http_status)


def _anonymous() -> JsonResponse:
    return _error("Sign in to upload videos.", 403)


def _fastpix_failure(exc: FastPixError, action: str) -> JsonResponse:
    """503/502/409 for a FastPix or token problem; the message names no token, URL or secret.

    The services wrap the client's error in an ``UploadError`` (its text includes the API
    request and a token hint, fine for the log, not for a browser): the answer is chosen by
    the cause and worded here.
    """
    cause = exc.__cause__ if isinstance(exc.__cause__, FastPixError) else exc
    logger.warning("Upload %s failed: %s", action, exc)
    if isinstance(cause, TokenError):
        return _error(
            f"Video uploads are unavailable: no usable FastPix access token could {action} "
            "the upload. Ask an administrator to check the FastPix access tokens.",
            503,
        )
    if isinstance(cause, TransportError):
        return _error(f"FastPix could not be reached to {action} the upload; try again.", 502)
    if action == "cancel" and isinstance(cause, BadRequestError):
        return _error(
            "FastPix would not cancel the upload: the file has probably arrived already.", 409
        )
    if isinstance(cause, FastPixAPIError):
        status = cause.status or "error"
        return _error(f"FastPix refused to {action} the upload (HTTP {status}).", 502)
    return _error(f"FastPix could not {action} the upload.", 502)


def _visible(upload: Upload, user: Any) -> bool:
    """The creator sees their upload; staff with ``view_upload`` see every upload."""
    if upload.created_by_id is not None and upload.created_by_id == user.pk:
        return True
    return bool(user.is_staff and user.has_perm("django_fastpix.view_upload"))


def _may_cancel(upload: Upload, user: Any) -> bool:
    if upload.created_by_id is not None and upload.created_by_id == user.pk:
        return True
    return bool(user.has_perm("django_fastpix.change_upload"))


def _size(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValueError(raw)
    return int(raw)


@never_cache
@require_POST
@csrf_protect
@sensitive_post_parameters("context")
@sensitive_variables("started", "body")
def upload_create(request: HttpRequest) -> JsonResponse:
    """Start a FastPix direct upload for the signed ``context``; 201 with its URL."""
    if not request.user.is_authenticated:
        return _anonymous()
    try:
        context = read_upload_context(request.POST.get("context", ""))
    except UploadContextError as exc:
        return _error(str(exc) or "The upload form is invalid or has expired: reload it.", 400)
    try:
        size = _size(request.POST.get("size", ""))
    except ValueError:
        return _error("size must be a whole number of bytes.", 400)
    filename = request.POST.get("filename", "").strip()[:MAX_FILENAME]
    allowed = import_string(fastpix_settings.UPLOAD_PERMISSION)
    if not allowed(request, context.target):
        return _error("You do not have permission to upload this video.", 403)
    origin = fastpix_settings.UPLOAD_CORS_ORIGIN or f"{request.scheme}://{request.get_host()}"
    try:
        started = start_upload(
            context, user=request.user, cors_origin=origin, filename=filename, size=size
        )
    except FastPixError as exc:
        return _fastpix_failure(exc, "start")
    upload = started.upload
    logger.info("Upload %s started (FastPix %s)", upload.pk, upload.fastpix_id)
    body = {
        "upload": upload.pk,
        "upload_id": upload.fastpix_id,
        "url": started.url,
        "expires_at": upload.expires_at.isoformat() if upload.expires_at else None,
        "status_url": reverse("django_fastpix:upload-status", args=[upload.pk]),
        "cancel_url": reverse("django_fastpix:upload-cancel", args=[upload.pk]),
        "chunk_size_kb": int(fastpix_settings.UPLOAD_CHUNK_SIZE_KB),
    }
    return JsonResponse(body, status=201)


def _status_body(upload: Upload) -> dict[str, Any]:
    media = upload.media
    return {
        "upload": upload.pk,
        "status": upload.status,
        "media": media.pk if media is not None else None,
        "media_status": media.status if media is not None else None,
        "error": upload.error,
    }


@never_cache
@require_GET
def upload_status(request: HttpRequest, pk: int) -> JsonResponse:
    """Where an upload is, and its media once FastPix made one (polled by the widget)."""
    if not request.user.is_authenticated:
        return _anonymous()
    upload = Upload.objects.select_related("media").filter(pk=pk).first()
    if upload is None or not _visible(upload, request.user):
        return _error("No such upload.", 404)
    return JsonResponse(_status_body(upload))


@never_cache
@require_POST
@csrf_protect
def upload_cancel(request: HttpRequest, pk: int) -> JsonResponse:
    """Cancel a waiting upload in FastPix, then locally."""
    if not request.user.is_authenticated:
        return _anonymous()
    upload = Upload.objects.filter(pk=pk).first()
    if upload is None or not _visible(upload, request.user):
        return _error("No such upload.", 404)
    if not _may_cancel(upload, request.user):
        return _error("You do not have permission to cancel this upload.", 403)
    if upload.status == UploadStatus.CANCELLED:
        return JsonResponse({"status": upload.status})
    if upload.is_finished:
        return _error(
            f"The upload is already {upload.get_status_display().lower()}.",
            409,
            status=upload.status,
        )
    try:
        upload = cancel_upload(upload, by=request.user.get_username())
    except FastPixError as exc:
        return _fastpix_failure(exc, "cancel")
    return JsonResponse({"status": upload.status})
