"""Translatable shapes shared by the admin's per-row messages."""

from __future__ import annotations

from django.utils.translation import gettext


def row_message(obj: object, text: object) -> str:
    """``<object>: <text>``, for a row whose text comes from elsewhere (an error, a service).

    The shape is translatable on its own: some languages space or punctuate it differently.
    """
    return gettext("%(object)s: %(text)s") % {"object": obj, "text": text}
