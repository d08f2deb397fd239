"""HTTP transport: keep-alive session per thread, timeouts, retries, errors mapped to exceptions."""

from __future__ import annotations

import json as jsonlib
import logging
import os
import random as random_module
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

import requests
from django.views.decorators.debug import sensitive_variables

from .. import __version__
from ..conf import DEFAULTS, fastpix_settings
from ..exceptions import (
    ConnectionFailedError,
    FastPixError,
    InvalidResponseError,
    RequestTimeoutError,
    TransportError,
)
from .credentials import Credentials
from .errors import api_error, describe, never_sent, parse_retry_after
from .redaction import snippet

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
DEFAULT_USER_AGENT = f"django-fastpix/{__version__} python-requests/{requests.__version__}"

Params = Mapping[str, Any]

# Set by the service layer around a call: told of each 429 as it arrives (its Retry-After in
# seconds or None, and a line for operators), before any wait, so that every other process
# pauses too. Whatever it raises is its own business: it must not raise.
rate_limit_observer: ContextVar[Callable[[float | None, str], object] | None] = ContextVar(
    "fastpix_rate_limit_observer", default=None
)

_JSON_HEADERS: dict[str, str] = {"Content-Type": "application/json"}

# Bumped in a forked child so it opens its own connections instead of sharing the parent's
# sockets (gunicorn --preload, multiprocessing with fork).
_fork_generation = 0


def _after_fork_in_child() -> None:
    global _fork_generation
    _fork_generation += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class _BasicAuth(requests.auth.AuthBase):
    """Sets one request's ``Authorization`` header from a credential pair."""

    # Passed as ``auth=`` rather than in ``headers=``: requests consults ~/.netrc only when no
    # auth is given, and netrc credentials would silently replace the header. It is per call,
    # never ``session.auth``, so sessions shared by a thread never hold a token.

    def __init__(self, header_value: str) -> None:
        self._header_value = header_value

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self._header_value
        return r

    def __repr__(self) -> str:
        return "<FastPix Basic auth>"


class _Failure(NamedTuple):
    """An attempt that got no HTTP answer, its requests exception reduced to plain values."""

    error_class: type[TransportError]
    message: str
    unsent: bool  # provably never reached FastPix, so even a create may be resent


class _Retry(NamedTuple):
    """Send again after ``wait`` seconds; ``reason`` is what the log line says."""

    wait: float
    reason: str


class _Call:
    """The parts of one ``request()`` that every attempt shares."""

    __slots__ = ("auth", "body", "credentials", "headers", "may_resend", "method", "params", "path")

    def __init__(
        self,
        method: str,
        path: str,
        params: Params | None,
        body: bytes | None,
        headers: dict[str, str] | None,
        auth: _BasicAuth,
        credentials: Credentials,
        *,
        may_resend: bool,
    ) -> None:
        self.method = method
        self.path = path
        self.params = params
        self.body = body
        self.headers = headers
        self.auth = auth
        self.credentials = credentials
        self.may_resend = may_resend

    def __repr__(self) -> str:
        # Never the body, params or auth: this object sits in the frames an error tracker reads.
        return f"<FastPix call {self.method} {self.path}>"


