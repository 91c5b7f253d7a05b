"""A small loopback HTTP server base for the sandboxes: threads, JSON, faults, stats.

Subclass SandboxServer and implement `handle(req) -> Response`; optionally override
`route_template` (how a path is counted in stats), `error_response` and
`throttle_response` (the vendor's own error bodies for injected faults).

    class MyServer(SandboxServer):
        name = "mine"
        def handle(self, req: Request) -> Response:
            if req.method == "GET" and req.path == "/hello":
                return json_response(200, {"hello": req.query.get("name", "world")})
            return json_response(404, {"error": "not found"})

    with MyServer(port=0, faults=Faults(error_rate=0.1, seed=3)) as srv:   # start() on enter
        requests.get(srv.url + "/hello")
        srv.stats.snapshot()   # {"requests": {"GET /hello": 1}, "total": 1}

What the base does for every request, in order:
  1. `GET /_sandbox/stats` answers the stats at once: no faults, no auth, not counted.
  2. counts the request as "METHOD " + route_template(method, path);
  3. sleeps faults.latency_ms, and faults.slow_paging_ms more when `is_listing(req)` (a page
     of a record listing: the servers say which requests are);
  4. asks faults.pick(): "error" -> error_response(status, ...) without calling handle;
     "throttle" -> throttle_response(retry_after); "reset" -> calls handle (so a write
     happens) and then sends the headers and half the body and shuts the socket, as a
     connection lost mid-response looks to a client;
  5. otherwise calls handle(req); an exception there becomes error_response(500).

Request: .method, .path (no query string), .query {name: last value}, .query_all
{name: [values]}, .headers (case-insensitive .get), .body bytes, .json() (raises
BadBody), .form(), .client (ip). Response(status, body=b"", headers=[(k, v)],
content_type=...); json_response(status, payload, headers=None) builds one.
HTTP/1.1 with keep-alive; handler threads are daemons; stop() returns promptly even
with idle keep-alive connections open. Binding to anything but loopback is refused.

HTTPS: ``use_tls(context)`` before ``start()`` (a server-side ssl.SSLContext, see tls.py)
and the server speaks TLS only, ``url`` starting with https://. The handshake runs in
the connection's own thread, under a time limit, so a client that stalls or refuses
the certificate holds up nobody else and prints nothing. ``tls_refused`` counts the
handshakes that failed (a client that does not trust the CA: each one is a try of
its), also shown in the stats as "tls_refused".
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from csi_coach.sandbox.faults import Faults, RequestStats

STATS_PATH = "/_sandbox/stats"


class BadBody(ValueError):
    """The request body is not the JSON (or form) the endpoint needs."""


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    query_all: dict[str, list[str]]
    headers: Message
    body: bytes
    client: str = "127.0.0.1"

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default) or default

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadBody(f"request body is not valid JSON: {exc}") from None

    def form(self) -> dict[str, str]:
        try:
            pairs = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise BadBody(f"request body is not form-encoded text: {exc}") from None
        return {k: v[-1] for k, v in pairs.items()}


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json;charset=UTF-8"


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | dict | None = None) -> Response:
    items = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return Response(status, body, items)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_ID_SEGMENT = re.compile(r"^(?:[0-9a-f]{32}|\d+|[A-Z][A-Z0-9_]*-\d+)$")


class SandboxServer:
    """Base class: a ThreadingHTTPServer on a daemon thread. See the module docstring."""

    name = "sandbox"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None) -> None:
        if not is_loopback(host):
            raise ValueError(f"the sandbox serves on loopback only; {host!r} is not a loopback address")
        self.host = host
        self.port = port
        self.faults = faults
        self.stats = RequestStats()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.tls: ssl.SSLContext | None = None
        self._tls_refused_before = 0  # kept across stop(), for a test that reads it afterwards

    @property
    def tls_refused(self) -> int:
        """TLS handshakes that failed since start (0 for plain HTTP)."""
        return self._httpd.tls_refused if self._httpd is not None else self._tls_refused_before

    def use_tls(self, context: ssl.SSLContext) -> SandboxServer:
        """Serve HTTPS with this server-side context; call before ``start()``."""
        if self._httpd is not None:
            raise RuntimeError(f"{self.name} sandbox is already serving; use_tls() comes before start()")
        self.tls = context
        return self

    # ---- hooks for subclasses -------------------------------------------------

    def handle(self, req: Request) -> Response:  # pragma: no cover - abstract
        raise NotImplementedError

    def is_listing(self, req: Request) -> bool:
        """Whether the request reads a page of a record listing (slowed by ``slow_paging_ms``)."""
        return False

    def route_template(self, method: str, path: str) -> str:
        """The path as counted in stats: id-like segments become {id}."""
        return "/".join("{id}" if _ID_SEGMENT.match(seg) else seg for seg in path.split("/"))

    def error_response(self, status: int, message: str) -> Response:
        return json_response(status, {"error": message})

    def throttle_response(self, retry_after: int) -> Response:
        resp = self.error_response(429, "Too many requests")
        resp.headers.append(("Retry-After", str(retry_after)))
        return resp

    # ---- life cycle -------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError(f"{self.name} sandbox is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls is not None else 'http'}://{host}:{self.port}"

    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        handler = _make_handler(self)
        server_cls = _Server6 if ":" in self.host else _Server
        self._httpd = server_cls((self.host, self.port), handler)
        self._httpd.tls = self.tls
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"{self.name}-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        self._tls_refused_before = httpd.tls_refused
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- per request --------------------------------------------------------------

    def _respond(self, req: Request) -> tuple[Response, bool]:
        """The response and whether to cut it short (reset fault)."""
        if req.method == "GET" and req.path == STATS_PATH:
            stats = self.stats.snapshot()
            if self.tls is not None:
                stats["tls_refused"] = self.tls_refused
            return json_response(200, stats), False
        self.stats.count(req.method, self.route_template(req.method, req.path))
        faults = self.faults
        fault = None
        if faults is not None:
            if faults.latency_ms:
                time.sleep(faults.latency_ms / 1000.0)
            if faults.slow_paging_ms and self.is_listing(req):
                time.sleep(faults.slow_paging_ms / 1000.0)
            fault = faults.pick()
        if fault is not None and fault.kind == "error":
            return self.error_response(fault.status, "Injected fault: the server failed to answer"), False
        if fault is not None and fault.kind == "throttle":
            return self.throttle_response(faults.retry_after if faults else 1), False
        try:
            resp = self.handle(req)
        except Exception as exc:  # a bug in a sandbox must still answer like a server
            resp = self.error_response(500, f"Sandbox error: {type(exc).__name__}: {exc}")
        return resp, fault is not None and fault.kind == "reset"


HANDSHAKE_SECONDS = 10  # a TLS client that has not finished its handshake by then is dropped


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold up stop()
    allow_reuse_address = True
    tls: ssl.SSLContext | None = None
    tls_refused = 0
    _refused_lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Runs in the connection's thread: the TLS handshake happens here, not in the
        accepting loop, so one slow or refusing client cannot stall the others."""
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        request.settimeout(HANDSHAKE_SECONDS)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            with self._refused_lock:  # the client refused our certificate, spoke plain HTTP, or hung up
                self.tls_refused += 1
            return
        try:
            super().finish_request(conn, client_address)
        finally:
            conn.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, resets, TLS alerts) are normal here: no traceback on stderr."""
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout, ssl.SSLError)):
            return
        super().handle_error(request, client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _make_handler(server: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = f"csi-coach-{server.name}-sandbox"
        sys_version = ""
        timeout = 60  # drop idle keep-alive connections eventually
        disable_nagle_algorithm = True  # headers and body go in two writes: no 40 ms delayed-ACK stall

        def version_string(self) -> str:
            return self.server_version

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the CLI prints one JSON line
            pass

        def _dispatch(self) -> None:
            parts = urlsplit(self.path)
            query_all = parse_qs(parts.query, keep_blank_values=True)
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self.send_error(400, "Bad Content-Length")
                return
            body = self.rfile.read(length) if length > 0 else b""
            req = Request(
                method=self.command,
                path=parts.path.rstrip("/") or "/",
                query={k: v[-1] for k, v in query_all.items()},
                query_all=query_all,
                headers=self.headers,
                body=body,
                client=self.client_address[0],
            )
            resp, cut = server._respond(req)
            if cut and len(resp.body) < 2:  # nothing to cut in half: drop the line before the status
                self._hang_up()
                return
            self.send_response(resp.status)
            if resp.body or resp.status not in (204, 304):
                self.send_header("Content-Type", resp.content_type)
            self.send_header("Content-Length", str(len(resp.body)))
            for key, value in resp.headers:
                self.send_header(key, value)
            if cut:
                self.send_header("Connection", "close")
            self.end_headers()
            if not cut:
                self.wfile.write(resp.body)
                return
            self.wfile.write(resp.body[: len(resp.body) // 2])
            self.wfile.flush()
            self._hang_up()

        def _hang_up(self) -> None:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    return Handler
