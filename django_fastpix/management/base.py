"""The base of every fastpix_* command: database and encryption failures end as a CommandError."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor

from ..exceptions import EncryptionKeyError

MIGRATE_HINT = (
    "The database is not migrated (or not up to date): run `manage.py migrate` and try again."
)


class FastPixCommand(BaseCommand):
    """A command whose database and encryption errors print one clear line and exit non-zero.

    Django prints a CommandError as one line and exits 1; any other exception becomes a
    traceback, which an operator cannot act on (and which may show more than it should).
    """

    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute(*args, **options)
        except EncryptionKeyError as exc:
            # Its messages name the row and the remedy, never a key or a value.
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(database_problem(exc, options.get("database"))) from None


def database_problem(exc: DatabaseError, alias: str | None = None) -> str:
    """What to tell an operator about a database error: migrate, or the error's first line."""
    if unapplied_migrations(alias or DEFAULT_DB_ALIAS):
        return MIGRATE_HINT
    # The first line only: PostgreSQL's DETAIL lines may quote the values of a failing row.
    first_line = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"Database error ({type(exc).__name__}): {first_line or 'no details'}"


def unapplied_migrations(alias: str) -> bool:
    """Whether the database lacks migrations (a missing table is the usual cause of the error)."""
    try:
        executor = MigrationExecutor(connections[alias])
        return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))
    except DatabaseError:
        return False  # the database cannot even be asked: the original error says more
