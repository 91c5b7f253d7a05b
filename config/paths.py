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
