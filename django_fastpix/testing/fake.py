"""`FakeFastPix`: the public face of the fake FastPix API server."""

from __future__ import annotations

import threading
import traceback
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from . import handlers_live, permissions
from .control import CONTROL_PREFIX
from .counts import RequestCounts, count_requests
from .faults import Fault, FaultSet, check_fault
from .handlers_keys import KEY_POOL
from .handlers_playback import IMAGE_PREFIX, STREAM_PREFIX
from .processing import Processor
from .routing import Reply, RoutePattern
from .server import FakeHTTPServer, RequestRecord
from .state import LiveStream, Media, Store, Token, Workspace, secret_digest
from .validation import ApiError
from .webhooks import FASTPIX_RETRY_SCHEDULE, Delivery, WebhookDispatcher, doubling_schedule

DEFAULT_WORKSPACE = "ws-default"


class FakeFastPix:
    """An in-process FastPix API on 127.0.0.1 serving `/v1`, for tests and local development.

    Media whose input URL contains "fail" (or a substring given to `fail_inputs_matching`)
    end in status Failed instead of Ready.

    Webhooks are retried on any non-2xx or connection error after each delay of
    `webhook_retries` (seconds, multiplied by `webhook_time_scale`). The default here is quick
    (4 attempts within 0.35 s) so a test suite never waits; pass
    `webhook_retries=FakeFastPix.FASTPIX_WEBHOOK_RETRIES` (about a day, as the command line
    does) with e.g. `webhook_time_scale=0.0001` to rehearse a long outage in seconds.

    Upload URLs speak a one-shot PUT and the resumable protocol of @fastpix/resumable-uploads
    (see `handlers_uploads`). Live streams are driven with `connect_encoder`,
    `disconnect_encoder`, `end_stream` and `set_viewer_count`, or over HTTP through the control
    routes under `control_base_url` (see `control`). `live_time_scale` multiplies the reconnect
    window after `disconnect_encoder` (0.001 makes 60 s last 60 ms).
    """

    FASTPIX_WEBHOOK_RETRIES = FASTPIX_RETRY_SCHEDULE

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        processing_delay: float = 0.0,
        auto_advance: bool = True,
        webhook_retries: Sequence[float] | None = None,
        webhook_time_scale: float = 1.0,
    ) -> None:
        self.host = host
        self.port = port
        self.store = Store()
        self.faults = FaultSet()
        self.errors: list[str] = []
        self.processor = Processor(self.store, self.errors)
        self.webhooks = WebhookDispatcher()
        self.idempotency: dict[tuple[str, str, str, str], Reply] = {}
        self._requests: list[RequestRecord] = []
        self._records_lock = threading.Lock()
        self._defaults = (processing_delay, auto_advance)
        self._webhook_defaults = (
            doubling_schedule(4, 0.05) if webhook_retries is None else tuple(webhook_retries),
            webhook_time_scale,
        )
        self._httpd: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._timers: list[threading.Timer] = []
        self.live_time_scale = 1.0
        self.store.emit = self.webhooks.emit
        self.store.on_media_created = self.processor.media_created
        self._apply_defaults()

    def _apply_defaults(self) -> None:
        self.processor.processing_delay, self.processor.auto_advance = self._defaults
        self.store.fail_markers = ["fail"]
        self.store.mp4_support_form = "string"
        self.store.media_duration = 10
        self.store.upload_timeout = 14400
        self.live_time_scale = 1.0
        self.webhooks.retry_schedule, self.webhooks.time_scale = self._webhook_defaults
        self.webhooks.timeout = 5.0

    # lifecycle

    def start(self) -> FakeFastPix:
        """Bind and serve in background threads; returns self."""
        if self._httpd is not None:
            return self
        self._httpd = FakeHTTPServer((self.host, self.port), self)
        self.port = self._httpd.server_address[1]
        self.processor.start()
        self.webhooks.start()
        KEY_POOL.refill()  # warm the RSA pool so the first signing-key create is quick
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fastpix-fake-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cut open connections and release hung requests."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        self.faults.release_all()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._cancel_timers()
        self.processor.stop()
        self.webhooks.stop()

    def __enter__(self) -> FakeFastPix:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT`."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL, `http://127.0.0.1:PORT/v1`."""
        return self.origin + "/v1"

    @property
    def stream_base_url(self) -> str:
        """Stands in for `https://stream.fastpix.com`: `{playbackId}.m3u8` lives under it.

        No Basic auth; a private playback id needs `?token=` (an RS256 JWT, `aud`
        `media:{playbackId}`, signed by a signing key of its workspace). See
        `handlers_playback`.
        """
        return self.origin + STREAM_PREFIX

    @property
    def image_base_url(self) -> str:
        """Stands in for `https://images.fastpix.com`: `{playbackId}/thumbnail.jpg` etc."""
        return self.origin + IMAGE_PREFIX

    @property
    def control_base_url(self) -> str:
        """`http://127.0.0.1:PORT/_fake`: the control routes (see `control`), loopback only."""
        return self.origin + CONTROL_PREFIX

    def reset(self) -> None:
        """Forget everything: tokens, workspaces, resources, webhooks, faults, requests."""
        self._cancel_timers()
        self.faults.clear()
        self.processor.clear()
        self.webhooks.reset()
        with self.store.lock:
            self.store.clear_resources()
            self.store.tokens.clear()
            self.store.workspaces.clear()
            self.idempotency.clear()
        with self._records_lock:
            self._requests.clear()
        self.errors.clear()
        self._apply_defaults()

    # workspaces and tokens

    def workspace(self, name: str = DEFAULT_WORKSPACE) -> Workspace:
        """The workspace with this name (or id), created on first use."""
        with self.store.lock:
            return self.store.workspace(name)

    def add_token(
        self,
        token_id: str,
        secret_key: str,
        scope: str = "read_write",
        workspace: str = DEFAULT_WORKSPACE,
        *,
        system: str = "none",
        data: str = "none",
    ) -> Token:
        """Add an access token to a workspace, with a level per area as FastPix grants them.

        Levels are "none", "read" and "read_write". ``scope`` is the Video level (media,
        uploads, playback ids, live streams); ``system`` the System level the signing-key
        routes need; ``data`` the Data (analytics) level. ``scope`` may instead be the command
        line's list, e.g. ``"video=read_write,system=read_write,data=read"`` (areas left out
        get "none"). ValueError for anything else.
        """
        scopes = permissions.token_scopes(scope, system=system, data=data)
        with self.store.lock:
            token = Token(
                token_id, secret_digest(secret_key), scopes, self.store.workspace(workspace)
            )
            self.store.tokens[token_id] = token
            return token

    def revoke_token(self, token_id: str) -> None:
        """Make a token answer 401 from now on."""
        with self.store.lock:
            self.store.tokens[token_id].revoked = True

    # processing

    @property
    def processing_delay(self) -> float:
        """Seconds from creation to Ready/Failed when auto-advancing (0 = at once)."""
        return self.processor.processing_delay

    @processing_delay.setter
    def processing_delay(self, value: float) -> None:
        self.processor.processing_delay = value

    @property
    def auto_advance(self) -> bool:
        """Whether new media process on a background timer; False means only `advance()`."""
        return self.processor.auto_advance

    @auto_advance.setter
    def auto_advance(self, value: bool) -> None:
        self.processor.auto_advance = value

    @property
    def mp4_support_form(self) -> str:
        """How `mp4Support` is reported: "string" (the document) or "list" (the 1.2.0 SDK)."""
        return self.store.mp4_support_form

    @mp4_support_form.setter
    def mp4_support_form(self, value: str) -> None:
        if value not in ("string", "list"):
            raise ValueError("mp4_support_form is 'string' or 'list'")
        self.store.mp4_support_form = value

    @property
    def media_duration(self) -> int:
        """The duration in seconds ready media report (as "HH:MM:SS")."""
        return self.store.media_duration

    @media_duration.setter
    def media_duration(self, value: int) -> None:
        self.store.media_duration = value

    def advance(self, media_id: str | None = None) -> list[str]:
        """Step one media (or all unfinished) one state: Created -> Processing -> Ready|Failed."""
        if media_id is not None:
            with self.store.lock:
                media_id = self._media_record(media_id).id  # accepts an upload id too
        return self.processor.advance(media_id)

    def finish_processing(self, media_id: str | None = None) -> None:
        """Advance until Ready or Failed."""
        if media_id is not None:
            with self.store.lock:
                media_id = self._media_record(media_id).id
        self.processor.finish(media_id)

    def fail_inputs_matching(self, substring: str) -> None:
        """Media created from an input URL containing `substring` will end Failed."""
        with self.store.lock:
            self.store.fail_markers.append(substring)

    def fail_media(self, media_id: str) -> None:
        """Make one existing (e.g. uploaded) media end Failed."""
        with self.store.lock:
            self._media_record(media_id).will_fail = True

    # finders (any workspace; data as the API would show it)

    def _media_record(self, media_id: str) -> Media:
        media = self.store.media.get(media_id)
        if media is None:
            upload = self.store.uploads.get(media_id)
            if upload is not None and upload.media_id is not None:
                media = self.store.media.get(upload.media_id)
        if media is None:
            raise KeyError(media_id)
        return media

    def seed_media(
        self, count: int, workspace: str = DEFAULT_WORKSPACE, *, status: str = "Ready"
    ) -> list[str]:
        """Put ``count`` media straight into the store (no requests, no webhooks): test data."""
        from .handlers_media import create_media_record

        with self.store.lock:
            ws = self.store.workspace(workspace)
            ids = []
            for n in range(count):
                media = create_media_record(
                    self.store,
                    ws,
                    {"accessPolicy": "public", "title": f"seeded {n}", "metadata": {}},
                    [{"type": "video", "url": f"https://example.com/seed/{n}.mp4"}],
                    will_fail=False,
                )
                media.status = status
                if status == "Ready":
                    media.duration_seconds = self.store.media_duration
                ids.append(media.id)
            return ids

    def media_counts(self) -> dict[str, int]:
        """How many media each workspace holds, by workspace name."""
        with self.store.lock:
            counts: dict[str, int] = {}
            for media in self.store.media.values():
                counts[media.workspace.name] = counts.get(media.workspace.name, 0) + 1
            return counts

    def media(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """All media (of one workspace, by name or id), oldest first."""
        with self.store.lock:
            items = sorted(self.store.media.values(), key=lambda m: m.seq)
            if workspace is not None:
                ws = self.store.workspace(workspace)
                items = [m for m in items if m.workspace.id == ws.id]
            return [self.store.media_json(m) for m in items]

    def get_media(self, media_id: str) -> dict[str, Any] | None:
        """One media by media id or upload id, or None."""
        with self.store.lock:
            try:
                return self.store.media_json(self._media_record(media_id))
            except KeyError:
                return None

    def find_media_by_metadata(self, key: str, value: str) -> list[dict[str, Any]]:
        """Media whose metadata has key=value."""
        return [m for m in self.media() if m["metadata"].get(key) == value]

    def uploads(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """All direct uploads (any status: waiting, created, cancelled, timed_out).

        Besides the API's fields: `receivedBytes` / `received_bytes` (bytes in so far),
        `chunks` (PUTs whose bytes were kept), `resumable` (a resumable session was started),
        `browser` (created with `X-Client-Type: web-browser`), `totalBytes` and `mediaId`.
        """
        with self.store.lock:
            self.store.expire_due_uploads()
            items = sorted(self.store.uploads.values(), key=lambda u: u.seq)
            ws = self.store.workspace(workspace) if workspace is not None else None
            return [
                self.store.upload_json(u)
                | {
                    "receivedBytes": u.received_bytes,
                    "received_bytes": u.received_bytes,
                    "chunks": u.chunks,
                    "resumable": u.resumable,
                    "browser": u.browser,
                    "totalBytes": u.total_bytes,
                    "mediaId": u.media_id,
                }
                for u in items
                if ws is None or u.workspace.id == ws.id
            ]

    @property
    def upload_timeout(self) -> int:
        """Seconds a new upload URL stays valid (`timeout` of the create answer; 14400)."""
        return self.store.upload_timeout

    @upload_timeout.setter
    def upload_timeout(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError("upload_timeout is a whole number of seconds >= 0")
        self.store.upload_timeout = value

    def expire_upload(self, upload_id: str) -> None:
        """Time a waiting upload out now: no longer listed, its PUTs refused (410), and
        `GET /on-demand/{uploadId}` answers 404. KeyError if unknown, ValueError if not waiting.
        """
        try:
            self._control_expire_upload(upload_id)
        except ApiError as exc:
            if exc.status == 404:
                raise KeyError(upload_id) from None
            raise ValueError(exc.body["error"].get("description")) from None

    def _control_expire_upload(self, upload_id: str) -> dict[str, Any]:
        with self.store.lock:
            self.store.expire_due_uploads()
            upload = self.store.uploads.get(upload_id)
            if upload is None:
                raise ApiError(404, "upload not found", "The requested upload does not exist.")
            if upload.status != "waiting":
                raise ApiError(400, "Bad Request", f"The upload is {upload.status}, not waiting.")
            upload.status = "timed_out"
            return self.store.upload_json(upload)

    # live streams: the encoder simulation (see `handlers_live` for transitions and webhooks)

    def connect_encoder(self, stream_id: str) -> dict[str, Any]:
        """An encoder connects: idle -> preparing -> active (or disconnected -> active).

        Emits `video.live_stream.connected`, `.preparing`, `.active` (and `.recording` when
        recording is enabled). KeyError for an unknown stream; ValueError when refused
        (disabled, or already connected). Returns the stream as the API shows it.
        """
        return self._python_live(stream_id, "connect")

    def disconnect_encoder(self, stream_id: str) -> dict[str, Any]:
        """The encoder drops: -> disconnected (`video.live_stream.disconnected`).

        Unless it reconnects within the stream's `reconnectWindow` seconds (times
        `live_time_scale`), the session then ends as with `end_stream`.
        """
        return self._python_live(stream_id, "disconnect")

    def end_stream(self, stream_id: str) -> dict[str, Any]:
        """The session ends: -> idle (`video.live_stream.idle`); with recording enabled, a
        recording media (`streamId` = this stream) is created and processed to Ready.
        """
        return self._python_live(stream_id, "end")

    def set_viewer_count(self, stream_id: str, views: int) -> None:
        """What `GET /live/streams/{streamId}/viewer-count` answers."""
        if isinstance(views, bool) or not isinstance(views, int) or views < 0:
            raise ValueError("views is an integer >= 0")
        self._python_live(stream_id, "viewer-count", views)

    def _python_live(self, stream_id: str, action: str, views: int = 0) -> dict[str, Any]:
        try:
            return self._control_live(stream_id, action, views)
        except ApiError as exc:
            if exc.status == 404:
                raise KeyError(stream_id) from None
            raise ValueError(exc.body["error"].get("description")) from None

    def _control_live(self, stream_id: str, action: str, views: int = 0) -> dict[str, Any]:
        with self.store.lock:
            stream = self.store.streams.get(stream_id)
            if stream is None:
                raise ApiError(404, "stream not found", "The streamId does not exist.")
            if action == "connect":
                handlers_live.connect(self.store, stream)
            elif action == "disconnect":
                generation = handlers_live.disconnect(self.store, stream)
                self._schedule_lapse(stream, generation)
            elif action == "end":
                handlers_live.end(self.store, stream)
            elif action == "viewer-count":
                stream.viewer_count = views
            else:  # pragma: no cover - the callers pass known actions
                raise ValueError(action)
            return self.store.stream_json(stream)

    def _schedule_lapse(self, stream: LiveStream, generation: int) -> None:
        window = float(stream.settings.get("reconnectWindow", 60))
        timer = threading.Timer(window * self.live_time_scale, self._lapse, (stream.id, generation))
        timer.daemon = True
        self._timers = [t for t in self._timers if t.is_alive()] + [timer]
        timer.start()

    def _lapse(self, stream_id: str, generation: int) -> None:
        try:
            with self.store.lock:
                stream = self.store.streams.get(stream_id)
                if (
                    stream is not None
                    and stream.generation == generation
                    and stream.status == "disconnected"
                ):
                    handlers_live.end_session(self.store, stream)
        except Exception:  # the timer thread must report, not vanish
            self.errors.append(traceback.format_exc())

    def _cancel_timers(self) -> None:
        timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()

    def live_streams(self, workspace: str | None = None) -> list[dict[str, Any]]:
        """All live streams."""
        with self.store.lock:
            items = sorted(self.store.streams.values(), key=lambda s: s.seq)
            ws = self.store.workspace(workspace) if workspace is not None else None
            return [
                self.store.stream_json(s) for s in items if ws is None or s.workspace.id == ws.id
            ]

    def signing_key_public_pem(self, key_id: str) -> str | None:
        """The public key PEM of a signing key (to verify JWTs the app signs), or None."""
        with self.store.lock:
            key = self.store.signing_keys.get(key_id)
            return key.public_key_pem if key else None

    # faults

    def inject(
        self,
        route: str = "*",
        *,
        status: int | None = None,
        latency: float = 0.0,
        reset: bool = False,
        hang: bool = False,
        retry_after: float | None = None,
        nth: int | None = None,
        times: int | None = None,
        rate: float | None = None,
        seed: int | None = None,
    ) -> Fault:
        """Make matching requests misbehave; see the module docs for route patterns.

        `status`: answer with that status and the error envelope (429 adds Retry-After,
        default 1 s). `latency`: sleep first, then answer normally: a write is carried out
        even if the client gave up waiting (FastPix did the work, the answer came too late).
        `reset`: close with RST, no response. `hang`: never answer until the fault is cleared
        or the server stops. `nth=N`: only the N-th matching request (counted from now)
        faults. `times=k`: at most k matching requests fault, then the route is normal again.
        `rate=p`: each matching request faults with probability p (0..1), drawn from a
        generator seeded with `seed` (repeatable) or from the system's entropy.

        Routes outside /v1 match too: the upload host's
        `"PUT /uploads/{uploadId}/session/{sessionToken}"` (a resumable chunk),
        `"POST /uploads/{uploadId}"` (session start) and `"PUT /uploads/{uploadId}"` (one-shot
        PUT); e.g. `inject("PUT /uploads/{uploadId}/session/{sessionToken}", status=503,
        times=1)` fails the next chunk once (with CORS headers, so a browser sees the 503).
        """
        check_fault(
            status=status,
            latency=latency,
            reset=reset,
            hang=hang,
            retry_after=retry_after,
            nth=nth,
            times=times,
            rate=rate,
        )
        fault = Fault(
            route,
            RoutePattern.parse(route),
            status,
            latency,
            reset,
            hang,
            retry_after,
            nth,
            times,
            rate=rate,
            seed=seed,
        )
        return self.faults.add(fault)

    def clear_faults(self, fault: Fault | None = None) -> None:
        """Remove one fault or all of them; hung requests are let go (connection closed)."""
        self.faults.clear(fault)

    # request log

    def _record(self, record: RequestRecord) -> None:
        with self._records_lock:
            self._requests.append(record)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received, oldest first (a copy)."""
        with self._records_lock:
            return list(self._requests)

    def requests_for(self, route: str) -> list[RequestRecord]:
        """Requests matching a route pattern such as "POST /on-demand"."""
        pattern = RoutePattern.parse(route)
        return [r for r in self.requests if pattern.matches(r.method, r.path)]

    def request_counts(self, *, hints: bool = True) -> RequestCounts:
        """Requests received so far, counted by token, by route and by token and route.

        Tokens are keyed by the token id claimed in the Basic header (authenticated or not;
        faulted requests included), shown as a hint such as "…en-a" (the end of the id, as the
        app's logs show it) unless `hints=False`; requests without one count under "-".
        Routes are keyed by the API reference's template, e.g. "GET /on-demand/{mediaId}".
        """
        return count_requests(self.requests, hints=hints)

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._records_lock:
            self._requests.clear()

    # webhooks

    def set_webhook(self, workspace: str, url: str, secret_b64: str | None = None) -> None:
        """Deliver the workspace's events to `url`, signed with the base64 secret."""
        if not url.startswith(("http://", "https://")):
            raise ValueError("webhook URL must be http(s)")
        ws = self.workspace(workspace)
        self.webhooks.set_endpoint(ws, url, secret_b64)

    @property
    def webhook_events(self) -> list[dict[str, Any]]:
        """Every event emitted, delivered or not."""
        return list(self.webhooks.events)

    @property
    def webhook_deliveries(self) -> list[Delivery]:
        """Every delivery (events, redeliveries, probes) with its attempts."""
        return list(self.webhooks.deliveries)

    @property
    def webhook_retry_schedule(self) -> tuple[float, ...]:
        """Seconds before each retry (scaled by `webhook_time_scale`); `()` means no retry."""
        return self.webhooks.retry_schedule

    @webhook_retry_schedule.setter
    def webhook_retry_schedule(self, delays: Sequence[float]) -> None:
        self.webhooks.retry_schedule = tuple(delays)

    @property
    def webhook_time_scale(self) -> float:
        """Factor on every retry delay: 0.001 replays a 24 h schedule in 86 s."""
        return self.webhooks.time_scale

    @webhook_time_scale.setter
    def webhook_time_scale(self, value: float) -> None:
        self.webhooks.time_scale = value

    @property
    def webhook_max_attempts(self) -> int:
        """Attempts per delivery before giving up (retries on non-2xx and connection errors).

        Setting it (or `webhook_retry_backoff`) replaces the schedule with a doubling one.
        """
        return self.webhooks.max_attempts

    @webhook_max_attempts.setter
    def webhook_max_attempts(self, value: int) -> None:
        self.webhooks.max_attempts = value

    @property
    def webhook_retry_backoff(self) -> float:
        """First retry delay in seconds; doubles each retry."""
        return self.webhooks.retry_backoff

    @webhook_retry_backoff.setter
    def webhook_retry_backoff(self, value: float) -> None:
        self.webhooks.retry_backoff = value

    def wait_for_webhooks(self, timeout: float = 10.0) -> bool:
        """Block until queued deliveries are done; False on timeout."""
        return self.webhooks.wait_idle(timeout)

    def send_probe(self, workspace: str) -> Delivery:
        """POST the unsigned `{}` validation probe now."""
        return self.webhooks.probe(self.workspace(workspace))

    def redeliver(self, event_id: str) -> None:
        """Deliver a past event again (same body and id)."""
        self.webhooks.redeliver(event_id)

    def hold_webhooks(self) -> None:
        """Queue deliveries without sending them until `release_webhooks`."""
        self.webhooks.hold()

    def release_webhooks(self, order: str = "fifo", seed: int | None = None) -> None:
        """Send held deliveries in "fifo", "reversed" or "shuffled" order."""
        self.webhooks.release(order, seed)
