"""HTTP transport shared by every connector: retries, rate limits, error mapping.

One ``Limiters`` registry per scan holds one ``HostLimiter`` per host. Every
worker thread's requests to that host pass through the same gate, so a 429
seen by one worker makes all of them wait (issue 5, "one rate limiter per
host that honours Retry-After and X-RateLimit-* for all workers").

``ResilientAdapter`` is a plain ``requests`` HTTPAdapter, so it can be mounted
on any session (the jira library's included) and is the only retry layer:

- 429: wait ``Retry-After`` in full (seconds or HTTP date), else until
  ``X-RateLimit-Reset``, else back off; give up once the waiting would pass
  ``policy.max_wait`` and hand the 429 back (the caller raises RateLimited).
- Idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE): retry 500/502/503/504
  and connection errors with exponential backoff and full jitter, at most
  ``policy.attempts`` tries.
- POST and PATCH: retry only what provably did not take effect: 429, 503 and
  a connection that was never made (refused, DNS, connect timeout). A read
  timeout or reset after the request left raises ``AmbiguousWrite``; the
  connector must look for its marker before writing again.

Vendor facts relied on:
- ServiceNow inbound REST rate limiting: a 429 carries ``Retry-After``
  (seconds); requests that match a rule carry ``X-RateLimit-Limit``,
  ``X-RateLimit-Reset`` (Unix time the hourly window resets) and
  ``X-RateLimit-Rule``, on successful responses too. So a Reset header alone is
  not a reason to wait; only a 429/503 (or ``X-RateLimit-Remaining: 0``) is.
- Atlassian sends ``X-RateLimit-Reset`` as an ISO 8601 time; both forms parse.

What a hostile or broken server cannot do (issue 13):

- Redirects: one to another scheme, host or port is never followed; the request
  fails with ``RedirectRefused`` naming both URLs. requests would follow it and
  strip only ``Authorization``: ServiceNow's ``x-sn-apikey`` and an OAuth token
  request's form (user, password, client secret) would go to the other host. A
  redirect within the origin is followed as before.
- Size: a body is read in chunks and refused past ``max_response_bytes``
  (``AnswerTooLarge``; a declared ``Content-Length`` over it is refused unread).
- Time: each try has a total deadline (``deadline`` seconds for connect, headers
  and body, see ``connectors.deadline``), so a server dripping bytes within the
  read timeout cannot hold a request; past it the request fails, not retried
  (a read: ``TransientError``; a write that was sent: ``AmbiguousWrite``).
- Decoding: ``Response.json()`` fails only with ``ValueError``, also for a body
  nested too deeply for the parser (``RecursionError``) or too big to decode;
  ``decode_json`` is the same for the connectors' own parsing.
- TLS: a certificate that does not verify fails at once with "certificate verify
  failed for <host>: <why>" (``CertificateFailed``), never retried.

Nothing here logs request headers or bodies, so credentials never reach a log.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError

from csi_coach.connectors.deadline import Deadline, watch_pools
from csi_coach.errors import (
    AmbiguousWrite,
    AnswerTooLarge,
    AuthError,
    BadRequest,
    CertificateFailed,
    CoachError,
    Gone,
    NotFound,
    PermissionDenied,
    RateLimited,
    RedirectRefused,
    RemoteError,
    TransientError,
)

log = logging.getLogger(__name__)

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRY_STATUS = frozenset({500, 502, 503, 504})
WRITE_RETRY_STATUS = frozenset({503})  # plus 429: the server refused before doing anything
DEFAULT_USER_AGENT = "csi-coach/0.1 (+python-requests)"
EPOCH_THRESHOLD = 1_000_000_000  # X-RateLimit-Reset above this is a Unix time, below it a delta
DEFAULT_MAX_RESPONSE_BYTES = 20 * 1024 * 1024  # a page of 500 long records is a few MB
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
BODY_CHUNK = 64 * 1024

Sleep = Callable[[float], None]
Clock = Callable[[], float]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # tries per request for 5xx / connection errors (first one included)
    backoff_base: float = 0.5  # seconds; the n-th retry waits up to base * 2**n
    backoff_cap: float = 30.0  # never more than this between two tries
    max_wait: float = 900.0  # total seconds one request may spend waiting out rate limits

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**retry)) (spreads retrying workers)."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2 ** max(0, retry)))
        return rng.uniform(0.0, ceiling)


# --------------------------------------------------------------------------- headers


def wait_from_headers(
    headers: Mapping[str, str], *, status: int | None = None, now: float | None = None
) -> float | None:
    """Seconds the server asks us to wait, or None when it does not ask.

    ``Retry-After`` (seconds or HTTP date) wins; then ``X-RateLimit-Reset``
    (Unix seconds, a small delta, or ISO 8601), but only for a 429/503 or when
    ``X-RateLimit-Remaining`` is 0 (ServiceNow sends Reset on every response
    that matched a rule, throttled or not).
    """
    now = time.time() if now is None else now
    retry_after = _header(headers, "Retry-After")
    if retry_after:
        seconds = _seconds_until(retry_after, now, allow_iso=False)
        if seconds is not None:
            return seconds
    reset = _header(headers, "X-RateLimit-Reset")
    if not reset:
        return None
    remaining = _header(headers, "X-RateLimit-Remaining")
    exhausted = remaining is not None and remaining.strip() in ("0", "0.0")
    if status in (429, 503) or exhausted:
        return _seconds_until(reset, now, allow_iso=True)
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _seconds_until(value: str, now: float, *, allow_iso: bool) -> float | None:
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None:
        if number != number or number in (float("inf"), float("-inf")):  # NaN / inf
            return None
        if number > EPOCH_THRESHOLD:
            return max(0.0, number - now)
        return max(0.0, number)
    when: datetime | None = None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None and allow_iso:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


# --------------------------------------------------------------------------- limiter


class HostLimiter:
    """A per-host gate: nobody sends before ``not_before``. Thread-safe.

    ``clock`` is monotonic (for the gate), ``wall`` is Unix time (to read
    reset times); both are injectable so tests run instantly.
    """

    def __init__(self, host: str, *, clock: Clock = time.monotonic, wall: Clock = time.time) -> None:
        self.host = host
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._not_before = float("-inf")
        self.throttled = 0  # responses that asked us to slow down (for reports/benchmarks)

    def remaining(self) -> float:
        """Seconds until the gate opens (0 when open)."""
        with self._lock:
            return max(0.0, self._not_before - self._clock())

    def defer(self, seconds: float) -> None:
        """Close the gate for everyone for ``seconds`` from now (never shortens it)."""
        if seconds <= 0:
            return
        with self._lock:
            self._not_before = max(self._not_before, self._clock() + seconds)

    def wait(self, sleep: Sleep, *, limit: float | None = None) -> float:
        """Sleep until the gate is open; returns the seconds slept.

        Loops because another worker may push the gate while we sleep. With
        ``limit``, raises ``RateLimited`` instead of sleeping past it.
        """
        slept = 0.0
        while True:
            delay = self.remaining()
            if delay <= 0:
                return slept
            if limit is not None and slept + delay > limit:
                raise RateLimited(
                    f"{self.host} asked to wait {delay:.0f} s more, beyond the {limit:.0f} s budget",
                    retry_after=delay,
                    status=None,
                )
            sleep(delay)
            slept += delay

    def observe(self, resp: requests.Response) -> float | None:
        """Read the response's rate-limit headers; push the gate for all workers."""
        ask = wait_from_headers(resp.headers, status=resp.status_code, now=self._wall())
        if ask is not None and ask > 0:
            with self._lock:
                self.throttled += 1
            self.defer(ask)
            log.info("%s asked to wait %.1f s (HTTP %s); holding all requests to it", self.host, ask, resp.status_code)
        return ask


