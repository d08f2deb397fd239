"""Media creations per second with 1, 2 and 4 worker processes, on RQ and on django-tasks-db.

    python benchmarks/creation_throughput.py [--media 48] [--rounds 3]

Every FastPix create takes 200 ms (the fake FastPix, in its own process, with
``--fault 'POST /on-demand:latency=200ms'``), so the figure is how well the work spreads over
workers, not how fast one call is. Each run starts N real workers (``rqworker
--with-scheduler --job-class django_tasks_rq.Job`` on Redis, or ``db_worker`` on the
database), waits until they are all up, queues ``--media`` pending media the way a model save
does, and times until the last one is linked. Backends and worker counts run in a fresh random
order every round; the table shows medians over rounds, their spread and the speed-up over one
worker (floor: >= 3.5 x with 4 workers on both backends).

Needs PostgreSQL (``--database-url``; the database is created if missing and its FastPix rows
are emptied, so use a throwaway one) and Redis (``--redis-url``; that Redis database is
flushed).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time

from harness import ROOT, argv_value, use_database

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/fastpix_bench_throughput"
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"
os.environ["REDIS_URL"] = argv_value("--redis-url") or os.environ.get("REDIS_URL", DEFAULT_REDIS)
use_database(DEFAULT_DB)  # created if missing; before Django starts

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django_tasks_db.models import DBTaskResult  # noqa: E402
from rq import Worker  # noqa: E402

from django_fastpix.models import Media, Workspace  # noqa: E402
from django_fastpix.services.tokens import add_token  # noqa: E402
from django_fastpix.tasks import enqueue_create  # noqa: E402
from tests.processes import start_db_worker, start_rq_worker, stop, wait_for  # noqa: E402

TOKEN_ID, SECRET = "bench-token-id-0002", "bench-secret-key-0002"
ALIASES = {"rq": "rq", "db": "queue"}
LATENCY = "200ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=int, default=48, help="creations per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--backends", default="rq,db", help="rq, db or both")
    parser.add_argument("--database-url", default=os.environ["DATABASE_URL"])
    parser.add_argument("--redis-url", default=os.environ["REDIS_URL"])
    parser.add_argument(
        "--rq-worker-class",
        default="rq.SimpleWorker",
        help="RQ worker class: rq.SimpleWorker (jobs run in the worker, the README's advice "
        "for FastPix's I/O-bound jobs) or rq.Worker (a forked work horse per job)",
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("--database-url must be a PostgreSQL database")

    command = [sys.executable, "-m", "django_fastpix.testing", "--port", "0"]
    command += ["--token", f"{TOKEN_ID}:{SECRET}", "--processing-seconds", "3600"]
    command += ["--fault", f"POST /on-demand:latency={LATENCY}"]
    fake = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert fake.stdout is not None
        base_url = next(line.split()[-1] for line in fake.stdout if "http://" in line)
        run_all(args, base_url.rstrip("/"))
    finally:
        fake.terminate()
        fake.wait(10)


def run_all(args: argparse.Namespace, base_url: str) -> None:
    settings.FASTPIX = {**settings.FASTPIX, "API_BASE_URL": base_url}
    call_command("migrate", verbosity=0)
    Media.objects.all().delete()
    Workspace.objects.filter(slug="bench-throughput").delete()
    workspace = Workspace.objects.create(name="bench", slug="bench-throughput")
    add_token(workspace=workspace, name="bench", token_id=TOKEN_ID, secret_key=SECRET)
    backends = args.backends.split(",")
    counts = [int(n) for n in args.workers.split(",")]
    env = {**os.environ, "FASTPIX_API_BASE_URL": base_url}
    timings: dict[tuple[str, int], list[float]] = {(b, n): [] for b in backends for n in counts}
    shuffle = random.Random()
    for round_no in range(args.rounds):
        order = list(timings)
        shuffle.shuffle(order)
        for backend, workers in order:
            seconds = run_once(backend, workers, args.media, workspace, env, args.rq_worker_class)
            timings[backend, workers].append(seconds)
            print(
                f"round {round_no + 1}: {backend:<3} {workers} worker(s): {seconds:6.2f} s "
                f"({args.media / seconds:5.1f}/s)",
                flush=True,
            )
    report(timings, args, counts, backends)


def run_once(
    backend: str,
    workers: int,
    media: int,
    workspace: Workspace,
    env: dict,
    rq_worker_class: str,
) -> float:
    """Start ``workers`` workers, queue ``media`` creations, seconds until all are linked."""
    alias = ALIASES[backend]
    env = {**env, "FASTPIX_TASK_BACKEND": alias}
    settings.FASTPIX = {**settings.FASTPIX, "TASK_BACKEND": alias}
    queue_redis = redis.Redis.from_url(env["REDIS_URL"])
    queue_redis.flushdb()
    DBTaskResult.objects.all().delete()
    Media.objects.all().delete()
    stamp = f"{backend}{workers}-{time.monotonic_ns()}"
    if backend == "rq":
        procs = [
            start_rq_worker(
                f"{stamp}-{n}", env, stderr=subprocess.DEVNULL, worker_class=rq_worker_class
            )
            for n in range(workers)
        ]

        def up() -> bool:
            return Worker.count(connection=queue_redis) == workers

    else:
        # Each worker's connections carry its name (PGAPPNAME), so "up" means every worker has
        # reached the database at least once: db_worker closes its connection between polls,
        # so counting open connections at one instant would undercount.
        names = {f"{stamp}-{n}" for n in range(workers)}
        procs = [
            start_db_worker(
                name, {**env, "PGAPPNAME": name}, interval=0.05, stderr=subprocess.DEVNULL
            )
            for name in sorted(names)
        ]
        seen: set[str] = set()

        def up() -> bool:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT application_name FROM pg_stat_activity "
                    "WHERE application_name = ANY(%s)",
                    [sorted(names)],
                )
                seen.update(row[0] for row in cursor.fetchall())
            return seen >= names

    try:
        if not wait_for(up, timeout=120, interval=0.01):
            raise SystemExit(f"{workers} {backend} workers did not come up")
        rows = Media.objects.bulk_create(
            Media(workspace=workspace, source_url=f"https://cdn.example.com/b/{n}.mp4")
            for n in range(media)
        )
        started = time.perf_counter()
        for row in rows:
            enqueue_create(row.pk)
        pending = Media.objects.filter(fastpix_id__isnull=True)
        if not wait_for(lambda: not pending.exists(), timeout=600, interval=0.02):
            raise SystemExit(f"{backend} with {workers} workers: creations did not finish")
        return time.perf_counter() - started
    finally:
        stop(procs)
        queue_redis.close()


def report(
    timings: dict[tuple[str, int], list[float]],
    args: argparse.Namespace,
    counts: list[int],
    backends: list[str],
) -> None:
    print(
        f"\n{args.media} creations, each FastPix create {LATENCY}, {args.rounds} rounds, "
        f"{os.cpu_count()} CPUs, PostgreSQL {connection.pg_version // 10000}, RQ workers: "
        f"{args.rq_worker_class}"
    )
    print(
        f"{'backend':<8}{'workers':>8}{'median s':>10}{'spread s':>14}{'per s':>8}{'speed-up':>10}"
    )
    verdicts = []
    for backend in backends:
        base = statistics.median(timings[backend, counts[0]])
        for workers in counts:
            samples = timings[backend, workers]
            med = statistics.median(samples)
            spread = f"{min(samples):.2f}-{max(samples):.2f}"
            print(
                f"{backend:<8}{workers:>8}{med:>10.2f}{spread:>14}{args.media / med:>8.1f}"
                f"{base / med:>9.2f}x"
            )
        if 1 in counts and 4 in counts:
            ratio = statistics.median(timings[backend, 1]) / statistics.median(timings[backend, 4])
            verdicts.append(f"{backend}: {ratio:.2f} x {'met' if ratio >= 3.5 else 'NOT MET'}")
    if verdicts:
        print("\nfloor 4 workers >= 3.5 x 1 worker: " + ", ".join(verdicts))


if __name__ == "__main__":
    main()
