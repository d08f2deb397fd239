"""Webhook ingestion: verified deliveries per second, in-process, against an echo view.

    python benchmarks/webhook_ingestion.py [--database-url URL] [--rounds 20] [--calls 50]
    python benchmarks/webhook_ingestion.py --database-url URL --server   # + CONN_MAX_AGE
    python benchmarks/webhook_ingestion.py --database-url URL --task-backend rq  # (q) on Redis
    python benchmarks/webhook_ingestion.py --database-url URL --prepared  # the README's tuning

Contenders, each a POST through Django's test Client with the test settings' middleware,
interleaved call by call in a random order (a new order for every call):
(a) delivery: a signed ``video.media.ready`` or ``video.media.updated`` event (a new event id
    each time) for one of 50 media the site knows (ready, with their playback id): verify,
    store, apply, answer;
(b) duplicate: a redelivery of an event already processed;
(c) echo: a view that reads the body and answers JSON, behind the same middleware (the floor
    of any view);
(q) queued delivery: (a) with ``FASTPIX["WEBHOOK_PROCESSING"] = "queued"``: verify, store, queue
    the job on a real queue (``--task-backend``: ``queue``, django-tasks-db in the same database,
    the default; ``rq``, django-tasks-rq on the local Redis), answer. No worker runs during the
    benchmark: this is what FastPix waits for; the jobs are removed afterwards.
Prints medians over rounds (a round's figure is the median of its calls) with the IQR, the
deliveries per second they mean, ratios against (c) computed round by round, and the queries
each kind costs (counted apart from the timings). With ``--server``, the same deliveries are
also posted over HTTP to two real WSGI servers (wsgiref, in subprocesses), one with Django's
default ``CONN_MAX_AGE = 0`` (a new database connection for every request) and one with
``CONN_MAX_AGE = 600``, interleaved at random. The database is migrated in place (SQLite: a new
temporary file unless --database-url says otherwise): use a throwaway one.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from harness import PREPARED_HELP, ROOT, TRANSACTION_CONTROL, prepared_note, quartiles, use_database

# Queued deliveries go to a Redis database of their own unless REDIS_URL says otherwise.
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
if "rq-pooled" in sys.argv:  # --task-backend rq-pooled: the README's pooled RQ set-up
    os.environ["FASTPIX_TEST_RQ_POOLED"] = "1"
use_database(sqlite_file="webhooks.sqlite3")  # before Django starts
import tests.settings as _test_settings  # noqa: E402

if "--serve" in sys.argv:  # the WSGI server subprocess: its CONN_MAX_AGE from the environment
    _test_settings.DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ["BENCH_CONN_MAX_AGE"])
if "--async-commit" in sys.argv or os.environ.get("BENCH_ASYNC_COMMIT"):
    # Commits that do not wait for the disk: the app's cost without the machine's fsync.
    os.environ["BENCH_ASYNC_COMMIT"] = "1"
    _db = _test_settings.DATABASES["default"]
    if _db["ENGINE"].endswith("sqlite3"):
        _db.setdefault("OPTIONS", {})["init_command"] = "PRAGMA synchronous=OFF"
    else:
        _db.setdefault("OPTIONS", {})["options"] = "-c synchronous_commit=off"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402
from django.views.decorators.http import require_POST  # noqa: E402

from django_fastpix.models import Media, MediaStatus, PlaybackId, Workspace  # noqa: E402
from django_fastpix.services.media import reference_key  # noqa: E402
from django_fastpix.services.webhooks import SIGNATURE_HEADER, signature  # noqa: E402

SECRET = base64.b64encode(b"benchmark-webhook-secret-32-byte").decode()
SLUG = "bench-webhooks"
KNOWN_MEDIA = 50
FLOOR_PER_SECOND = 500


@csrf_exempt
@require_POST
def echo(request: HttpRequest) -> HttpResponse:
    """The baseline: a view that reads the body and answers, nothing else."""
    return JsonResponse({"detail": "echo", "bytes": len(request.read())})


urlpatterns = [
    path("echo/", echo),
    path("fastpix/", include("django_fastpix.urls")),
]


def prepare() -> list[tuple[str, str, str]]:
    """Migrate, and make the workspace and its known media: (fastpix id, playback id, ref)."""
    call_command("migrate", verbosity=0)
    workspace, _ = Workspace.objects.get_or_create(slug=SLUG, defaults={"name": "bench"})
    workspace.webhook_secret = SECRET
    workspace.save()
    known = []
    for n in range(KNOWN_MEDIA):
        fastpix_id = f"bench-media-{n:04d}"
        media, created = Media.objects.get_or_create(
            workspace=workspace,
            fastpix_id=fastpix_id,
            defaults={"status": MediaStatus.READY, "source_url": "https://e.com/v.mp4"},
        )
        playback = f"bench-playback-{n:04d}"
        if created:
            PlaybackId.objects.create(media=media, fastpix_id=playback)
        known.append((fastpix_id, playback, str(media.reference)))
    return known


def event_body(kind: str, media: tuple[str, str, str]) -> bytes:
    """A ready/updated event as FastPix (and the fake) sends it for a ready media."""
    fastpix_id, playback, reference = media
    data = {
        "id": fastpix_id,
        "workspaceId": "ws-bench",
        "metadata": {reference_key(): reference, "lesson": "7"},
        "title": "Benchmark lesson",
        "mediaQuality": "standard",
        "maxResolution": "1080p",
        "sourceResolution": "1080p",
        "status": "Ready",
        "sourceAccess": False,
        "playbackIds": [{"id": playback, "accessPolicy": "public"}],
        "tracks": [{"type": "video", "width": 1920, "height": 1080, "frameRate": "30/1"}],
        "isAudioOnly": False,
        "duration": "00:01:40",
        "frameRate": "30/1",
        "aspectRatio": "16:9",
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:01:00Z",
    }
    payload = {
        "type": kind,
        "id": str(uuid.uuid4()),
        "object": {"type": "media", "id": fastpix_id},
        "workspace": {"id": "ws-bench", "name": "bench"},
        "status": "media_ready",
        "data": data,
        "createdAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "attempts": [],
    }
    return json.dumps(payload).encode()


def in_process(args: argparse.Namespace, known: list[tuple[str, str, str]]) -> None:
    client = Client()
    url = f"/fastpix/webhooks/{SLUG}/"
    counter = iter(range(10**9))
    done: list[bytes] = []

    def fresh() -> bytes:
        n = next(counter)
        kind = "video.media.ready" if n % 2 == 0 else "video.media.updated"
        return event_body(kind, known[n % len(known)])

    def post(target: str, body: bytes) -> None:
        response = client.post(
            target,
            body,
            content_type="application/json",
            headers={SIGNATURE_HEADER: signature(SECRET, body)},
        )
        assert response.status_code == 200, response.content

    alias = "rq" if args.task_backend.startswith("rq") else args.task_backend
    inline = {**settings.FASTPIX, "TASK_BACKEND": alias}
    queued = {**inline, "WEBHOOK_PROCESSING": "queued"}

    # Bodies and signatures are made outside the timers: FastPix makes them, not the site.
    def delivery(body: bytes) -> None:
        post(url, body)
        done.append(body)

    def queued_delivery(body: bytes) -> None:
        settings.FASTPIX = queued
        try:
            post(url, body)
        finally:
            settings.FASTPIX = inline
        # Not a duplicate's body: its event waits for a worker, so a redelivery would apply it.

    def duplicate(body: bytes) -> None:
        post(url, body)

    def baseline(body: bytes) -> None:
        post("/echo/", body)

    fns: dict[str, Callable[[bytes], None]] = {
        "delivery": delivery,
        "queued delivery": queued_delivery,
        "duplicate": duplicate,
        "echo": baseline,
    }

    def body_for(name: str) -> bytes:
        return random.choice(done) if name == "duplicate" else fresh()

    settings.FASTPIX = inline
    for _ in range(20):  # warm up: connections, caches, lazy imports
        for name in fns:
            fns[name](body_for(name))
    queries = {}
    for name in fns:
        with CaptureQueriesContext(connection) as ctx:
            fns[name](body_for(name))
        statements = [q["sql"] for q in ctx.captured_queries]
        tables = [s for s in statements if not s.startswith(TRANSACTION_CONTROL)]
        queries[name] = (len(tables), len(statements))

    rng = random.Random(args.seed)
    names = list(fns)
    medians: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        samples: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(args.calls):
            rng.shuffle(names)
            for name in names:
                body = body_for(name)
                started = time.perf_counter()
                fns[name](body)
                samples[name].append(time.perf_counter() - started)
        for name in names:
            medians[name].append(statistics.median(samples[name]))

    def ratio(name: str) -> tuple[float, float, float]:
        return quartiles([a / b for a, b in zip(medians[name], medians["echo"], strict=True)])

    vendor = connection.vendor
    print(
        f"database: {vendor} ({settings.DATABASES['default']['NAME']}"
        f"{', asynchronous commits' if os.environ.get('BENCH_ASYNC_COMMIT') else ''}"
        f"{prepared_note()}); "
        f"{args.rounds} rounds x {args.calls} calls per contender, in-process test Client"
    )
    print(f"{'contender':<16}{'median µs':>11}{'IQR µs':>15}{'per second':>12}{'x echo':>18}")
    rows = []
    for name in fns:
        q1, q2, q3 = quartiles(medians[name])
        r = ratio(name)
        print(
            f"{name:<16}{q2 * 1e6:>11.0f}{f'{q1 * 1e6:.0f}-{q3 * 1e6:.0f}':>15}{1 / q2:>12.0f}"
            f"{f'{r[1]:.2f} ({r[0]:.2f}-{r[2]:.2f})':>18}"
        )
        rows.append((name, q1, q2, q3, r))
    print("queries (table statements / all statements incl. BEGIN, COMMIT, savepoints):")
    for name, (tables, statements) in queries.items():
        print(f"  {name:<16}{tables} / {statements}")
    print(f"\nfloor >= {FLOOR_PER_SECOND} deliveries/s (PostgreSQL):")
    for name in ("delivery", "queued delivery"):
        rate = 1 / quartiles(medians[name])[1]
        verdict = "met" if rate >= FLOOR_PER_SECOND else "NOT MET"
        print(f"  {name}: {verdict} ({rate:.0f}/s)")
    print("\nmarkdown rows:")
    for name, q1, q2, q3, r in rows:
        tables = queries[name][0]
        print(
            f"| {vendor} | webhook {name} | {q2 * 1e6:.0f} µs ({q1 * 1e6:.0f}-{q3 * 1e6:.0f}) "
            f"| {1 / q2:.0f}/s | {r[1]:.2f} x echo | {tables} |"
        )


def remove_queued_jobs(alias: str) -> None:
    """Drop the jobs the queued deliveries left (no worker ran them)."""
    if alias.startswith("rq"):
        import django_rq

        django_rq.get_queue("default").empty()
    else:
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.filter(task_path="django_fastpix.tasks.process_webhook_event").delete()


def serve(port: int) -> None:
    """The --serve subprocess: a single-threaded wsgiref server on ``port``."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = make_server("127.0.0.1", port, get_wsgi_application(), handler_class=Quiet)
    print("ready", flush=True)
    httpd.serve_forever()


