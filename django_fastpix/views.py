"""The webhook endpoint: one URL per workspace; parse, call the service, answer."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from .conf import fastpix_settings
from .services.webhooks import SIGNATURE_HEADER, receive_at


@csrf_exempt  # FastPix signs its deliveries; there is no session or form to protect
@require_POST
@sensitive_variables("result")
def webhook(request: HttpRequest, workspace: str) -> HttpResponse:
    """Receive one FastPix delivery for ``workspace`` (a slug)."""
    limit = int(fastpix_settings.WEBHOOK_MAX_BODY_BYTES)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return JsonResponse({"detail": "Body too large."}, status=413)
    # Read at most one byte past the limit: a chunked body (no Content-Length) is cut off
    # rather than read whole into memory before anything is verified.
    body = request.read(limit + 1)
    if len(body) > limit:
        return JsonResponse({"detail": "Body too large."}, status=413)
    # One query finds the workspace (and whether this event is already done).
    result = receive_at(workspace, body, request.headers.get(SIGNATURE_HEADER))
    if result is None:
        raise Http404("No FastPix workspace has this slug.")
    return JsonResponse({"detail": result.detail}, status=result.status)
