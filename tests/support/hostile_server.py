"""A real HTTP server on 127.0.0.1, in a thread, that misbehaves as a test scripts it (no tests here).

    def answer(call: Call) -> None:
        call.reply(307, headers={"Location": other.url + call.path})

    with HostileServer(answer) as server:
        ... server.url ... server.seen ...

Each request is recorded (method, path with query, headers, body) before ``answer``
runs, so a test can assert what a server was sent, credentials included. ``Call``
can answer at once (``reply``), a byte at a time (``drip``) or with a body written
in chunks (``stream``) so the test process never holds a huge body.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # with its query string
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Call:
    """One request being answered; ``handler`` is http.server's, for anything unusual."""

    handler: BaseHTTPRequestHandler
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    stop: threading.Event = field(repr=False, default_factory=threading.Event)

    @property
    def route(self) -> str:
        """The path without its query string."""
        return urlsplit(self.path).path

    def reply(self, status: int = 200, body: bytes | str | Any = b"", *, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        data = body.encode() if isinstance(body, str) else body
        self._head(status, {"Content-Type": content_type, "Content-Length": str(len(data)), **(headers or {})})
        self._write(data)

    def stream(self, parts: Iterable[bytes], length: int | None, *, status: int = 200,
               headers: dict[str, str] | None = None) -> None:
        """A body written part by part; ``length`` None sends no Content-Length (ends at close)."""
        head = {"Content-Type": "application/json", **(headers or {})}
        if length is not None:
            head["Content-Length"] = str(length)
        self._head(status, head)
        for part in parts:
            if self.stop.is_set() or not self._write(part):
                return

    def drip(self, body: bytes, every: float, *, headers_too: bool = False) -> None:
        """One byte every ``every`` seconds: of the body, or (``headers_too``) of the whole answer."""
        head = (f"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode()
        if not headers_too:
            self.handler.wfile.write(head)
            self.handler.wfile.flush()
            head = b""
        for i in range(len(head + body)):
            if self.stop.is_set() or not self._write((head + body)[i:i + 1]):
                return
            time.sleep(every)

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.handler.send_response(status)
        for name, value in headers.items():
            self.handler.send_header(name, value)
        self.handler.end_headers()

    def _write(self, data: bytes) -> bool:
        try:
            self.handler.wfile.write(data)
            self.handler.wfile.flush()
            return True
        except OSError:  # the client went away (it refused the rest): nothing more to send
            return False


class HostileServer:
    """Serves ``answer`` on 127.0.0.1 (a free port) until the ``with`` block ends."""

    def __init__(self, answer: Callable[[Call], None]) -> None:
        self.answer = answer
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with outer._lock:
                    outer.seen.append(Seen(self.command, self.path, headers, body))
                outer.answer(Call(self, self.command, self.path, headers, body, outer._stop))

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any  # noqa: N815 - http.server's names

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> HostileServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()  # ends drips and streams still writing
        self._server.shutdown()
        self._server.server_close()

    def requests_to(self, route: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if urlsplit(s.path).path == route]
