"""A URLconf whose catch-all pattern shadows the app's webhook route for every workspace."""

from tests.integration.urls_webhook_shadowed import shadow_all as urlpatterns

__all__ = ["urlpatterns"]
