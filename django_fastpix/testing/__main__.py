"""Run the fake FastPix server from the shell.

    python -m django_fastpix.testing --port 8765 --token ID:SECRET[:SCOPE[:WORKSPACE]]

SCOPE is the Video level, `read_write` (default, or `write`) or `read`, or a list of levels
per area such as `video=read_write,system=read_write,data=read` (System is what the
signing-key routes need; areas left out get `none`); WORKSPACE defaults to `ws-default`.
The playback hosts (`/stream`, `/images`) are served on the same port and printed at start.
`--webhook-url WORKSPACE=URL` and `--webhook-secret WORKSPACE=BASE64` configure webhooks.
`--fault "ROUTE:OPTIONS"` (repeatable, see `specs`) makes routes misbehave,
`--webhook-retries 5,30,2m` and `--time-scale 0.001` set the webhook retry schedule. Request
counts by token and route are printed when it stops.

Control routes (no auth, loopback only; the base is printed at start as "control base URL")
drive the fake from a shell, e.g. to simulate a live encoder:

    curl -X POST http://127.0.0.1:8765/_fake/live/STREAM_ID/connect      # -> active
    curl -X POST http://127.0.0.1:8765/_fake/live/STREAM_ID/disconnect   # -> disconnected
    curl -X POST http://127.0.0.1:8765/_fake/live/STREAM_ID/end          # -> idle + recording
    curl -X POST -d '{"views": 42}' http://127.0.0.1:8765/_fake/live/STREAM_ID/viewer-count
    curl -X POST http://127.0.0.1:8765/_fake/uploads/UPLOAD_ID/expire
    curl http://127.0.0.1:8765/_fake                                     # lists them
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from types import FrameType
from typing import Any

from .fake import DEFAULT_WORKSPACE, FakeFastPix
from .permissions import normalise_scope
from .specs import (
    FaultSpec,
    SpecError,
    describe_schedule,
    parse_fault,
    parse_schedule,
    parse_time_scale,
)
from .webhooks import FASTPIX_RETRY_SCHEDULE

CONTROL_HELP = """\
control routes (no auth, loopback only; base printed at start as "control base URL"):
  POST {base}/live/STREAM_ID/connect       encoder connects (-> preparing -> active)
  POST {base}/live/STREAM_ID/disconnect    encoder drops (-> disconnected)
  POST {base}/live/STREAM_ID/end           session ends (-> idle, recording media)
  POST {base}/live/STREAM_ID/viewer-count  body {"views": N}
  POST {base}/uploads/UPLOAD_ID/expire     the upload times out
  GET  {base}                              lists them
