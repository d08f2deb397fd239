"""Admin without the bulk "delete selected" action, which skips per-row delete rules."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest


class WithoutBulkDelete(admin.ModelAdmin):
    """Drops ``delete_selected``: it checks permission without the rows it deletes."""

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Django 6.1 passes action_location (and warns about overrides without it); older
        # versions call get_actions(request) only.
        if action_location is None:
            actions = super().get_actions(request)
        else:
            actions = super().get_actions(request, action_location=action_location)  # type: ignore[call-arg]
        actions.pop("delete_selected", None)
        return actions
