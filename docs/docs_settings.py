"""Django settings for building the documentation: autodoc imports the app, doctests run it.

Nothing here is for a real site: the key below is a fixed, public Fernet key for the docs only.
"""

SECRET_KEY = "docs-only-not-secret"
DEBUG = False
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_fastpix",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
# Fernet.generate_key(), fixed so that builds are reproducible; protects nothing.
FIELD_ENCRYPTION_KEY = "ZthWbbI5qU_2LwIqG74rMKGR1OF1xhb4dZewoUnLHrk="
FASTPIX: dict[str, object] = {}
# The doctests revoke tokens and fail calls on purpose: their log lines are not build output.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"django_fastpix": {"handlers": ["null"], "propagate": False}},
}
