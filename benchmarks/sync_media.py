"""Sync of 10,000 media: a first sync and a no-change sync, against listing the same pages bare.

    python benchmarks/sync_media.py                      # SQLite (a new temporary file)
    python benchmarks/sync_media.py --database-url postgres://postgres@127.0.0.1:5432/fastpix_bench_sync

The fake FastPix runs in its own process (as FastPix would be remote), started with
``--seed-media 10000``: ready media with one playback id each. Each round, in a random order:
(a) first sync: ``sync_media(workspace)`` into a workspace with no local media;
(b) no-change sync: the same again, with every row already current (always after (a));
(l) bare listing: the same pages fetched with a reused ``requests.Session`` and ``.json()``,
    the floor of any sync (what FastPix and the network cost).
Rows made by (a) are deleted before the next round and at the end (outside the timers).
PostgreSQL tables are analysed after each first sync, as a live database's autovacuum would.
Printed: median seconds of each kind over the rounds (with the spread), the ratio to the bare
listing, table statements per page (transaction control left out), the growth of the page time
from the first tenth of the pages to the last, and the plan of the last round's last page read,
on the full table.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from harness import PREPARED_HELP, ROOT, TRANSACTION_CONTROL, prepared_note, quartiles, use_database

use_database(sqlite_file="sync.sqlite3")  # before Django starts

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from django_fastpix.client.pagination import MAX_PAGE_SIZE  # noqa: E402
from django_fastpix.models import Media, PlaybackId, Workspace  # noqa: E402
from django_fastpix.services.sync import SyncReport, sync_media  # noqa: E402
from django_fastpix.services.tokens import add_token  # noqa: E402

TOKEN_ID, SECRET = "bench-sync-token-01", "bench-sync-secret-01"
FLOOR_SECONDS = 10.0
FLOOR_QUERIES_PER_PAGE = 4


def start_fake(count: int) -> tuple[subprocess.Popen[str], str]:
    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "django_fastpix.testing",
            "--port",
            "0",
            "--token",
            f"{TOKEN_ID}:{SECRET}",
            "--seed-media",
            str(count),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert fake.stdout is not None
    base_url = ""
    for line in fake.stdout:
        if "listening on" in line:
            base_url = line.split()[-1].rstrip("/")
        if line.startswith("media in"):
            break
    return fake, base_url


class Run:
    """One sync with its per-page times and table statements."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.page_seconds: list[float] = []
        self.page_statements: list[int] = []
        self.report = SyncReport()
        self.seconds = 0.0
        self.reads: list[str] = []

    def __call__(self) -> None:
        # The log keeps 9,000 statements; earlier runs must not push this one's out of it.
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as ctx:
            marks = [(time.perf_counter(), 0)]

            def progress(report: SyncReport) -> None:
                marks.append((time.perf_counter(), len(ctx.captured_queries)))

            started = time.perf_counter()
            self.report = sync_media(self.workspace, progress=progress)
            self.seconds = time.perf_counter() - started
        statements = [q["sql"] for q in ctx.captured_queries]
        for (t0, q0), (t1, q1) in itertools.pairwise(marks):
            self.page_seconds.append(t1 - t0)
            self.page_statements.append(
                sum(1 for s in statements[q0:q1] if not s.startswith(TRANSACTION_CONTROL))
            )
        self.reads = [s for s in statements if "FOR UPDATE" in s or "fastpix_known" in s]


def bare_listing(base_url: str, pages: int) -> Callable[[], None]:
    session = requests.Session()

    def run() -> None:
        for offset in range(1, pages + 1):
            response = session.get(
                f"{base_url}/on-demand",
                params={"limit": MAX_PAGE_SIZE, "offset": offset, "orderBy": "asc"},
                auth=(TOKEN_ID, SECRET),
            )
            response.raise_for_status()
            assert response.json()["data"]

    return run


def clear(workspace: Workspace) -> None:
    PlaybackId.objects.filter(media__workspace=workspace).delete()
    Media.objects.filter(workspace=workspace).delete()


def analyse() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE django_fastpix_media")
            cursor.execute("ANALYZE django_fastpix_playbackid")


