"""The webhook endpoint: one URL per workspace; parse, call the service, answer."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .conf import fastpix_settings
from .models import Workspace
from .services.webhooks import SIGNATURE_HEADER, receive


@csrf_exempt  # FastPix signs its deliveries; there is no session or form to protect
@require_POST
def webhook(request: HttpRequest, workspace: str) -> HttpResponse:
    """Receive one FastPix delivery for ``workspace`` (a slug)."""
    ws = get_object_or_404(Workspace, slug=workspace)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > int(fastpix_settings.WEBHOOK_MAX_BODY_BYTES):
        # Refused before the body is read into memory.
        return JsonResponse({"detail": "Body too large."}, status=413)
    result = receive(ws, request.body, request.headers.get(SIGNATURE_HEADER))
    return JsonResponse({"detail": result.detail}, status=result.status)