class Transport:
    """Sends requests to the FastPix API and returns parsed JSON envelopes or raises."""

    def __init__(
        self,
        base_url: str = DEFAULTS["API_BASE_URL"],
        *,
        connect_timeout: float = DEFAULTS["CONNECT_TIMEOUT"],
        read_timeout: float = DEFAULTS["READ_TIMEOUT"],
        max_retries: int = DEFAULTS["MAX_RETRIES"],
        backoff_base: float = DEFAULTS["RETRY_BACKOFF_BASE"],
        backoff_max: float = DEFAULTS["RETRY_BACKOFF_MAX"],
        retry_after_max: float = DEFAULTS["RETRY_AFTER_MAX"],
        user_agent: str | None = None,
        sleep: Callable[[float], object] = time.sleep,
        random: Callable[[], float] = random_module.random,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._base_path = urlsplit(self.base_url).path
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.timeout = (self.connect_timeout, self.read_timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.retry_after_max = float(retry_after_max)
        self.user_agent = user_agent or DEFAULT_USER_AGENT
        self._sleep = sleep
        self._random = random
        self._clock = clock
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"<Transport {self.base_url}>"

    @classmethod
    def from_settings(cls, configured: Mapping[str, Any] | None = None) -> Transport:
        """The shared transport for the current ``FASTPIX`` settings (sessions are reused).

        ``configured``: ``settings.FASTPIX`` as the caller has just read (and validated) it.
        """
        # One read (and unknown-key validation) of settings.FASTPIX for all eight values:
        # this runs once per client construction, on the hot path of every service call.
        if configured is None:
            configured = fastpix_settings._user_settings()

        def value(name: str) -> Any:
            return configured.get(name, DEFAULTS[name])

        key = (
            cls,
            str(value("API_BASE_URL")),
            float(value("CONNECT_TIMEOUT")),
            float(value("READ_TIMEOUT")),
            int(value("MAX_RETRIES")),
            float(value("RETRY_BACKOFF_BASE")),
            float(value("RETRY_BACKOFF_MAX")),
            float(value("RETRY_AFTER_MAX")),
            value("USER_AGENT") or None,
        )
        transport = _REGISTRY.get(key)
        if transport is None:
            with _REGISTRY_LOCK:
                transport = _REGISTRY.get(key)
                if transport is None:
                    transport = cls(
                        key[1],
                        connect_timeout=key[2],
                        read_timeout=key[3],
                        max_retries=key[4],
                        backoff_base=key[5],
                        backoff_max=key[6],
                        retry_after_max=key[7],
                        user_agent=key[8],
                    )
                    _REGISTRY[key] = transport
        return transport

    # --- sessions ---

    def session(self) -> requests.Session:
        """This thread's keep-alive session, created on first use."""
        local = self._local
        session: requests.Session | None = getattr(local, "session", None)
        if session is None or local.generation != _fork_generation:
            session = requests.Session()
            # Proxies and the CA bundle are read from the environment once per session, not on
            # every call as requests does by default: that re-read (os.environ scans, proxy
            # bypass checks) costs more than all the rest of this client's per-call work.
            # trust_env=False also keeps ~/.netrc from replacing our Authorization header.
            env = session.merge_environment_settings(self.base_url, {}, None, None, None)
            session.proxies.update(env["proxies"])
            session.verify = env["verify"]
            session.trust_env = False
            session.headers["User-Agent"] = self.user_agent
            session.headers["Accept"] = "application/json"
            local.session = session
            local.generation = _fork_generation
        return session

    def close(self) -> None:
        """Close this thread's session and its pooled connections."""
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None

    # --- requests ---

    @sensitive_variables()
    def request(
        self,
        method: str,
        path: str,
        *,
        credentials: Credentials,
        params: Params | None = None,
        json: Any = None,
        idempotency_key: str | None = None,
        before_resend: Callable[[], object] | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one API call (with retries) and return its JSON envelope, or raise.

        ``before_resend`` runs after each back-off, right before a retry is sent; whatever it
        raises ends the call. The service layer passes a check that the token is still usable,
        so a revoke committed during a retry storm stops the very next resend.
        """
        method = method.upper()
        body: bytes | None = None
        headers: dict[str, str] | None = None
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
            headers = _JSON_HEADERS
        if idempotency_key is not None:
            headers = {**(headers or {}), "Idempotency-Key": str(idempotency_key)}
        if extra_headers:
            headers = {**(headers or {}), **extra_headers}
        call = _Call(
            method,
            path,
            params,
            body,
            headers,
            _BasicAuth(credentials.basic_auth_header()),
            credentials,
            # A create retried without an idempotency key could create a duplicate.
            may_resend=method != "POST" or idempotency_key is not None,
        )
        session = self.session()
        debug = logger.isEnabledFor(logging.DEBUG)
        attempt = 1
        while True:
            verdict = self._classify(call, attempt, self._send(session, call, attempt, debug))
            if isinstance(verdict, _Retry):
                self._back_off(call, attempt, verdict, before_resend)
                attempt += 1
                continue
            # Raised here, outside any except clause: see _send.
            if isinstance(verdict, FastPixError):
                raise verdict
            return verdict

    def _send(
        self, session: requests.Session, call: _Call, attempt: int, debug: bool
    ) -> requests.Response | _Failure:
        """One attempt on the wire: the response, whatever its status, or why there was none."""
        started = 0.0
        if debug:
            logger.debug(
                "→ %s %s token …%s attempt %d",
                call.method,
                self._display(call.path, call.params),
                call.credentials.hint,
                attempt,
            )
            started = time.perf_counter()
        # The requests exception is reduced to plain values inside the except clause and the
        # error raised later, outside it, so no __context__ keeps the PreparedRequest (and its
        # Authorization header) alive on the exception the caller gets.
        try:
            response = session.request(
                call.method,
                self.base_url + call.path,
                params=call.params,
                data=call.body,
                headers=call.headers,
                auth=call.auth,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.exceptions.ConnectTimeout:
            return _Failure(
                RequestTimeoutError,
                f"Could not connect to FastPix within {self.connect_timeout:g}s",
                True,
            )
        except requests.exceptions.Timeout:
            return _Failure(
                RequestTimeoutError,
                f"FastPix did not answer within {self.read_timeout:g}s",
                False,
            )
        except requests.exceptions.ConnectionError as exc:
            return _Failure(
                ConnectionFailedError,
                "Connection to FastPix failed: " + describe(exc, call.credentials),
                never_sent(exc),
            )
        except requests.exceptions.ChunkedEncodingError as exc:
            return _Failure(
                ConnectionFailedError,
                "Connection to FastPix dropped mid-response: " + describe(exc, call.credentials),
                False,
            )
        except requests.exceptions.RequestException as exc:
            return _Failure(
                TransportError,
                "Request to FastPix failed: " + describe(exc, call.credentials),
                False,
            )
        if debug:
            logger.debug(
                "← %d %s %s %.1f ms",
                response.status_code,
                call.method,
                self._base_path + call.path,
                (time.perf_counter() - started) * 1000,
            )
        return response

    def _classify(
        self, call: _Call, attempt: int, outcome: requests.Response | _Failure
    ) -> dict[str, Any] | _Retry | FastPixError:
        """What an attempt's outcome means: the envelope, a retry after a wait, or the error."""
        if isinstance(outcome, _Failure):
            # Resent only when a resend cannot duplicate a create, or nothing reached FastPix.
            if attempt <= self.max_retries and (call.may_resend or outcome.unsent):
                return _Retry(self._backoff(attempt), outcome.error_class.__name__)
            return outcome.error_class(
                outcome.message, method=call.method, url=self._display(call.path, call.params)
            )

        status = outcome.status_code
        if 200 <= status < 300:
            return self._parse_success(outcome, call)
        retry_after = parse_retry_after(outcome.headers.get("Retry-After"), self._clock)
        if status == 429:
            observer = rate_limit_observer.get()
            if observer is not None:
                observer(retry_after, f"HTTP 429 on {call.method} {self._base_path}{call.path}")
        if status in RETRYABLE_STATUSES and call.may_resend and attempt <= self.max_retries:
            # A Retry-After beyond the cap is not waited for: the caller gets the error now.
            if retry_after is None:
                return _Retry(self._backoff(attempt), f"HTTP {status}")
            if retry_after <= self.retry_after_max:
                return _Retry(retry_after, f"HTTP {status}")
        return api_error(
            outcome,
            call.method,
            self._display(call.path, call.params),
            call.credentials,
            retry_after,
        )

    def _back_off(
        self,
        call: _Call,
        attempt: int,
        retry: _Retry,
        before_resend: Callable[[], object] | None,
    ) -> None:
        """Log the retry, wait, then run ``before_resend`` (whatever it raises ends the call)."""
        logger.info(
            "FastPix %s %s token …%s: %s; retry %d/%d in %.2fs",
            call.method,
            self._display(call.path, call.params),
            call.credentials.hint,
            retry.reason,
            attempt,
            self.max_retries,
            retry.wait,
        )
        self._sleep(retry.wait)
        if before_resend is not None:
            before_resend()

    def _backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff before retry number ``attempt`` (1-based)."""
        exponent = min(attempt - 1, 62)
        return self._random() * min(self.backoff_max, self.backoff_base * 2.0**exponent)

    def _display(self, path: str, params: Params | None) -> str:
        """Path and query as shown in logs and errors: never credentials, never the host."""
        shown = self._base_path + path
        if params:
            shown += "?" + urlencode(params, doseq=True)
        return shown

    def _parse_success(
        self, response: requests.Response, call: _Call
    ) -> dict[str, Any] | FastPixError:
        """A 2xx answer's envelope, or the error it amounts to (not an object, success false)."""
        content = response.content
        if not content:
            return {}
        try:
            payload = jsonlib.loads(content)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return InvalidResponseError(
                f"FastPix answered {response.status_code} to {call.method} "
                f"{self._display(call.path, call.params)} with a body that is not a JSON "
                f"object: {snippet(content, call.credentials)!r}"
            )
        if payload.get("success") is False:
            return api_error(
                response, call.method, self._display(call.path, call.params), call.credentials, None
            )
        return payload


_REGISTRY: dict[tuple[Any, ...], Transport] = {}
_REGISTRY_LOCK = threading.Lock()
