"""Where each key of the effective rule set came from, so errors point at a file and line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

from csi_coach.errors import ConfigError
from csi_coach.tomlpos import find_line


def _first_mention(text: str, parts: list[str]) -> int | None:
    """Line of a table header or dotted key that starts with ``parts`` (e.g. [rulez.x])."""
    dotted = r"\s*\.\s*".join(re.escape(p) for p in parts)
    pattern = re.compile(rf"^\s*(?:\[\[?\s*{dotted}\s*[.\]]|{dotted}\s*[.=])")
    for i, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return i
    return None


@dataclass
class Origins:
    """Key path -> (file name, file text) of the file that last set it; and the errors noted
    so far, so one loading lists every mistake (``noting``)."""

    files: dict[str, tuple[str, str]] = field(default_factory=dict)
    default: tuple[str, str] = ("<rules>", "")
    errors: list[ConfigError] = field(default_factory=list)
    broken: set[str] = field(default_factory=set)  # key paths (vocab.x, rule.y) that could not be read

    @contextmanager
    def noting(self, key: str = "") -> Iterator[None]:
        """Note a ConfigError raised inside and go on after the block; ``key`` names what it
        could not read, so an error that only follows from that one is not said too."""
        try:
            yield
        except ConfigError as exc:
            self.errors.append(exc)
            if key:
                self.broken.add(key)

    def set(self, key: str, file: str, text: str) -> None:
        self.files[key] = (file, text)

    def locate(self, key: str) -> tuple[str, int | None]:
        # The most specific recorded prefix of the key path names the file.
        parts = key.split(".")
        for n in range(len(parts), 0, -1):
            hit = self.files.get(".".join(parts[:n]))
            if hit is not None:
                file, text = hit
                break
        else:
            file, text = self.default
        line = find_line(text, parts) if text else None
        if line is None and text:
            # Fall back to the table that holds the key.
            for n in range(len(parts) - 1, 0, -1):
                line = find_line(text, parts[:n])
                if line is not None:
                    break
        if line is None and text:
            line = _first_mention(text, parts)
        return file, line

    def fail(self, key: str, message: str, *, expected: str | None = None, got: Any = None, has_got: bool = True,
             suggestion: str | None = None) -> NoReturn:
        file, line = self.locate(key)
        raise ConfigError(message, file=file, key=key, line=line, expected=expected, got=got, has_got=has_got,
                          suggestion=suggestion)