def plan(sql: str) -> list[str]:
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql)
        lines = [" | ".join(str(c) for c in row) for row in cursor.fetchall()]
    # The page's 50 ids, spelt out, would hide the plan's shape.
    return [re.sub(r"'\{[^}]{80,}\}'", "'{…the page's ids…}'", line) for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prepared", action="store_true", help=PREPARED_HELP)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--database-url",
        default=os.environ["DATABASE_URL"],
        help="the site database (default: a new SQLite file); migrated in place and its "
        "benchmark workspace emptied, so use a throwaway one",
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    fake, base_url = start_fake(args.media)
    try:
        settings.FASTPIX = {**settings.FASTPIX, "API_BASE_URL": base_url}
        workspace, _ = Workspace.objects.get_or_create(slug="bench-sync", defaults={"name": "b"})
        workspace.tokens.all().delete()
        add_token(workspace=workspace, name="bench", token_id=TOKEN_ID, secret_key=SECRET)
        clear(workspace)
        measure(args, workspace, base_url)
    finally:
        fake.terminate()
        fake.wait(10)


def measure(args: argparse.Namespace, workspace: Workspace, base_url: str) -> None:
    pages = -(-args.media // MAX_PAGE_SIZE)
    listing = bare_listing(base_url, pages)
    listing()  # warm up: connections, lazy imports
    rng = random.Random(args.seed)
    seconds: dict[str, list[float]] = {"first sync": [], "no-change sync": [], "listing": []}
    runs: dict[str, list[Run]] = {"first sync": [], "no-change sync": []}
    for _ in range(args.rounds):
        order = ["syncs", "listing"]
        rng.shuffle(order)
        for step in order:
            if step == "listing":
                started = time.perf_counter()
                listing()
                seconds["listing"].append(time.perf_counter() - started)
                continue
            clear(workspace)  # the previous round's rows
            first, again = Run(workspace), Run(workspace)
            first()
            analyse()
            again()
            assert first.report.created == args.media, first.report
            assert again.report.unchanged == args.media, again.report
            for name, run in (("first sync", first), ("no-change sync", again)):
                seconds[name].append(run.seconds)
                runs[name].append(run)
    print(
        f"database: {connection.vendor} ({settings.DATABASES['default']['NAME']}"
        f"{prepared_note()}); "
        f"{args.media} media, {pages} pages of {MAX_PAGE_SIZE}, {args.rounds} rounds"
    )
    print(
        f"{'kind':<16}{'median s':>10}{'IQR s':>14}{'x listing':>11}"
        f"{'statements/page':>17}{'page time, last/first tenth':>29}"
    )
    rows = []
    listing_median = quartiles(seconds["listing"])[1]
    for name, values in seconds.items():
        q1, q2, q3 = quartiles(values)
        per_page, growth = "", ""
        if name in runs:
            counts = [c for run in runs[name] for c in run.page_statements[1:]]
            per_page = f"{statistics.median(counts):.0f} (max {max(counts)})"
            tenth = max(1, pages // 10)
            growth_values = [
                statistics.median(run.page_seconds[-tenth:])
                / statistics.median(run.page_seconds[1 : tenth + 1])
                for run in runs[name]
            ]
            growth = f"{statistics.median(growth_values):.2f} x"
        print(
            f"{name:<16}{q2:>10.2f}{f'{q1:.2f}-{q3:.2f}':>14}{q2 / listing_median:>11.2f}"
            f"{per_page:>17}{growth:>29}"
        )
        rows.append((name, q1, q2, q3, per_page, growth))
    worst = max(quartiles(seconds[name])[1] for name in runs)
    most = max(c for name in runs for run in runs[name] for c in run.page_statements[1:])
    verdict = "met" if worst <= FLOOR_SECONDS else "NOT MET"
    print(
        f"\nfloor <= {FLOOR_SECONDS:.0f} s per sync: {verdict}"
        f" (slowest median {worst:.2f} s); <= {FLOOR_QUERIES_PER_PAGE} statements a page: "
        f"{'met' if most <= FLOOR_QUERIES_PER_PAGE else 'NOT MET'} (most {most}; the first "
        "page also takes the workspace's hold and stamps the token's use)"
    )
    # The plan of the last round's last page read, on the full (analysed) table it ran on.
    print("\nplan of the page read (last page, full table):")
    for line in plan(runs["no-change sync"][-1].reads[-1]):
        print(f"  {line}")
    clear(workspace)
    print("\nmarkdown rows:")
    for name, q1, q2, q3, per_page, growth in rows:
        print(
            f"| {connection.vendor} | sync of {args.media} media, {name} | {q2:.2f} s "
            f"({q1:.2f}-{q3:.2f}) | {q2 / listing_median:.2f} x listing | {per_page} | {growth} |"
        )


if __name__ == "__main__":
    main()
