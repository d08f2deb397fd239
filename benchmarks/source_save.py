"""What registering a model as a media source adds to its saves.

    python benchmarks/source_save.py [--database-url URL] [--rounds 20] [--calls 50]

The registered model is the test site's ``Lesson``, registered as the README shows a source
(a workspace slug, a title field) with a ``video_field``; the unregistered one is a proxy of
it (same table, same columns, same INSERT), which no receiver listens to. Pairs, each
contender interleaved call by call in a random order:
- new: ``objects.create(title=..., video_url=...)`` in autocommit, and inside
  ``transaction.atomic()`` (as the admin saves); the registered save records a pending media
  (its creation is queued on commit: the task backend here is a dummy that keeps the job in
  memory, so the queue's own cost, one INSERT or one Redis call, is not counted);
- new in atomic(), option callables: the test settings' source (workspace and metadata from
  callables: site code, so the app's work keeps a savepoint of its own on PostgreSQL);
- new, no video field: the plain source without ``video_field`` (no pointer to write back);
- unchanged: a loaded object saved again with a new title and the same URL.
Prints medians over rounds (each round's figure: the median of its calls) with the IQR, the
extra time (median of the per-round differences) and ratio against the unregistered save, and
the statements each save runs (counted apart from the timings). The database is migrated in
place (default: an in-memory SQLite database): use a throwaway one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from harness import PREPARED_HELP, TRANSACTION_CONTROL, prepared_note, quartiles, use_database

use_database("sqlite:///:memory:")  # before Django starts

import tests.settings as _test_settings  # noqa: E402

try:
    import django.tasks

    _DUMMY = "django.tasks.backends.dummy.DummyBackend"
except ImportError:
    _DUMMY = "django_tasks.backends.dummy.DummyBackend"
_test_settings.TASKS["bench"] = {"BACKEND": _DUMMY}
if "--async-commit" in sys.argv:
    _db = _test_settings.DATABASES["default"]
    if _db["ENGINE"].endswith("sqlite3"):
        _db.setdefault("OPTIONS", {})["init_command"] = "PRAGMA synchronous=OFF"
    else:
        _db.setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from django_fastpix.models import Workspace  # noqa: E402
from tests.testapp.models import Lesson  # noqa: E402


class PlainLesson(Lesson):
    """The same table, unregistered: no receiver listens to a proxy's saves."""

    class Meta:
        proxy = True
        app_label = "testapp"


EXTRA_FLOOR_US = 1000


def contenders() -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """name -> (unregistered save, registered save)."""
    call_command("migrate", verbosity=0)
    Workspace.objects.get_or_create(slug="prod", defaults={"name": "bench"})
    plain = {"url_field": "video_url", "workspace": "prod", "title": "title"}
    callables_settings = {**settings.FASTPIX, "TASK_BACKEND": "bench"}
    settings.FASTPIX = {
        **callables_settings,
        "MEDIA_SOURCES": {"testapp.Lesson": {**plain, "video_field": "video"}},
    }
    with_field_settings = settings.FASTPIX
    without_field_settings = {**settings.FASTPIX, "MEDIA_SOURCES": {"testapp.Lesson": plain}}
    counter = iter(range(10**9))

    def url() -> str:
        return f"https://cdn.example.com/lesson-{next(counter)}.mp4"

    def create(model: type[Lesson]) -> Callable[[], object]:
        return lambda: model.objects.create(title="A lesson", video_url=url())

    def create_in_atomic(model: type[Lesson]) -> Callable[[], object]:
        def run() -> None:
            with transaction.atomic():
                model.objects.create(title="A lesson", video_url=url())

        return run

    def create_with(
        fastpix: dict[str, Any], in_atomic: bool
    ) -> Callable[..., Callable[[], object]]:
        def contender(model: type[Lesson]) -> Callable[[], object]:
            def run() -> None:
                settings.FASTPIX = fastpix
                try:
                    with transaction.atomic() if in_atomic else contextlib.nullcontext():
                        model.objects.create(title="A lesson", video_url=url())
                finally:
                    settings.FASTPIX = with_field_settings

            return run

        return contender

    create_without_field = create_with(without_field_settings, in_atomic=False)
    create_with_callables = create_with(callables_settings, in_atomic=True)

    def unchanged(model: type[Lesson]) -> Callable[[], object]:
        obj = model.objects.get(pk=model.objects.create(title="x", video_url=url()).pk)
        titles = iter(range(10**9))

        def run() -> None:
            obj.title = f"Renamed {next(titles)}"
            obj.save()

        return run

    return {
        "new": (create(PlainLesson), create(Lesson)),
        "new in atomic()": (create_in_atomic(PlainLesson), create_in_atomic(Lesson)),
        "new in atomic(), callables": (
            create_with_callables(PlainLesson),
            create_with_callables(Lesson),
        ),
        "new, no video_field": (
            create_without_field(PlainLesson),
            create_without_field(Lesson),
        ),
        "unchanged URL": (unchanged(PlainLesson), unchanged(Lesson)),
    }


