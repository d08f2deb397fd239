"""Run the fake FastPix server from the shell.

    python -m django_fastpix.testing --port 8765 --token ID:SECRET[:SCOPE[:WORKSPACE]]

SCOPE is `read_write` (default) or `read`; WORKSPACE defaults to `ws-default`.
`--webhook-url WORKSPACE=URL` and `--webhook-secret WORKSPACE=BASE64` configure webhooks.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

from .fake import DEFAULT_WORKSPACE, SCOPES, FakeFastPix


def _token(value: str) -> tuple[str, str, str, str]:
    parts = value.split(":")
    if len(parts) < 2 or len(parts) > 4 or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError("expected TOKEN_ID:SECRET_KEY[:SCOPE[:WORKSPACE]]")
    scope = parts[2] if len(parts) > 2 and parts[2] else "read_write"
    if scope == "write":
        scope = "read_write"
    if scope not in SCOPES:
        raise argparse.ArgumentTypeError(f"scope must be one of {', '.join(SCOPES)}")
    workspace = parts[3] if len(parts) > 3 and parts[3] else DEFAULT_WORKSPACE
    return parts[0], parts[1], scope, workspace


def _pair(value: str) -> tuple[str, str]:
    workspace, sep, rest = value.partition("=")
    if not sep or not workspace or not rest:
        raise argparse.ArgumentTypeError("expected WORKSPACE=VALUE")
    return workspace, rest


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m django_fastpix.testing", description="Run a fake FastPix API server."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--token",
        action="append",
        type=_token,
        default=[],
        metavar="ID:SECRET[:SCOPE[:WORKSPACE]]",
        help="add an access token (repeatable); SCOPE is read_write (default) or read",
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
    return parser


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
    for token_id, secret, scope, workspace in args.token:
        fake.add_token(token_id, secret, scope, workspace)
    secrets_by_ws = dict(args.webhook_secret)
    for workspace, url in args.webhook_url:
        fake.set_webhook(workspace, url, secrets_by_ws.get(workspace))

    def announce() -> None:
        print(f"FastPix fake listening on {fake.base_url}", flush=True)
        for ws in sorted({w for *_, w in args.token} | {w for w, _ in args.webhook_url}):
            print(f"workspace {ws}: id {fake.workspace(ws).id}", flush=True)

    serve_until_signal(fake, announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