def over_http(args: argparse.Namespace, known: list[tuple[str, str, str]]) -> None:
    import socket

    import requests

    servers: dict[str, tuple[subprocess.Popen[str], int]] = {}
    for name, age in (("CONN_MAX_AGE=0", "0"), ("CONN_MAX_AGE=600", "600")):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port)],
            env={**os.environ, "BENCH_CONN_MAX_AGE": age, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        servers[name] = (proc, port)
    try:
        counter = iter(range(10**9))
        session = requests.Session()

        def deliver(port: int) -> float:
            n = next(counter)
            kind = "video.media.ready" if n % 2 else "video.media.updated"
            body = event_body(kind, known[n % len(known)])
            headers = {
                SIGNATURE_HEADER: signature(SECRET, body),
                "Content-Type": "application/json",
            }
            started = time.perf_counter()
            response = session.post(
                f"http://127.0.0.1:{port}/fastpix/webhooks/{SLUG}/", data=body, headers=headers
            )
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, response.text
            return elapsed

        names = list(servers)
        for _ in range(20):
            for name in names:
                deliver(servers[name][1])
        rng = random.Random(args.seed)
        medians: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(args.rounds):
            samples: dict[str, list[float]] = {name: [] for name in names}
            for _ in range(args.calls):
                rng.shuffle(names)
                for name in names:
                    samples[name].append(deliver(servers[name][1]))
            for name in names:
                medians[name].append(statistics.median(samples[name]))
        print("\nover HTTP (wsgiref, one request at a time, new TCP connection each):")
        for name in servers:
            q1, q2, q3 = quartiles(medians[name])
            print(
                f"| {connection.vendor} | webhook delivery, real server, {name} "
                f"| {q2 * 1e6:.0f} µs ({q1 * 1e6:.0f}-{q3 * 1e6:.0f}) | {1 / q2:.0f}/s |"
            )
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--prepared", action="store_true", help=PREPARED_HELP)
    parser.add_argument("--calls", type=int, default=50, help="calls per contender per round")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--database-url",
        default=os.environ["DATABASE_URL"],
        help="the site database (default: a new SQLite file; a PostgreSQL one is migrated in "
        "place, so use a throwaway one, e.g. postgres://postgres@127.0.0.1/fastpix_bench_wh)",
    )
    parser.add_argument("--server", action="store_true", help="also measure CONN_MAX_AGE")
    parser.add_argument(
        "--async-commit",
        action="store_true",
        help="commits that do not wait for the disk (PostgreSQL synchronous_commit=off, SQLite "
        "synchronous=OFF): the app's own cost, without the machine's fsync latency",
    )
    parser.add_argument(
        "--task-backend",
        choices=["queue", "rq", "rq-pooled"],
        default="queue",
        help="where queued deliveries put their job: queue (django-tasks-db, in the benchmark's "
        "database; the default), rq (django-tasks-rq on REDIS_URL, default "
        "redis://127.0.0.1:6379/15) or rq-pooled (the same through the README's pooled set-up: "
        "RQ_QUEUES USE_REDIS_CACHE, a django-redis connection pool)",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["testserver", "127.0.0.1"]
    if args.serve:
        serve(args.serve)
        return
    known = prepare()
    try:
        in_process(args, known)
    finally:
        remove_queued_jobs(args.task_backend)
    if args.server:
        over_http(args, known)


if __name__ == "__main__":
    main()