class Limiters:
    """One HostLimiter per host, created on first use. One instance per scan, shared by its
    sources; ``stop`` is the scan's stop request (SIGTERM), which ends every wait at once."""

    def __init__(self, *, clock: Clock = time.monotonic, wall: Clock = time.time,
                 stop: threading.Event | None = None) -> None:
        self._clock = clock
        self._wall = wall
        self._lock = threading.Lock()
        self._by_host: dict[str, HostLimiter] = {}
        self.stop = stop

    @staticmethod
    def host_of(url: str) -> str:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{host}:{port}"

    def for_url(self, url: str) -> HostLimiter:
        host = self.host_of(url)
        with self._lock:
            limiter = self._by_host.get(host)
            if limiter is None:
                limiter = self._by_host[host] = HostLimiter(host, clock=self._clock, wall=self._wall)
            return limiter

    def __iter__(self):
        with self._lock:
            return iter(list(self._by_host.values()))


# --------------------------------------------------------------------------- adapter


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: requests and urllib3 nest the real failure in
    ``reason``, ``args``, ``__cause__`` and ``__context__``."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        stack.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
        stack.extend(a for a in e.args if isinstance(a, BaseException))


def never_sent(exc: BaseException) -> bool:
    """True when the failure provably happened before the request left.

    requests wraps urllib3's NewConnectionError (refused, DNS; a subclass of
    ConnectTimeoutError) and ConnectTimeoutError in ConnectionError /
    ConnectTimeout; a reset or read timeout after sending is anything else.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return True
    return any(isinstance(e, (ConnectTimeoutError, ConnectionRefusedError)) for e in _causes(exc))


def certificate_problem(exc: BaseException) -> str | None:
    """Why the server's certificate did not verify, when that is what failed; else None.

    A TLS failure that is not about the certificate (a reset mid-handshake) may pass,
    and is retried like any connection error; a certificate does not fix itself.
    """
    for e in _causes(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return str(e.verify_message or e.reason or e)
    if isinstance(exc, requests.exceptions.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return "CERTIFICATE_VERIFY_FAILED"
    return None


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in; what a redirect may not change."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: no origin of ours
        port = -1
    return scheme, (parts.hostname or "").lower(), port if port is not None else DEFAULT_PORTS.get(scheme)


def shown_url(url: str | None) -> str:
    """A URL fit for a message: no user:password@, no query string."""
    parts = urlsplit(url or "")
    netloc = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{netloc}{parts.path}" if parts.scheme else (url or "").split("?", 1)[0]


def redirect_target(request: requests.PreparedRequest, resp: requests.Response) -> str | None:
    """Where a redirect response points (absolute), or None when it is not one."""
    location = resp.headers.get("Location")
    if resp.status_code not in REDIRECT_STATUS or not location:
        return None
    return urljoin(request.url or "", location.strip())


def decode_failure(exc: BaseException) -> str:
    """What was wrong with a body that did not decode, in words for a message."""
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply to decode"
    if isinstance(exc, MemoryError):
        return "a body too large to decode in memory"
    if isinstance(exc, UnicodeDecodeError):
        return "a body that is not UTF-8 text"
    return "a body that is not complete JSON (cut off or garbled)"


# Every way decoding a body can fail: json raises RecursionError for deep nesting (it is
# not a ValueError) and MemoryError for what does not fit; UnicodeDecodeError is a ValueError.
DECODE_ERRORS: tuple[type[BaseException], ...] = (ValueError, RecursionError, MemoryError)


def decode_json(body: str | bytes) -> Any:
    """``json.loads`` that fails only with ``ValueError`` (see ``DECODE_ERRORS``)."""
    try:
        return json.loads(body)
    except (RecursionError, MemoryError) as exc:
        raise ValueError(decode_failure(exc)) from None


class CheckedResponse(requests.Response):
    """The responses the adapter hands back: ``json()`` fails only with ``ValueError``, so
    every reader of a body (ours, the jira library's error parsing) sees a hostile body as
    an unreadable one, never a RecursionError that ends the scan; a body without a charset
    is read as UTF-8 (what JSON is), not guessed by scanning it all."""

    def json(self, **kwargs: Any) -> Any:
        try:
            return super().json(**kwargs)
        except (RecursionError, MemoryError) as exc:
            raise requests.exceptions.JSONDecodeError(decode_failure(exc), "", 0) from None

    @property
    def apparent_encoding(self) -> str:
        return "utf-8"


class ResilientAdapter(HTTPAdapter):
    """The project's only retry layer; see the module docstring for the rules.

    ``limiter`` is a HostLimiter, or a Limiters registry (resolved per request
    host). ``sleep`` and ``rng`` are injectable for instant, deterministic tests.
    ``default_timeout`` applies when the caller passes none (requests has no
    default and would wait forever). ``deadline`` (seconds, None for none) bounds
    each try as a whole and ``max_response_bytes`` each body (None: no limit).
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        limiter: HostLimiter | Limiters | None = None,
        *,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        default_timeout: float | tuple[float, float] | None = 30.0,
        read_budget: float | None = None,
        clock: Clock = time.monotonic,
        deadline: float | None = None,
        max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
        **kwargs: Any,
    ) -> None:
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        super().__init__(max_retries=0, **kwargs)  # urllib3 retries off: ours decide
        self.policy = policy or RetryPolicy()
        self.limiter = limiter if limiter is not None else Limiters()
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.default_timeout = default_timeout
        # Seconds all reads through this adapter (one source's session) may take in total,
        # tries and waits included: a hung host then costs the source this much, not
        # tries x timeout for every page and look-up.
        self.read_budget = read_budget
        self._clock = clock
        self._read_spent = 0.0
        self._spent_lock = threading.Lock()

    # -- what requests builds: connections the deadline can cut, responses that decode safely

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS managers need their own pool classes
            watch_pools(manager)
        return manager

    def build_response(self, req: requests.PreparedRequest, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        response.__class__ = CheckedResponse  # adds behaviour only, no state: a safe re-class
        return response

    def _stop(self) -> threading.Event | None:
        return self.limiter.stop if isinstance(self.limiter, Limiters) else None

    def _pause(self, seconds: float) -> None:
        """Wait between tries; a stop request (SIGTERM) ends the wait and the request."""
        stop = self._stop()
        if stop is None:
            self.sleep(seconds)
        elif stop.wait(seconds):
            raise TransientError("stopped on request while waiting to try again")

    def _budget_left(self, started: float) -> float | None:
        """Seconds of the read budget left for a read that began at ``started`` (None: no budget)."""
        if self.read_budget is None:
            return None
        with self._spent_lock:
            spent = self._read_spent
        return self.read_budget - spent - (self._clock() - started)

    def _check_budget(self, started: float, where: str, upcoming: float = 0.0) -> None:
        left = self._budget_left(started)
        if left is not None and left <= upcoming:
            raise TransientError(f"{where}: the source's read budget of {self.read_budget:.0f} s is used up "
                                 "(read_budget_seconds); the source is read again next scan")

    def _limiter_for(self, url: str) -> HostLimiter:
        if isinstance(self.limiter, Limiters):
            return self.limiter.for_url(url)
        return self.limiter

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        method = (request.method or "GET").upper()
        if method != "GET" or self.read_budget is None:
            return self._send(request, stream, timeout, verify, cert, proxies, None)
        started = self._clock()
        try:
            return self._send(request, stream, timeout, verify, cert, proxies, started)
        finally:
            with self._spent_lock:
                self._read_spent += self._clock() - started

    def _send(self, request: requests.PreparedRequest, stream: bool, timeout: Any, verify: Any, cert: Any,
              proxies: Any, read_started: float | None) -> requests.Response:
        """``send``; ``read_started`` is set for a read counted against the read budget, which is
        checked before every try and every wait (a write is never cut short by it)."""
        method = (request.method or "GET").upper()
        idempotent = method in IDEMPOTENT
        where = _where(request)
        limiter = self._limiter_for(request.url or "")
        policy = self.policy
        if timeout is None:
            timeout = self.default_timeout
        tries = 0  # tries that failed with 5xx / connection errors
        throttles = 0  # 429s seen
        waited = 0.0  # seconds spent on rate limits for this request
        while True:
            limit = max(0.0, policy.max_wait - waited)
            if read_started is not None:
                self._check_budget(read_started, where)
                limit = min(limit, max(0.0, self._budget_left(read_started) or 0.0))
            waited += limiter.wait(self._pause, limit=limit)
            deadline = Deadline(self.deadline) if self.deadline is not None else None
            try:
                with deadline if deadline is not None else contextlib.nullcontext():
                    resp = super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert,
                                        proxies=proxies)
                    self._refuse_foreign_redirect(request, resp)
                    # the body is read here, whatever ``stream`` says: within the size limit and
                    # the deadline, and so that a reset mid-body is retried too
                    self._read_body(request, resp, deadline)
                if deadline is not None and deadline.fired:
                    raise _TooLate()
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    _TooLate) as exc:
                kind = type(exc).__name__
                if deadline is not None and deadline.fired:
                    raise self._late(request, method, idempotent, exc) from None
                why = certificate_problem(exc)
                if why is not None:
                    raise CertificateFailed(
                        f"certificate verify failed for {Limiters.host_of(request.url or '')}: {why}. Not retried: "
                        "for a private CA give the source its CA bundle (ca_bundle); verify_tls = false only "
                        "to test", url=_clean_url(request.url)) from None
                if not idempotent and not never_sent(exc):
                    log.warning("%s: %s after the request was sent; outcome unknown", where, kind)
                    raise AmbiguousWrite(
                        f"{method} {where} may or may not have taken effect ({kind} after sending)",
                        url=_clean_url(request.url),
                    ) from None
                tries += 1
                if tries >= policy.attempts:
                    raise TransientError(
                        f"{method} {where} failed after {tries} tries ({kind})", url=_clean_url(request.url)
                    ) from None
                delay = policy.backoff(tries - 1, self.rng)
                log.info("%s: %s; retry %d/%d in %.1f s", where, kind, tries, policy.attempts - 1, delay)
                if read_started is not None:
                    self._check_budget(read_started, where, delay)
                self._pause(delay)
                continue

            status = resp.status_code
            asked = limiter.observe(resp)
            if status == 429:
                throttles += 1
                wait = asked if asked is not None else policy.backoff(throttles, self.rng)
                wait = max(wait, policy.backoff_base)  # "Retry-After: 0" must not spin
                if waited + wait > policy.max_wait:
                    log.warning("%s: rate limited; asked to wait %.0f s, beyond the %.0f s budget",
                                where, wait, policy.max_wait)
                    resp.retry_after = wait  # type: ignore[attr-defined]  # read by error_for
                    return resp
                limiter.defer(wait)  # no header or "0": still hold every worker, and never spin
                log.info("%s: HTTP 429; waiting %.1f s before trying again", where, wait)
                _drain(resp)
                continue  # the limiter's gate does the sleeping
            retryable = RETRY_STATUS if idempotent else WRITE_RETRY_STATUS
            if status in retryable:
                tries += 1
                if tries >= policy.attempts:
                    return resp  # the caller maps it (TransientError)
                delay = asked if asked is not None else policy.backoff(tries - 1, self.rng)
                if asked is None:
                    if read_started is not None:
                        self._check_budget(read_started, where, delay)
                    self._pause(delay)
                    waited_note = ""
                else:
                    waited_note = " (Retry-After)"
                log.info("%s: HTTP %d; retry %d/%d in %.1f s%s", where, status, tries,
                         policy.attempts - 1, delay, waited_note)
                _drain(resp)
                continue
            return resp


    def _refuse_foreign_redirect(self, request: requests.PreparedRequest, resp: requests.Response) -> None:
        """A redirect to another scheme, host or port is ``RedirectRefused``: requests would follow
        it carrying every credential but ``Authorization`` (and re-POST a token request's form)."""
        target = redirect_target(request, resp)
        if target is None or origin(target) == origin(request.url or ""):
            return
        _drain(resp)
        method = (request.method or "GET").upper()
        raise RedirectRefused(
            f"{method} {shown_url(request.url)} was redirected (HTTP {resp.status_code}) to {shown_url(target)}, "
            "another scheme, host or port: not followed, so the source's credentials are not sent there. "
            "Set the source's url to the address its API answers on",
            status=resp.status_code, url=_clean_url(request.url))

    def _read_body(self, request: requests.PreparedRequest, resp: requests.Response,
                   deadline: Deadline | None) -> None:
        """Read the whole body into ``resp.content``, in chunks: ``AnswerTooLarge`` past
        ``max_response_bytes`` (a declared length over it is refused unread), ``_TooLate``
        once the deadline has passed."""
        if resp.raw is None or resp._content is not False:
            return  # read already (a response built without a connection, in tests)
        limit = self.max_response_bytes
        declared = (resp.headers.get("Content-Length") or "").strip()
        if limit is not None and declared.isdigit() and int(declared) > limit:
            _drain(resp)
            raise self._too_large(request, resp, f"declares {int(declared):,} bytes")
        body = bytearray()
        for chunk in resp.iter_content(BODY_CHUNK):
            body += chunk
            if limit is not None and len(body) > limit:
                _drain(resp)
                raise self._too_large(request, resp, f"sent more than {limit:,} bytes")
            if deadline is not None and deadline.passed():
                deadline.expire()
                _drain(resp)
                raise _TooLate()
        resp._content = bytes(body)

    def _too_large(self, request: requests.PreparedRequest, resp: requests.Response, what: str) -> CoachError:
        method = (request.method or "GET").upper()
        text = (f"{method} {shown_url(request.url)}: the answer {what}, over the source's limit of "
                f"{self.max_response_bytes:,} bytes (max_response_bytes); the rest was not read")
        if method not in IDEMPOTENT:  # the write itself went through or not: the answer says nothing
            return AmbiguousWrite(text + ", so the write may have landed", status=resp.status_code,
                                  url=_clean_url(request.url))
        return AnswerTooLarge(text, status=resp.status_code, url=_clean_url(request.url))

    def _late(self, request: requests.PreparedRequest, method: str, idempotent: bool,
              exc: BaseException) -> TransientError:
        """The error for a try cut off by its deadline; not retried (a server that slow is slow
        again at once, and each try would cost the whole deadline)."""
        text = (f"{method} {_where(request)}: no complete answer within {self.deadline:g} s "
                "(request_deadline_seconds); not retried")
        log.warning("%s", text)
        if not idempotent and not never_sent(exc):
            return AmbiguousWrite(text + "; the write may have landed", url=_clean_url(request.url))
        return TransientError(text, url=_clean_url(request.url))


