"""One scan at a time per state file: an advisory ``fcntl.flock`` on ``<state>.lock``.

A manual ``csi-coach scan`` and a scheduled one never overlap: the second either
waits (``wait=True``, optionally up to ``timeout`` seconds) or raises ``LockBusy``
with a message that says who holds the lock. The kernel drops the lock when the
holder exits, even on ``kill -9``, so a crash never leaves a stale lock behind.

The lock file is opened with ``O_NOFOLLOW`` and never truncated: a symbolic link
named like the lock (planted to make the bot overwrite its target) is refused with an
OSError that says so (the scan's exit 2: a person must look), and so is anything but a
plain file of one link. The file is created 0600 (its folder 0700) whatever the umask;
who holds the lock is written over its first bytes in a fixed width.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import time
from pathlib import Path

from csi_coach.config.paths import PRIVATE_FILE_MODE, make_private_folders
from csi_coach.errors import LockBusy

HOLDER_WIDTH = 40  # "pid N" padded: every holder overwrites the whole of the last one


class ScanLock:
    def __init__(self, state_path: str | Path, *, wait: bool = False, timeout: float | None = None) -> None:
        self.path = Path(f"{state_path}.lock")
        self.wait = wait
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self) -> ScanLock:
        fd = self._open()
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
        os.pwrite(fd, f"pid {os.getpid()}".ljust(HOLDER_WIDTH - 1).encode() + b"\n", 0)
        self._fd = fd
        return self

    def _open(self) -> int:
        """The lock file, opened without following a link and without truncating."""
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # no O_TRUNC, ever
        try:
            make_private_folders(self.path.parent)
            try:
                fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
                created = True
            except FileExistsError:
                fd = os.open(self.path, flags)
                created = False
        except OSError as exc:
            if exc.errno == errno.ELOOP or self.path.is_symlink():
                raise OSError(errno.ELOOP, f"the lock file {self.path} is a symbolic link, and the bot never "
                              "follows one for its lock: remove the link (the bot creates the lock file itself)",
                              str(self.path)) from None
            raise
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
            os.close(fd)
            what = "a hard link to another file" if stat.S_ISREG(info.st_mode) else "not a regular file"
            raise OSError(errno.EEXIST, f"the lock file {self.path} is {what}: remove it (the bot creates the lock "
                          "file itself)", str(self.path))
        os.set_blocking(fd, True)
        if created:
            os.fchmod(fd, PRIVATE_FILE_MODE)  # the umask may have cut it further; an existing file keeps its mode
        return fd

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
        text = os.pread(fd, HOLDER_WIDTH, 0).decode(errors="replace").strip()
    except OSError:
        return ""
    return f", held by {text}" if text else ""
