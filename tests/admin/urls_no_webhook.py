"""An admin-only URLconf: the webhook route is not included."""

from tests.admin.urls import without_webhook as urlpatterns

__all__ = ["urlpatterns"]
