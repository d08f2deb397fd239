"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator

import pytest
from cryptography.fernet import Fernet
from hypothesis import settings as hypothesis_settings

from django_fastpix.models import AccessToken, Workspace
from django_fastpix.scopes import Scope
from django_fastpix.services.tokens import add_token

pytest_plugins = ["django_fastpix.testing.pytest_plugin"]

# In CI, property tests run a fixed set of examples so that a run is repeatable; locally they
# explore (and remember failures in .hypothesis/).
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

SECRET = "sk_live_Zq8wX3vN9pL2mK7tR4yB6cD1fG5hJ0aE"  # what every secret-leak test searches for


def pytest_configure(config: pytest.Config) -> None:
    # CI sets FASTPIX_REQUIRE_POSTGRES=1 for its PostgreSQL run: a run that silently fell back
    # to SQLite would pass for the wrong reason.
    if os.environ.get("FASTPIX_REQUIRE_POSTGRES") and not os.environ.get(
        "DATABASE_URL", ""
    ).startswith(("postgres://", "postgresql://", "pgsql://")):
        raise pytest.UsageError(
            "FASTPIX_REQUIRE_POSTGRES is set but DATABASE_URL is not PostgreSQL"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # The SQLite files of this run live in a private temporary directory.
    from tests import settings as test_settings

    if test_settings._SQLITE_DIR:
        shutil.rmtree(test_settings._SQLITE_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """The app keeps short-lived state in the cache (a paused signing-key creation): each
    test starts without another test's."""
    from django.core.cache import cache

    from django_fastpix.services import webhook_workspaces

    cache.clear()
    webhook_workspaces.forget()  # rows a rolled-back test created send no signal when gone
    yield
    cache.clear()


@pytest.fixture
def workspace(db: None) -> Workspace:
    return Workspace.objects.create(name="Production", slug="prod", environment="production")


@pytest.fixture
def other_workspace(db: None) -> Workspace:
    return Workspace.objects.create(name="Development", slug="dev", environment="development")


@pytest.fixture
def make_token(workspace: Workspace) -> Callable[..., AccessToken]:
    counter = iter(range(1, 10_000))

    def make(
        *,
        ws: Workspace | None = None,
        scope: Scope = Scope.READ_WRITE,
        token_id: str | None = None,
        secret_key: str = SECRET,
        name: str | None = None,
        system: Scope = Scope.NONE,
    ) -> AccessToken:
        n = next(counter)
        return add_token(
            workspace=ws or workspace,
            name=name or f"token {n}",
            token_id=token_id or f"tok_{n:04d}_a1b2c3d4e5f6",
            secret_key=secret_key,
            scope=scope,
            system_scope=system,
        )

    return make


@pytest.fixture
def new_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def fake_api(fastpix_fake, settings):
    """The fake FastPix as the app's API, with backoff shrunk so retry tests run fast."""
    settings.FASTPIX = {
        **settings.FASTPIX,
        "API_BASE_URL": fastpix_fake.base_url,
        "RETRY_BACKOFF_BASE": 0.001,
        "RETRY_BACKOFF_MAX": 0.01,
        "RETRY_AFTER_MAX": 2.0,
        "READ_TIMEOUT": 2.0,
        "CONNECT_TIMEOUT": 2.0,
        # Players and images are served (and their tokens checked) by the fake too.
        "STREAM_BASE_URL": fastpix_fake.stream_base_url,
        "IMAGE_BASE_URL": fastpix_fake.image_base_url,
    }
    return fastpix_fake


@pytest.fixture
def fake_token(fake_api, make_token):
    """Add a token both to FastPix (the fake) and to the local store."""

    def add(
        *,
        ws: Workspace | None = None,
        scope: Scope = Scope.READ_WRITE,
        fake_scope: str | None = None,
        fake_workspace: str = "ws-default",
        token_id: str | None = None,
        secret_key: str = SECRET,
        system: Scope = Scope.NONE,
        fake_system: str | None = None,
    ) -> AccessToken:
        """``system``: the signing-key permission recorded locally; ``fake_system``: what
        FastPix (the fake) really granted, when a test needs the two to differ."""
        token = make_token(
            ws=ws, scope=scope, token_id=token_id, secret_key=secret_key, system=system
        )
        fake_api.add_token(
            token.credentials().token_id,
            secret_key,
            fake_scope or str(scope),
            fake_workspace,
            system=fake_system or str(system),
        )
        return token

    return add


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a separate Django process sharing this test's database."""
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        url = f"sqlite:///{s['NAME']}"
    else:
        url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": url, **extra}