class _TooLate(Exception):
    """Raised inside a try when its deadline passed between two chunks of the body."""


def _drain(resp: requests.Response) -> None:
    try:
        resp.close()
    except Exception:  # noqa: BLE001 - closing a response we discard must never fail the retry
        pass


def _where(request: requests.PreparedRequest) -> str:
    parts = urlsplit(request.url or "")
    return f"{parts.hostname or ''}{parts.path}"


def _clean_url(url: Any) -> str | None:
    """The URL without its query string (queries are long; never credentials, but noise)."""
    if not url:
        return None
    return str(url).split("?", 1)[0]


# --------------------------------------------------------------------------- session


def build_session(
    url: str,
    *,
    policy: RetryPolicy | None = None,
    limiters: Limiters | None = None,
    verify: bool | str = True,
    user_agent: str = DEFAULT_USER_AGENT,
    timeout: float | tuple[float, float] | None = 30.0,
    sleep: Sleep = time.sleep,
    rng: random.Random | None = None,
    read_budget: float | None = None,
    deadline: float | None = None,
    max_response_bytes: int | None = DEFAULT_MAX_RESPONSE_BYTES,
) -> requests.Session:
    """A session whose every request goes through one ResilientAdapter.

    The adapter resolves the HostLimiter per request host, so a token endpoint on
    another host is rate-limited too. ``url`` is the source's base URL; its
    limiter is created now so reports can find it. ``verify`` is True, False or
    the path of a CA bundle (a private CA). ``deadline`` bounds each try as a
    whole (seconds), ``max_response_bytes`` each body.
    """
    limiters = limiters if limiters is not None else Limiters()
    limiters.for_url(url)
    adapter = ResilientAdapter(policy or RetryPolicy(), limiters, sleep=sleep, rng=rng, default_timeout=timeout,
                               read_budget=read_budget, deadline=deadline, max_response_bytes=max_response_bytes)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.verify = verify
    session.headers["User-Agent"] = user_agent
    session.headers["Accept"] = "application/json"
    return session


