from django.apps import AppConfig


class VideosConfig(AppConfig):
    name = "videos"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import fastpix_hooks  # noqa: F401  (registers the webhook handler)