e.g. curl -X POST http://127.0.0.1:8765/_fake/live/STREAM_ID/connect
"""


def _token(value: str) -> tuple[str, str, str, str]:
    # Still four fields, SCOPE a string: the management command unpacks the same tuple and
    # hands SCOPE to `add_token` as is (which takes the area list as well as a level).
    parts = value.split(":")
    if len(parts) < 2 or len(parts) > 4 or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError("expected TOKEN_ID:SECRET_KEY[:SCOPE[:WORKSPACE]]")
    try:
        scope = normalise_scope(parts[2] if len(parts) > 2 and parts[2] else "read_write")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    workspace = parts[3] if len(parts) > 3 and parts[3] else DEFAULT_WORKSPACE
    return parts[0], parts[1], scope, workspace


def _seed(value: str) -> tuple[int, str]:
    count, _, workspace = value.partition(":")
    if not count.isdigit():
        raise argparse.ArgumentTypeError(f"expected COUNT[:WORKSPACE] (e.g. 10000), not {value!r}")
    return int(count), workspace or "ws-default"


def _pair(value: str) -> tuple[str, str]:
    workspace, sep, rest = value.partition("=")
    if not sep or not workspace or not rest:
        raise argparse.ArgumentTypeError("expected WORKSPACE=VALUE")
    return workspace, rest


def _argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        try:
            return parse(value)
        except SpecError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m django_fastpix.testing",
        description="Run a fake FastPix API server.",
        epilog=CONTROL_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--token",
        action="append",
        type=_token,
        default=[],
        metavar="ID:SECRET[:SCOPE[:WORKSPACE]]",
        help="add an access token (repeatable). SCOPE is the Video level, read_write "
        "(default; also 'write') or read, or a comma list of AREA=LEVEL for areas video "
        "(media, uploads, playback ids, live), system (signing keys) and data, with levels "
        "none, read, read_write, e.g. video=read_write,system=read_write,data=read (areas "
        "left out get none). WORKSPACE defaults to ws-default",
    )
    parser.add_argument(
        "--webhook-url", action="append", type=_pair, default=[], metavar="WORKSPACE=URL"
    )
    parser.add_argument(
        "--webhook-secret", action="append", type=_pair, default=[], metavar="WORKSPACE=BASE64"
    )
    parser.add_argument(
        "--processing-seconds", type=float, default=0.0, help="seconds from media creation to Ready"
    )
    parser.add_argument(
        "--fault",
        action="append",
        type=_argument_type(parse_fault),
        default=[],
        metavar="ROUTE:OPTIONS",
        help="make a route misbehave (repeatable), e.g. 'POST /on-demand:status=503,rate=0.2,"
        "seed=1', 'GET /on-demand:status=429,retry_after=30,times=1', '*:latency=200ms', "
        "'POST /on-demand:reset,nth=2', '/live/*:hang'. Options: status, retry_after, reset, "
        "hang, latency, rate, seed, times, nth",
    )
    parser.add_argument(
        "--webhook-retries",
        type=_argument_type(parse_schedule),
        default=FASTPIX_RETRY_SCHEDULE,
        metavar="DELAYS",
        help="seconds before each webhook retry, comma-separated (30s, 2m, 1h allowed; 'none' "
        "for no retry). Default: 5,30,2m,10m,30m,1h,2h,4h,8h,8h (11 attempts over ~24 h)",
    )
    parser.add_argument(
        "--seed-media",
        type=_seed,
        action="append",
        default=[],
        metavar="COUNT[:WORKSPACE]",
        help="start with COUNT ready media (one public playback id each) in WORKSPACE "
        "(default ws-default), made without requests or webhooks: data to sync against",
    )
    parser.add_argument(
        "--time-scale",
        type=_argument_type(parse_time_scale),
        default=1.0,
        help="multiply every webhook retry delay by this (0.001: a day of retries in 86 s)",
    )
    return parser


def configure_lab(fake: FakeFastPix, options: Mapping[str, Any]) -> list[FaultSpec]:
    """Apply the fault and webhook-schedule options (parsed by `build_parser`) to ``fake``."""
    specs = [f if isinstance(f, FaultSpec) else parse_fault(f) for f in options.get("fault", [])]
    for spec in specs:
        fake.inject(spec.route, **spec.options)
    schedule = options.get("webhook_retries", FASTPIX_RETRY_SCHEDULE)
    if isinstance(schedule, str):
        schedule = parse_schedule(schedule)
    fake.webhook_retry_schedule = schedule
    fake.webhook_time_scale = float(options.get("time_scale", 1.0))
    for count, workspace in options.get("seed_media", []):
        fake.seed_media(count, workspace)
    return specs


def lab_lines(fake: FakeFastPix, specs: list[FaultSpec]) -> list[str]:
    """What `configure_lab` set up, for the startup banner."""
    lines = [f"fault {spec.describe()}" for spec in specs]
    schedule = describe_schedule(fake.webhook_retry_schedule, fake.webhook_time_scale)
    lines.append(f"webhook retries: {schedule}")
    for workspace, count in sorted(fake.media_counts().items()):
        lines.append(f"media in {workspace}: {count}")
    return lines


def serve_until_signal(fake: FakeFastPix, on_started: Callable[[], None]) -> None:
    """Start ``fake``, call ``on_started``, serve until SIGINT/SIGTERM, then stop cleanly.

    The previous signal handlers are put back afterwards (the management command runs this
    inside a longer-lived process).
    """
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    fake.start()
    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        on_started()
        stop.wait()
    finally:
        fake.stop()
        for signum, handler in previous.items():
            if handler is not None:
                signal.signal(signum, handler)


def main(argv: list[str] | None = None) -> int:
    """Start the server and serve until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    fake = FakeFastPix(args.host, args.port, processing_delay=args.processing_seconds)
    specs = configure_lab(fake, vars(args))
    for token_id, secret, scope, workspace in args.token:
        fake.add_token(token_id, secret, scope, workspace)
    secrets_by_ws = dict(args.webhook_secret)
    for workspace, url in args.webhook_url:
        fake.set_webhook(workspace, url, secrets_by_ws.get(workspace))

    def announce() -> None:
        print(f"FastPix fake listening on {fake.base_url}", flush=True)
        print(f"stream base URL: {fake.stream_base_url}", flush=True)
        print(f"image base URL: {fake.image_base_url}", flush=True)
        print(f"control base URL: {fake.control_base_url}", flush=True)
        for ws in sorted({w for *_, w in args.token} | {w for w, _ in args.webhook_url}):
            print(f"workspace {ws}: id {fake.workspace(ws).id}", flush=True)
        for line in lab_lines(fake, specs):
            print(line, flush=True)

    serve_until_signal(fake, announce)
    for line in fake.request_counts().lines():
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