# --------------------------------------------------------------------------- errors


def vendor_message(resp: requests.Response | None) -> str:
    """The explanation in an error body, in the shapes the vendors document.

    ServiceNow: ``{"error": {"message", "detail"}, "status": "failure"}``;
    OAuth: ``{"error", "error_description"}``; Jira: ``errorMessages`` / ``errors``.
    """
    if resp is None:
        return ""
    try:
        data = resp.json()
    except DECODE_ERRORS:  # a plain Response (not the adapter's) may still raise RecursionError
        text = (resp.text or "").strip()
        return text[:300] if text and not text.startswith("<") else ""
    if not isinstance(data, dict):
        return ""
    parts: list[str] = []
    err = data.get("error")
    if isinstance(err, dict):
        for k in ("message", "detail"):
            v = err.get(k)
            if isinstance(v, str) and v.strip() and v.strip() not in parts:
                parts.append(v.strip())
    elif isinstance(err, str) and err.strip():
        desc = data.get("error_description")
        parts.append(f"{err.strip()}: {desc.strip()}" if isinstance(desc, str) and desc.strip() else err.strip())
    messages = data.get("errorMessages")
    if isinstance(messages, list):
        parts.extend(str(m) for m in messages if m)
    field_errors = data.get("errors")
    if isinstance(field_errors, dict):
        parts.extend(f"{k}: {v}" for k, v in field_errors.items())
    if not parts and isinstance(data.get("message"), str):
        parts.append(data["message"])
    return "; ".join(parts)


