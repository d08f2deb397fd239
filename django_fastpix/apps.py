"""App configuration: wiring happens in ready(), nowhere else."""

from __future__ import annotations

from django.apps import AppConfig


class DjangoFastPixConfig(AppConfig):
    """django_fastpix app config."""

    name = "django_fastpix"
    label = "django_fastpix"
    verbose_name = "FastPix"
    # Fixed here so that migrations are identical whatever the site's DEFAULT_AUTO_FIELD.
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            video,  # noqa: F401  (connects Media.player() and the playback URLs)
        )
        from .receivers import connect_sources, connect_token_signals
        from .tasks import register_jobs

        register_jobs()
        connect_sources()
        connect_token_signals()
