"""Per-call cost of the service layer vs bare requests (+ one SELECT) vs the official SDK.

    python benchmarks/client_overhead.py                  # token store: SQLite in memory
    python benchmarks/client_overhead.py --database-url postgres://postgres@127.0.0.1:5432/fastpix_bench

All contenders create media on the same fake FastPix on loopback. The fake runs in its own
process (as FastPix would be remote): in-process, its threads would share the GIL with the
contenders. Each round makes ``--calls`` calls per contender, the contenders of each call
slot in a fresh random order (a fixed rotation always puts one contender right after the
slow SDK call, which biases it); a round's figure is its median, the table shows the median
of the rounds' figures and their spread (interquartile range), and ratios taken round by
round (so slow drift of the machine cancels out):

(a) service layer: ``django_fastpix.services.api.call(workspace, FastPixClient.create_media,
    url)``: token pick and shared-limits read in one query, scope check, signing, retries
    armed, 429/circuit bookkeeping, response parsed into a typed ``Media``;
(b) bare: a reused ``requests.Session().post(url, json=..., auth=(id, secret))``, ``.json()``;
(b+s) bare + one indexed primary-key ``SELECT`` on the token table of the same database
    (through Django's connection), the floor a call that honours revokes can reach;
(c) the official ``fastpix-python`` SDK's ``input_video.create_media``.

The database named by --database-url is created if missing (PostgreSQL) and migrated; each run
adds its own workspace, so a reused database works.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from harness import PREPARED_HELP, ROOT, prepared_note, quartiles, use_database

use_database("sqlite:///:memory:")  # the token store; before Django starts

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from django_fastpix.client import FastPixClient  # noqa: E402
from django_fastpix.models import AccessToken, Workspace  # noqa: E402
from django_fastpix.services import api  # noqa: E402
from django_fastpix.services.tokens import add_token  # noqa: E402

TOKEN_ID, SECRET = "bench-token-id-0001", "bench-secret-key-0001"
URL = "https://example.com/video.mp4"
SERVICE, BARE, BARE_SELECT, SDK = "(a) service layer", "(b) bare", "(b+s) bare + SELECT", "(c) SDK"
FLOOR = 1.05  # (a) <= FLOOR x (b+s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds (default 20)")
    parser.add_argument("--prepared", action="store_true", help=PREPARED_HELP)
    parser.add_argument("--calls", type=int, default=60, help="calls per contender per round")
    parser.add_argument("--no-sdk", action="store_true", help="leave the official SDK out")
    parser.add_argument("--seed", type=int, default=None, help="seed of the order shuffle")
    parser.add_argument(
        "--database-url",
        default=os.environ["DATABASE_URL"],
        help="token store database (default SQLite in memory), e.g. "
        "postgres://postgres@127.0.0.1:5432/fastpix_bench (created if missing)",
    )
    args = parser.parse_args()

    fake = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "django_fastpix.testing",
            "--port",
            "0",
            "--token",
            f"{TOKEN_ID}:{SECRET}",
            "--processing-seconds",
            "3600",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        measure(args, fake)
    finally:
        fake.terminate()
        fake.wait(10)


def contenders(base_url: str, with_sdk: bool) -> dict[str, Callable[[], object]]:
    """The calls compared, each creating one media on the fake."""
    settings.FASTPIX = {"API_BASE_URL": base_url}
    call_command("migrate", verbosity=0)
    # A fresh workspace each run, so a reused PostgreSQL database works too.
    workspace = Workspace.objects.create(name="bench", slug=f"bench-{os.getpid()}-{time.time()}")
    token = add_token(workspace=workspace, name="bench", token_id=TOKEN_ID, secret_key=SECRET)

    session = requests.Session()
    body = {"inputs": [{"type": "video", "url": URL}], "accessPolicy": "public"}
    select = f"SELECT status FROM {AccessToken._meta.db_table} WHERE id = %s"

    def service() -> None:
        api.call(workspace, FastPixClient.create_media, URL, access_policy="public")

    def bare() -> None:
        response = session.post(f"{base_url}/on-demand", json=body, auth=(TOKEN_ID, SECRET))
        response.raise_for_status()
        response.json()

    def bare_select() -> None:
        with connection.cursor() as cursor:
            cursor.execute(select, [token.pk])
            cursor.fetchone()
        bare()

    chosen: dict[str, Callable[[], object]] = {
        SERVICE: service,
        BARE: bare,
        BARE_SELECT: bare_select,
    }
    if with_sdk:
        from fastpix_python import Fastpix, models

        sdk = Fastpix(
            server_url=base_url, security=models.Security(username=TOKEN_ID, password=SECRET)
        )
        sdk_inputs: Any = [{"type": "video", "url": URL}]

        def official() -> None:
            sdk.input_video.create_media(inputs=sdk_inputs, access_policy="public")

        chosen[SDK] = official
    return chosen


def measure(args: argparse.Namespace, fake: subprocess.Popen[str]) -> None:
    """Run the rounds and print the table (and markdown rows for the README)."""
    assert fake.stdout is not None
    base_url = next(line.split()[-1] for line in fake.stdout if "http://" in line).rstrip("/")
    fns = contenders(base_url, not args.no_sdk)
    rng = random.Random(args.seed)
    names = list(fns)
    for _ in range(30):  # warm up connections, caches, lazy imports
        for name in names:
            fns[name]()
    medians: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        samples: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(args.calls):
            rng.shuffle(names)
            for name in names:
                started = time.perf_counter()
                fns[name]()
                samples[name].append(time.perf_counter() - started)
        for name in names:
            medians[name].append(statistics.median(samples[name]))

    def ratios(name: str, against: str) -> tuple[float, float, float]:
        return quartiles([a / b for a, b in zip(medians[name], medians[against], strict=True)])

    store = f"{connection.vendor} ({args.database_url.split('@')[-1]}{prepared_note()})"
    print(f"token store: {store}; {args.rounds} rounds x {args.calls} calls per contender")
    print(f"{'contender':<22}{'median µs':>11}{'IQR µs':>17}{'x (b)':>20}{'x (b+s)':>20}")
    rows = []
    for name in fns:
        q1, q2, q3 = quartiles(medians[name])
        rb = ratios(name, BARE)
        rs = ratios(name, BARE_SELECT)
        print(
            f"{name:<22}{q2 * 1e6:>11.0f}{f'{q1 * 1e6:.0f}-{q3 * 1e6:.0f}':>17}"
            f"{f'{rb[1]:.3f} ({rb[0]:.2f}-{rb[2]:.2f})':>20}"
            f"{f'{rs[1]:.3f} ({rs[0]:.2f}-{rs[2]:.2f})':>20}"
        )
        rows.append((name, q1, q2, q3, rb, rs))
    ratio = ratios(SERVICE, BARE_SELECT)[1]
    verdict = "met" if ratio <= FLOOR else "NOT MET"
    print(f"\nfloor (a) <= {FLOOR} x (b+s): {verdict} ({ratio:.3f})")
    print("\nmarkdown rows:")
    for name, q1, q2, q3, rb, rs in rows:
        print(
            f"| {connection.vendor} | {name} | {q2 * 1e6:.0f} µs ({q1 * 1e6:.0f}-{q3 * 1e6:.0f}) "
            f"| {rb[1]:.2f} x | {rs[1]:.2f} x |"
        )


if __name__ == "__main__":
    main()