def error_for(resp: requests.Response, message: str, *, hints: Mapping[int, str] | None = None) -> RemoteError:
    """The error-tree exception for a failed response (status >= 400)."""
    status = resp.status_code
    said = vendor_message(resp)
    text = message + (f": {said}" if said else f" (HTTP {status})")
    hint = (hints or {}).get(status)
    if hint:
        text += f". {hint}"
    url = _clean_url(resp.url)
    if status == 400:
        return BadRequest(text, status=status, url=url)
    if status == 401:
        return AuthError(text, status=status, url=url)
    if status == 403:
        return PermissionDenied(text, status=status, url=url)
    if status == 404:
        return NotFound(text, status=status, url=url)
    if status == 410:
        return Gone(text, status=status, url=url)
    if status == 429:
        wait = getattr(resp, "retry_after", None)  # as the adapter computed it on receipt
        if wait is None:
            wait = wait_from_headers(resp.headers, status=429)
        return RateLimited(text, retry_after=wait, status=status, url=url)
    if status >= 500:
        return TransientError(text, status=status, url=url)
    return RemoteError(text, status=status, url=url)


def raise_for_status(resp: requests.Response, message: str, *, hints: Mapping[int, str] | None = None) -> None:
    """Raise the error-tree exception for a 4xx/5xx; do nothing otherwise.

    ``message`` says what was being done ("read sn_cim_register"); the
    vendor's own explanation and an optional per-status hint are appended.
    """
    if resp.status_code >= 400:
        raise error_for(resp, message, hints=hints)
