"""Keyset paging state for one Jira search (pure, no I/O).

Offset paging over ``ORDER BY updated`` loses issues when earlier ones are
updated between pages (the bot's own comments do that): they jump to the end
and everything behind them slides one place forward, under the offset
(JRASERVER-69860). So each next page restarts the query at
``updated >= "<minute of the last issue read>"`` and skips the issues already
read that have not changed since. JQL dates have minute precision, so the
restart re-reads the issues of that minute read so far (at least the last one).

Restarting makes no progress when a whole page lies within one minute (it
would read the same page again); the caller then steps on within the query it
has (``startAt`` or ``nextPageToken``). ``restart_at`` says which.

Memory stays flat: only keys read at or after the current restart minute are
kept; older ones can never come back unchanged.
"""

from __future__ import annotations

from typing import Any


class Keyset:
    """The restart floor of one fetch and the issues read at or after it."""

    def __init__(self, watermark: str | None, *, zone_known: bool) -> None:
        self.floor = watermark  # the JQL minute the current query starts at (None: from the beginning)
        self.zone_known = zone_known  # else literals are widened by hours: restarts would re-read hours
        self._seen: dict[str, tuple[Any, str | None]] = {}  # key -> (updated as sent, its JQL minute)
        self._page_minutes: set[str | None] = set()
        self.last_minute: str | None = None

    def new_page(self) -> None:
        self._page_minutes = set()
        self.last_minute = None

    def fresh(self, key: str, updated: Any, minute: str | None) -> bool:
        """Note an issue read; False if it was already read with the same ``updated``."""
        self._page_minutes.add(minute)
        self.last_minute = minute
        if key in self._seen and self._seen[key][0] == updated:
            return False
        self._seen[key] = (updated, minute)
        return True

    def restart_at(self) -> str | None:
        """The minute to restart the query at after this page, or None to step on within it.

        A restart is worth it only when it moves past at least one issue of the
        page (the page spans more than one minute) and past the current floor.
        """
        last = self.last_minute
        if not self.zone_known or last is None or len(self._page_minutes) < 2:
            return None
        if self.floor is not None and last <= self.floor:
            return None
        return last

    def restart(self, floor: str) -> None:
        self.floor = floor
        self._seen = {k: v for k, v in self._seen.items() if v[1] is not None and v[1] >= floor}

    def __len__(self) -> int:
        return len(self._seen)