def count(fn: Callable[[], object]) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    statements = [q["sql"] for q in ctx.captured_queries]
    return len([s for s in statements if not s.startswith(TRANSACTION_CONTROL)]), len(statements)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--prepared", action="store_true", help=PREPARED_HELP)
    parser.add_argument("--calls", type=int, default=50, help="calls per contender per round")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--database-url",
        default=os.environ["DATABASE_URL"],
        help="the site database (default SQLite in memory; a PostgreSQL one is migrated in "
        "place, so use a throwaway one, e.g. postgres://postgres@127.0.0.1/fastpix_bench_save)",
    )
    parser.add_argument(
        "--async-commit",
        action="store_true",
        help="commits that do not wait for the disk (PostgreSQL synchronous_commit=off, "
        "SQLite synchronous=OFF): the app's own cost without the machine's fsync latency",
    )
    args = parser.parse_args()
    pairs = contenders()
    fns: dict[tuple[str, str], Callable[[], object]] = {}
    for name, (plain, registered) in pairs.items():
        fns[(name, "unregistered")] = plain
        fns[(name, "registered")] = registered
    for _ in range(20):  # warm up: connections, caches, lazy imports
        for fn in fns.values():
            fn()
    queries = {key: count(fn) for key, fn in fns.items()}
    rng = random.Random(args.seed)
    keys = list(fns)
    medians: dict[Any, list[float]] = {key: [] for key in keys}
    for _ in range(args.rounds):
        samples: dict[Any, list[float]] = {key: [] for key in keys}
        for _ in range(args.calls):
            rng.shuffle(keys)
            for key in keys:
                started = time.perf_counter()
                fns[key]()
                samples[key].append(time.perf_counter() - started)
        for key in keys:
            medians[key].append(statistics.median(samples[key]))

    vendor = connection.vendor
    name_of_db = settings.DATABASES["default"]["NAME"]
    async_note = ", asynchronous commits" if args.async_commit else ""
    print(
        f"database: {vendor} ({name_of_db}{async_note}{prepared_note()}); "
        f"{args.rounds} rounds x {args.calls} calls per contender"
    )
    print(
        f"{'save':<28}{'unregistered µs':>18}{'registered µs':>18}{'extra µs':>18}"
        f"{'x':>18}{'statements':>14}"
    )
    rows = []
    worst_new = 0.0
    for name in pairs:
        plain, registered = medians[(name, "unregistered")], medians[(name, "registered")]
        p = quartiles(plain)
        r = quartiles(registered)
        extra = quartiles([b - a for a, b in zip(plain, registered, strict=True)])
        ratio = quartiles([b / a for a, b in zip(plain, registered, strict=True)])
        qp, qr = queries[(name, "unregistered")], queries[(name, "registered")]
        statements = f"{qp[0]}→{qr[0]} ({qp[1]}→{qr[1]})"
        print(
            f"{name:<28}{f'{p[1] * 1e6:.0f} ({p[0] * 1e6:.0f}-{p[2] * 1e6:.0f})':>18}"
            f"{f'{r[1] * 1e6:.0f} ({r[0] * 1e6:.0f}-{r[2] * 1e6:.0f})':>18}"
            f"{f'{extra[1] * 1e6:+.0f} ({extra[0] * 1e6:+.0f}-{extra[2] * 1e6:+.0f})':>18}"
            f"{f'{ratio[1]:.2f} ({ratio[0]:.2f}-{ratio[2]:.2f})':>18}{statements:>14}"
        )
        rows.append((name, p, r, extra, ratio, qp, qr))
        worst_new = max(worst_new, extra[1] * 1e6)
    print(
        "statements: table statements unregistered→registered (all, incl. BEGIN/COMMIT/savepoints)"
    )
    verdict = "met" if worst_new <= EXTRA_FLOOR_US else "NOT MET"
    print(f"\nfloor <= {EXTRA_FLOOR_US} µs extra: {verdict} (worst median {worst_new:.0f} µs)")
    print("\nmarkdown rows:")
    for name, p, r, extra, ratio, qp, qr in rows:
        print(
            f"| {vendor} | registered save, {name} | {r[1] * 1e6:.0f} µs vs {p[1] * 1e6:.0f} µs "
            f"| {extra[1] * 1e6:+.0f} µs ({extra[0] * 1e6:+.0f}-{extra[2] * 1e6:+.0f}) "
            f"| {ratio[1]:.2f} x | +{qr[0] - qp[0]} ({qp[0]}→{qr[0]}; all {qp[1]}→{qr[1]}) |"
        )


if __name__ == "__main__":
    main()
