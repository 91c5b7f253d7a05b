"""A total deadline for one HTTP exchange, on top of the per-read timeout.

requests' ``timeout`` bounds each wait for the socket, not the exchange: a server
that sends one byte every 0.8 s never trips a 2 s read timeout and can hold a
request for ever (issue 13: 40+ s with ``timeout_seconds = 2``). The adapter arms
a ``Deadline`` around each try (connect, request, headers, body). The connection
classes below hand it every socket they open or read a response from, in the
thread making the request; when the deadline passes, a timer thread shuts those
sockets down, so whatever read is blocked on them returns at once and the
exchange fails. Shutting down (never closing) a socket another thread is reading
is what urllib3's own ``HTTPResponse.shutdown`` does for the same reason.

Not watched: sockets of SOCKS proxies (urllib3.contrib.socks keeps its own pool
classes); their per-read timeout still applies.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import PoolManager

_armed = threading.local()  # the deadline of the exchange this thread is making, if any


class Deadline:
    """One exchange's deadline. Use as a context manager around the exchange, in its thread."""

    def __init__(self, seconds: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._ends = clock() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._fired = False
        self._done = False
        self._outer: Deadline | None = None
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._outer = armed()  # an exchange made while another is armed (none today) gives it back after
        _armed.deadline = self
        self._timer.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        _armed.deadline = self._outer
        with self._lock:
            self._done = True
            self._sockets.clear()
        self._timer.cancel()

    @property
    def fired(self) -> bool:
        """True once the deadline passed while the exchange was still running."""
        with self._lock:
            return self._fired

    def passed(self) -> bool:
        return self.fired or self._clock() >= self._ends

    def watch(self, sock: Any) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has passed)."""
        if not isinstance(sock, socket.socket):
            return  # e.g. urllib3's TLS-in-TLS transport; its raw socket was watched when opened
        with self._lock:
            if self._done:
                return
            if self._fired:
                late = True
            else:
                late = False
                if sock not in self._sockets:
                    self._sockets.append(sock)
        if late:
            _shut(sock)

    def expire(self) -> None:
        """End the exchange now: mark it late and shut its sockets down."""
        with self._lock:
            if self._done:
                return
            self._fired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def armed() -> Deadline | None:
    """The deadline of the exchange the calling thread is making, if any."""
    return getattr(_armed, "deadline", None)


def _shut(sock: socket.socket) -> None:
    try:
        # socket.socket's own shutdown, also for an SSLSocket: the blocked read gets EOF and
        # returns; the TLS object is left to the reading thread.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed or never connected


class _Watched:
    """Mixed into urllib3's connections: new sockets, and the socket a response is read
    from (a kept-alive connection reused), are given to the armed deadline."""

    sock: Any

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        deadline = armed()
        if deadline is not None:
            deadline.watch(sock)
        return sock

    def getresponse(self) -> Any:
        deadline = armed()
        if deadline is not None and self.sock is not None:
            deadline.watch(self.sock)
        return super().getresponse()  # type: ignore[misc]


class WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


def watch_pools(manager: PoolManager) -> PoolManager:
    """Make ``manager`` open its connections through the watched classes."""
    manager.pool_classes_by_scheme = {"http": WatchedHTTPConnectionPool, "https": WatchedHTTPSConnectionPool}
    return manager
