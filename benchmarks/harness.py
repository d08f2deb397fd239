"""What the benchmarks share: the database they measure on, chosen before Django starts, and
the statistics they report.

Each benchmark calls ``use_database()`` first (before ``django.setup()``): it puts the project
on ``sys.path``, selects the test settings, and takes ``--database-url`` from the command line
(a PostgreSQL database is created if it does not exist yet).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Statements that are transaction control rather than work on a table.
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def argv_value(flag: str) -> str | None:
    """The value of ``--flag VALUE`` or ``--flag=VALUE`` in ``sys.argv`` (argparse reads it
    again later; some values are needed before Django is set up)."""
    for i, arg in enumerate(sys.argv):
        if arg == flag and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def use_database(default: str | None = None, *, sqlite_file: str = "bench.sqlite3") -> str:
    """Set up the environment for ``tests.settings`` on the benchmark's database; its URL.

    ``--database-url`` wins, then ``DATABASE_URL`` from the environment, then ``default``, then
    a new SQLite file named ``sqlite_file`` in a temporary folder.
    """
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    given = argv_value("--database-url")
    if given:
        os.environ["DATABASE_URL"] = given
    if "--prepared" in sys.argv:
        os.environ["FASTPIX_TEST_PREPARED"] = "1"  # tests.settings reads it (and subprocesses)
    if "DATABASE_URL" not in os.environ:
        folder = tempfile.mkdtemp(prefix="fastpix-bench-")
        os.environ["DATABASE_URL"] = default or f"sqlite:///{folder}/{sqlite_file}"
    url = os.environ["DATABASE_URL"]
    if url.startswith(("postgres://", "postgresql://")):
        create_postgres_database(url)
    return url


# The README's PostgreSQL tuning, for every benchmark that takes --prepared.
PREPARED_HELP = (
    "PostgreSQL: parameters bound by the server and statements prepared after five runs on a "
    "connection (OPTIONS server_side_binding=True, prepare_threshold=5; see the README)"
)


def prepared_note() -> str:
    """What the printed header adds when --prepared is on."""
    return ", prepared statements" if os.environ.get("FASTPIX_TEST_PREPARED") else ""


def create_postgres_database(url: str) -> None:
    """CREATE DATABASE for a PostgreSQL URL whose database does not exist yet."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """First quartile, median and third quartile (a single value stands for all three)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3
