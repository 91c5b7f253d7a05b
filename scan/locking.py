"""One scan at a time per state file: an advisory ``fcntl.flock`` on ``<state>.lock``.

A manual ``csi-coach scan`` and a scheduled one never overlap: the second either
waits (``wait=True``, optionally up to ``timeout`` seconds) or raises ``LockBusy``
with a message that says who holds the lock. The kernel drops the lock when the
holder exits, even on ``kill -9``, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from csi_coach.errors import LockBusy


class ScanLock:
    def __init__(self, state_path: str | Path, *, wait: bool = False, timeout: float | None = None) -> None:
        self.path = Path(f"{state_path}.lock")
        self.wait = wait
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> ScanLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not self.wait or (deadline is not None and time.monotonic() >= deadline):
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise LockBusy(
                        f"another scan is running (lock {self.path}{holder}); "
                        "it finishes on its own, try again later"
                    ) from None
                time.sleep(0.2)
        # Who holds it, for the message the next one prints. Advisory only.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> ScanLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    except OSError:
        return ""
    return f", held by {text}" if text else ""
