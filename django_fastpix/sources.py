"""Which site models are media sources, read from ``FASTPIX["MEDIA_SOURCES"]``.

    FASTPIX = {
        "MEDIA_SOURCES": {
            "videos.Lesson": {
                "url_field": "video_url",          # required
                "workspace": "prod",               # a slug, or callable(instance) -> slug
                "access_policy": "public",         # or "private"; a callable(instance) also works
                "title": "title",                  # a field name or a callable(instance) -> str
                "metadata": None,                  # a callable(instance) -> dict[str, str]
                "on_url_change": "keep",           # "keep" the old media, or "delete" it remotely
                "delete_remote_on_delete": False,  # delete the FastPix media with the instance
                "video_field": None,               # a VideoField pointed at each media made
            }
        }
    }

Callables may be given as dotted import paths.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.module_loading import import_string

from .conf import fastpix_settings

logger = logging.getLogger(__name__)

OPTIONS = {
    "url_field",
    "workspace",
    "access_policy",
    "title",
    "metadata",
    "on_url_change",
    "delete_remote_on_delete",
    "video_field",
}


CALLABLE_OPTIONS = {"workspace", "title", "access_policy", "metadata"}


@dataclass(frozen=True)
class MediaSource:
    """How one site model turns into FastPix media."""

    model: type[models.Model]
    url_field: str
    workspace: str | Callable[[Any], Any]
    access_policy: str | Callable[[Any], str] = "public"
    title: str | Callable[[Any], str] | None = None
    metadata: Callable[[Any], dict[str, str]] | None = None
    on_url_change: str = "keep"
    delete_remote_on_delete: bool = False
    video_field: str | None = None

    def url_of(self, instance: models.Model) -> str:
        return str(getattr(instance, self.url_field) or "").strip()

    def title_of(self, instance: models.Model) -> str:
        if self.title is None:
            return str(instance)[:255]
        if callable(self.title):
            return str(self.title(instance))[:255]
        return str(getattr(instance, self.title) or "")[:255]

    def metadata_of(self, instance: models.Model) -> dict[str, str]:
        if self.metadata is None:
            return {}
        return {str(k): str(v) for k, v in self.metadata(instance).items()}

    def access_policy_of(self, instance: models.Model) -> str:
        if callable(self.access_policy):
            return str(self.access_policy(instance))
        return self.access_policy


def _resolve(option: str, value: Any) -> Any:
    # A dotted path names a callable; a plain word is a slug, a field name or a policy.
    if option in CALLABLE_OPTIONS and isinstance(value, str) and "." in value:
        try:
            return import_string(value)
        except Exception as exc:
            raise ImproperlyConfigured(
                f"{option!r} names {value!r}, which does not import: {type(exc).__name__}: {exc}"
            ) from None
    return value


def media_sources() -> dict[type[models.Model], MediaSource]:
    """The configured sources that are valid; read from settings on every call.

    An invalid entry is skipped with an error logged, never raised: this runs at start-up
    and in every save of a source model, and a typo in one entry must neither stop the site
    nor fail its saves. The system checks (fastpix.E005 to E008) name every problem. The
    parse is kept while the setting is the same dict with the same contents (a save must not
    pay for importing the callables again); any other value is parsed (and logged) afresh.
    """
    configured = fastpix_settings.MEDIA_SOURCES or {}
    cached = _parsed.get(id(configured))
    if cached is not None and cached[0] is configured and cached[1] == _snapshot(configured):
        return dict(cached[2])
    sources = _parse_sources(configured)
    _remember_parse(configured, sources)
    return dict(sources)


# id(setting's dict) -> (that dict, held so that its id is not reused; a copy of its contents
# then; the sources parsed from it). A few entries: tests and benchmarks switch settings.
_parsed: dict[int, tuple[Any, Any, dict[type[models.Model], MediaSource]]] = {}


def _snapshot(configured: Any) -> Any:
    if not isinstance(configured, dict):
        return configured
    return {k: dict(v) if isinstance(v, dict) else v for k, v in configured.items()}


def _remember_parse(configured: Any, sources: dict[type[models.Model], MediaSource]) -> None:
    if len(_parsed) >= 8:
        _parsed.clear()
    _parsed[id(configured)] = (configured, _snapshot(configured), sources)


def _parse_sources(configured: Any) -> dict[type[models.Model], MediaSource]:
    sources: dict[type[models.Model], MediaSource] = {}
    for label, options in configured.items():
        try:
            source = parse_source(label, options)
        except Exception as exc:  # also a dotted path whose module fails to import
            logger.error("Ignoring FASTPIX['MEDIA_SOURCES'][%r]: %s", label, exc)
            continue
        sources[source.model] = source
    return sources


def parse_source(label: str, options: Any) -> MediaSource:
    """One ``MEDIA_SOURCES`` entry, validated; raises ImproperlyConfigured naming the problem."""
    if not isinstance(options, dict):
        raise ImproperlyConfigured(f"FASTPIX['MEDIA_SOURCES'][{label!r}] must be a dict.")
    unknown = set(options) - OPTIONS
    if unknown:
        raise ImproperlyConfigured(
            f"FASTPIX['MEDIA_SOURCES'][{label!r}] has unknown option(s): "
            f"{', '.join(sorted(unknown))}."
        )
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        raise ImproperlyConfigured(
            f"FASTPIX['MEDIA_SOURCES'] names {label!r}, which is not an installed model."
        ) from None
    for required in ("url_field", "workspace"):
        if not options.get(required):
            raise ImproperlyConfigured(f"FASTPIX['MEDIA_SOURCES'][{label!r}] needs {required!r}.")
    url_field = options["url_field"]
    try:
        model._meta.get_field(url_field)
    except Exception:
        raise ImproperlyConfigured(
            f"FASTPIX['MEDIA_SOURCES'][{label!r}]: {label} has no field {url_field!r}."
        ) from None
    if options.get("on_url_change", "keep") not in ("keep", "delete"):
        raise ImproperlyConfigured(
            f"FASTPIX['MEDIA_SOURCES'][{label!r}]['on_url_change'] must be 'keep' or 'delete'."
        )
    problem = video_field_problem(model, options.get("video_field"))
    if problem:
        raise ImproperlyConfigured(f"FASTPIX['MEDIA_SOURCES'][{label!r}]['video_field']: {problem}")
    resolved = {k: _resolve(k, v) for k, v in options.items()}
    return MediaSource(model=model, **resolved)


def video_field_problem(model: type[models.Model], name: Any) -> str | None:
    """What is wrong with ``video_field`` naming ``name`` on ``model`` (None: nothing, or unset).

    It must be a foreign key to ``django_fastpix.Media``: a ``VideoField``.
    """
    if name is None:
        return None
    if not isinstance(name, str) or not name:
        return f"must be the name of a VideoField, not {name!r}."
    try:
        field = model._meta.get_field(name)
    except Exception:
        return f"{model._meta.label} has no field {name!r}."
    related = getattr(field, "related_model", None)
    if not getattr(field, "many_to_one", False) or related is None or isinstance(related, str):
        return f"{model._meta.label}.{name} is not a VideoField (a foreign key to Media)."
    if related._meta.label_lower != "django_fastpix.media":
        return f"{model._meta.label}.{name} links to {related._meta.label}, not to Media."
    return None


def source_for(model: type[models.Model]) -> MediaSource | None:
    """The source configuration of ``model`` (None if it is not one)."""
    return media_sources().get(model)
