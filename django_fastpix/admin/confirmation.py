"""An intermediate confirmation page for admin actions, in the style of delete_selected."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

TEMPLATE = "admin/django_fastpix/confirm_action.html"


def submitted_form(request: HttpRequest, form_class: type[forms.Form]) -> forms.Form:
    """The confirmation form: bound when the page itself was submitted, blank on first show."""
    if request.POST.get("post") == "yes":
        return form_class(request.POST)
    return form_class()


def confirmation_page(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    title: str,
    intro: str,
    form: forms.Form,
    items: Sequence[str],
    submit_label: str,
    warning: str = "",
) -> TemplateResponse:
    """Render the page that lists ``items`` and re-posts the selection to ``action``."""
    selected: list[Model] = list(queryset)
    return form_page(
        modeladmin,
        request,
        title=title,
        intro=intro,
        form=form,
        items=items,
        submit_label=submit_label,
        warning=warning,
        extra={
            "action": action,
            "selected_pks": [obj.pk for obj in selected],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )


def form_page(
    modeladmin: admin.ModelAdmin[Any],
    request: HttpRequest,
    *,
    title: str,
    intro: str,
    form: forms.Form,
    submit_label: str,
    items: Sequence[str] = (),
    warning: str = "",
    extra: dict[str, Any] | None = None,
) -> TemplateResponse:
    """The same page for a view of its own (no selection): it posts back to its own URL."""
    opts = modeladmin.model._meta
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "subtitle": None,
        "intro": intro,
        "warning": warning,
        "items": items,
        "form": form,
        "submit_label": submit_label,
        "opts": opts,
        "app_label": opts.app_label,
        "media": modeladmin.media + form.media,
        **(extra or {}),
    }
    request.current_app = modeladmin.admin_site.name
    return TemplateResponse(request, TEMPLATE, context)
