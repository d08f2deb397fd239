"""Coloured status badges for list and detail pages."""

from __future__ import annotations

from django.utils.html import format_html
from django.utils.safestring import SafeString

# Colours with enough contrast on white text in both admin themes.
COLOURS = {
    "active": "#2e7d32",
    "ready": "#2e7d32",
    "processed": "#2e7d32",
    "invalid": "#b26a00",
    "retiring": "#b26a00",
    "pending": "#616161",
    "ignored": "#616161",
    "failed": "#c62828",
    "revoked": "#c62828",
    "deleted": "#424242",
    "retired": "#424242",
}
DEFAULT_COLOUR = "#1565c0"


def badge(value: str, label: str) -> SafeString:
    """A small coloured label for a status value."""
    return format_html(
        '<span class="fastpix-badge fastpix-badge-{}" style="background:{};color:#fff;'
        'padding:1px 6px;border-radius:8px;white-space:nowrap">{}</span>',
        value,
        COLOURS.get(value, DEFAULT_COLOUR),
        label,
    )
