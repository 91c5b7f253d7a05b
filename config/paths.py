"""Can the bot write where the config or a flag points? Asked of the file system, which
alone knows (read-only mounts, root on pseudo file systems); nothing is left behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def file_path_problem(path: Path) -> str | None:
    """Why ``path`` can never be a file the bot creates, or None. Only stats; touches nothing.

    Two mistakes are certain without trying a write: the path is an existing
    folder, or a file stands where one of its folders would have to be created.
    (Whether this user may write there is check-config's job: ``checks.path_problems``.)
    """
    if path.is_dir():
        return f"{path} is a folder, not a file"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.exists() and not folder.is_dir():
        return f"{folder} is a file, so the folder {path.parent} cannot be created"
    return None


def probe_folder(folder: Path) -> str | None:
    """Can this user create files in ``folder``? Asks the file system, leaves nothing behind.

    ``os.access`` alone says yes to root on a read-only mount or a pseudo file
    system; an unnamed temporary file (O_TMPFILE where supported, else created
    and unlinked at once) gives the real answer.
    """
    try:
        with tempfile.TemporaryFile(dir=folder):
            return None
    except OSError as exc:
        return f"cannot create files in {folder}: {exc.strerror or exc}"


def writable_problem(path: Path, *, needs_folder: bool) -> str | None:
    """Why the bot could not create or append to ``path``, or None.

    ``needs_folder``: the file's folder must be writable too even when the file
    exists (SQLite writes its -wal and -shm files beside the state file).
    """
    problem = file_path_problem(path)
    if problem:
        return problem
    if path.exists():
        try:  # append mode, no create, no truncate: opening changes nothing
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        except OSError as exc:
            return f"{path} is not writable: {exc.strerror or exc}"
        return probe_folder(path.parent) if needs_folder else None
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    problem = probe_folder(folder)
    if problem and folder != path.parent:
        return f"the folder {path.parent} cannot be created: {problem}"
    return problem


# Files the bot creates (state, its -wal and -shm, lock, log, report) are the bot's
# alone, and so are the folders it creates for them, whatever the umask. What exists
# already keeps its mode: an admin who wants a group-readable log or report creates
# the file (or folder) with that mode, or chmods it once, and the bot leaves it so.
PRIVATE_FILE_MODE = 0o600
PRIVATE_FOLDER_MODE = 0o700


def make_private_folders(folder: Path) -> None:
    """Create ``folder`` and any missing parents, each 0700; existing ones are left as they are."""
    missing: list[Path] = []
    here = Path(folder)
    while not here.exists() and here != here.parent:
        missing.append(here)
        here = here.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=PRIVATE_FOLDER_MODE)
        except FileExistsError:  # made meanwhile by another process: theirs
            continue
        os.chmod(path, PRIVATE_FOLDER_MODE)  # mkdir's mode is cut by the umask; this is not


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 (its missing folders 0700) unless something
    stands there already; True when it was created here. Never follows a symbolic link
    when creating (O_EXCL), never truncates, never changes an existing file's mode."""
    make_private_folders(Path(path).parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)  # the umask may have cut it further
    finally:
        os.close(fd)
    return True
