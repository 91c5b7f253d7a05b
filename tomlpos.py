"""Find the line of a TOML key path, so errors can say where.

``tomllib`` reports lines only for syntax errors; for a wrong value we search
the text for the table header and the key. Good enough for hand-written files.

The text is read once into an index of its headers and keys (the first line of
each): loading the shipped rules asks for a few hundred lines, and searching the
file from the top for each took over half a second.
"""

from __future__ import annotations

import functools
import re

_HEADER = re.compile(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
# A key before "=": bare or quoted parts joined by dots.
_KEY = re.compile(r"""\s*((?:"[^"\n]*"|'[^'\n]*'|[^\s=."'\[#]+)(?:\s*\.\s*(?:"[^"\n]*"|'[^'\n]*'|[^\s=."'\[#]+))*)\s*=""")
_KEY_PART = re.compile(r""""([^"\n]*)"|'([^'\n]*)'|([^\s=."'\[#]+)""")


def _header_parts(line: str) -> tuple[str, ...] | None:
    m = _HEADER.match(line)
    if not m:
        return None
    return tuple(p.strip().strip('"').strip("'") for p in m.group(1).split("."))


@functools.lru_cache(maxsize=16)
def _index(text: str) -> tuple[dict, dict]:
    """(first line of each table header, first line of each key under each table)."""
    headers: dict[tuple[str, ...], int] = {}
    keys: dict[tuple[tuple[str, ...], tuple[str, ...]], int] = {}
    table: tuple[str, ...] | None = ()  # None: under a line that opens a table we cannot read
    for i, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith("["):
            table = _header_parts(line)
            if table is not None:
                headers.setdefault(table, i)
            continue
        if table is None:
            continue
        m = _KEY.match(line)
        if m:
            parts = tuple(k.group(k.lastindex or 0) for k in _KEY_PART.finditer(m.group(1)))
            keys.setdefault((table, parts), i)
    return headers, keys


def find_line(text: str, key_path: str | list[str]) -> int | None:
    """1-based line of ``key_path`` (dotted, e.g. "sources.prod.auth.method") or None."""
    parts = key_path.split(".") if isinstance(key_path, str) else list(key_path)
    parts = [p for p in parts if not p.isdigit()]  # array indexes are not in the text
    if not parts:
        return None
    headers, keys = _index(text)
    # Try: header = all but the last k parts, key = the (dotted) rest.
    for split in range(len(parts), -1, -1):
        table, rest = tuple(parts[:split]), tuple(parts[split:])
        line = keys.get((table, rest)) if rest else headers.get(table)
        if line is not None:
            return line
    return None
