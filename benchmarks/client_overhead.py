"""Per-call cost of the service layer vs bare requests vs the official SDK, on loopback.

    python benchmarks/client_overhead.py [--calls 400]

All three create media on the same fake FastPix, interleaved call by call in one process so
that machine noise hits them alike. The fake runs in its own process (as FastPix would be
remote): in-process, its threads share the GIL with the contenders and distort the figures.
Prints medians and ratios against (b):
(a) django_fastpix.services.api.call(workspace, FastPixClient.create_media, url): token
    lookup in the database, decryption, scope check, signing, retries armed, response parsed;
(b) a reused requests.Session().post(url, json=..., auth=(id, secret)), the floor;
(c) the official fastpix-python SDK's input_video.create_media.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
# The token store's database; SQLite in memory unless --database-url (read before setup) says.
for _i, _arg in enumerate(sys.argv):
    if _arg == "--database-url" and _i + 1 < len(sys.argv):
        os.environ["DATABASE_URL"] = sys.argv[_i + 1]
os.environ.setdefault("DATABASE_URL", "sqlite:///:memory:")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from django_fastpix.client import FastPixClient  # noqa: E402
from django_fastpix.models import Workspace  # noqa: E402
from django_fastpix.services import api  # noqa: E402
from django_fastpix.services.tokens import add_token  # noqa: E402

TOKEN_ID, SECRET = "bench-token-id-0001", "bench-secret-key-0001"
URL = "https://example.com/video.mp4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400, help="calls per contender")
    parser.add_argument(
        "--database-url",
        default=os.environ["DATABASE_URL"],
        help="token store database (default SQLite in memory; e.g. postgres://postgres@127.0.0.1/"
        "bench — the database is created from scratch, so use a throwaway one)",
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
        measure(args.calls, fake, args.database_url)
    finally:
        fake.terminate()
        fake.wait(10)


def measure(calls: int, fake: subprocess.Popen[str], database_url: str) -> None:
    """Run the contenders interleaved and print the table."""
    assert fake.stdout is not None
    base_url = next(line.split()[-1] for line in fake.stdout if "http://" in line).rstrip("/")
    settings.FASTPIX = {"API_BASE_URL": base_url}
    call_command("migrate", verbosity=0)
    # A fresh workspace each run, so a reused PostgreSQL database works too.
    workspace = Workspace.objects.create(name="bench", slug=f"bench-{os.getpid()}")
    add_token(workspace=workspace, name="bench", token_id=TOKEN_ID, secret_key=SECRET)

    session = requests.Session()
    body = {"inputs": [{"type": "video", "url": URL}], "accessPolicy": "public"}

    def service() -> None:
        api.call(workspace, FastPixClient.create_media, URL, access_policy="public")

    def bare() -> None:
        response = session.post(f"{base_url}/on-demand", json=body, auth=(TOKEN_ID, SECRET))
        response.raise_for_status()
        response.json()

    from fastpix_python import Fastpix, models

    sdk = Fastpix(
        server_url=base_url,
        security=models.Security(username=TOKEN_ID, password=SECRET),
    )

    sdk_inputs: Any = [{"type": "video", "url": URL}]

    def official() -> None:
        sdk.input_video.create_media(inputs=sdk_inputs, access_policy="public")

    from django_fastpix.client import Credentials, Transport

    client = FastPixClient(Credentials(TOKEN_ID, SECRET), transport=Transport.from_settings())

    def client_only() -> None:
        client.create_media(URL, access_policy="public")

    contenders = {
        "(x) client only": client_only,
        "(a) service layer": service,
        "(b) bare requests": bare,
        "(c) official SDK": official,
    }
    timings: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(30):  # warm up connections, caches, lazy imports
        for fn in contenders.values():
            fn()
    for i in range(calls):
        # Rotate the order each round so no contender always runs first.
        names = list(contenders)
        names = names[i % len(names) :] + names[: i % len(names)]
        for name in names:
            start = time.perf_counter()
            contenders[name]()
            timings[name].append(time.perf_counter() - start)
    base = statistics.median(timings["(b) bare requests"])
    print(f"token store: {connection.vendor} ({database_url.split('@')[-1]})")
    print(f"{'contender':<22}{'median µs':>12}{'p90 µs':>10}{'x (b)':>8}   ({calls} calls each)")
    for name, samples in timings.items():
        med = statistics.median(samples)
        p90 = statistics.quantiles(samples, n=10)[-1]
        print(f"{name:<22}{med * 1e6:>12.0f}{p90 * 1e6:>10.0f}{med / base:>8.2f}")
    ratio = statistics.median(timings["(a) service layer"]) / base
    floor = 1.15
    print(f"\nfloor (a) <= {floor} x (b): {'met' if ratio <= floor else 'NOT MET'} ({ratio:.2f})")


if __name__ == "__main__":
    main()
