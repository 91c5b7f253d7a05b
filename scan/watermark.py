"""How far a source's watermark may move: never past a record still in hand."""

from __future__ import annotations

from datetime import datetime


class Watermark:
    """Tracks which fetched records are handled, to know how far the watermark may go.

    Fetch yields oldest first and is inclusive (``updated >= since``), so the safe
    new watermark is the earliest ``updated`` of any record not fully handled, or
    the latest seen when all are.
    """

    def __init__(self, since: datetime | None) -> None:
        self.since = since
        self.latest: datetime | None = None
        self._open: dict[int, datetime | None] = {}
        # Pinned records only matter through the earliest one (or one without a place).
        self._pin_min: datetime | None = None
        self._pin_unplaced = False

    def seen(self, updated: datetime | None) -> datetime | None:
        """The position of the next item: its own time, or the last known for one without."""
        if updated is not None and (self.latest is None or updated > self.latest):
            self.latest = updated
        return updated if updated is not None else (self.latest or self.since)

    def open(self, token: int, position: datetime | None) -> None:
        self._open[token] = position

    def close(self, token: int) -> None:
        self._open.pop(token, None)

    def pin(self, position: datetime | None) -> None:
        """A record that stays unhandled this scan (failed or deferred)."""
        if position is None:
            self._pin_unplaced = True
        elif self._pin_min is None or position < self._pin_min:
            self._pin_min = position

    def value(self, old: datetime | None) -> datetime | None:
        held = list(self._open.values())
        if self._pin_unplaced or any(p is None for p in held):
            return old  # cannot place it: keep where we were
        if self._pin_min is not None:
            held.append(self._pin_min)
        if held:
            return min(held)  # type: ignore[type-var]
        return self.latest if self.latest is not None else old
