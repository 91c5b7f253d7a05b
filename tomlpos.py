"""Find the line of a TOML key path, so errors can say where.

``tomllib`` reports lines only for syntax errors; for a wrong value we search
the text for the table header and the key. Good enough for hand-written files.
"""

from __future__ import annotations

import re


def _header_matches(line: str, table: list[str]) -> bool:
    m = re.match(r"\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$", line)
    if not m:
        return False
    parts = [p.strip().strip('"').strip("'") for p in m.group(1).split(".")]
    return parts == table


def find_line(text: str, key_path: str | list[str]) -> int | None:
    """1-based line of ``key_path`` (dotted, e.g. "sources.prod.auth.method") or None."""
    parts = key_path.split(".") if isinstance(key_path, str) else list(key_path)
    parts = [p for p in parts if not p.isdigit()]  # array indexes are not in the text
    lines = text.splitlines()
    # Try: header = all but the last k parts, key = the (dotted) rest.
    for split in range(len(parts), -1, -1):
        table, rest = parts[:split], parts[split:]
        in_table = not table
        for i, line in enumerate(lines, 1):
            stripped = line.strip()
            if stripped.startswith("["):
                in_table = _header_matches(line, table)
                if in_table and not rest:
                    return i
                continue
            if in_table and rest:
                key = r"\s*\.\s*".join(re.escape(p) + "|" + re.escape(f'"{p}"') for p in rest[:1])
                dotted = r"\s*\.\s*".join(f"(?:{re.escape(p)}|\"{re.escape(p)}\")" for p in rest)
                if re.match(rf"\s*{dotted}\s*=", line) or (len(rest) == 1 and re.match(rf"\s*(?:{key})\s*=", line)):
                    return i
    return None
