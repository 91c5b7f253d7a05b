"""A progress bar on the terminal while a scan runs: ``ScanProgress``.

It is the scan's ``on_progress`` hook (called after each record with the source's
running ``SourceResult``) and writes one self-rewriting line to standard error:

    snow [#########...........]  45% 1,204 of ~2,650 records, 310 flagged, 12 written, 0 failed, 18s

Where it shows, and where it does not:

- only when its stream is a terminal (``isatty``): under cron, systemd or a pipe it
  writes nothing at all, whatever the caller asks (the commands also create it only
  for an interactive stderr);
- only once the scan has run ``delay`` seconds (default 2): a short scan leaves no
  trace, and the line is cleared (``clear``) before the summary is printed;
- redrawn at most ten times a second, so a fast scan does not spend its time drawing;
  cut to the terminal's width, so it never wraps (a wrapped line cannot be rewritten).

The total is an estimate: on a full pass, the records the state file knew before
this scan (``expect``, called by ``run_scan`` per source), as no connector announces
a count before its last page. The bar stops at 99% until the source is done; on an
incremental scan, or past the estimate, it is a moving block instead of a share.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from csi_coach.scan.result import SourceResult

BAR_WIDTH = 20
REDRAW_SECONDS = 0.1
CLEAR = "\r\033[K"


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class ScanProgress:
    """The on_progress hook that draws the bar (see the module docstring)."""

    def __init__(self, stream: TextIO, *, delay: float = 2.0, clock: Callable[[], float] = time.monotonic,
                 columns: Callable[[], int] = lambda: shutil.get_terminal_size().columns) -> None:
        self.stream = stream
        self.columns = columns
        self.enabled = is_terminal(stream)
        self.delay = delay
        self.clock = clock
        self._started = clock()
        self._last = -REDRAW_SECONDS
        self._expected: dict[str, int] = {}
        self._ticks = 0
        self._drawn = False

    def expect(self, source: str, records: int) -> None:
        """How many records a full pass over ``source`` will probably read."""
        self._expected[source] = records

    def __call__(self, r: SourceResult) -> None:
        if not self.enabled:
            return
        now = self.clock()
        if now - self._started < self.delay or now - self._last < REDRAW_SECONDS:
            return
        self._last = now
        self._ticks += 1
        self.stream.write(CLEAR + self.line(r, now - self._started)[: max(1, self.columns() - 1)])
        self.stream.flush()
        self._drawn = True

    def line(self, r: SourceResult, seconds: float) -> str:
        """The text drawn for ``r`` after ``seconds``: the bar, then the counts."""
        total = self._expected.get(r.name, 0) if r.full else 0
        if total > 0 and r.records < total:
            share = r.records / total
            filled = min(BAR_WIDTH - 1, int(share * BAR_WIDTH))
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            read = f"{min(99, int(100 * share)):3d}% {r.records:,} of ~{total:,} records"
        else:
            # No estimate: a block that moves while records arrive, so the scan is seen to be alive.
            at = self._ticks % (2 * (BAR_WIDTH - 3))
            at = at if at <= BAR_WIDTH - 3 else 2 * (BAR_WIDTH - 3) - at
            bar = "." * at + "###" + "." * (BAR_WIDTH - 3 - at)
            read = f"{r.records:,} records"
        return (f"{r.name} [{bar}] {read}, {r.flagged:,} flagged, {r.written:,} written, "
                f"{r.failed:,} failed, {seconds:.0f}s")

    def clear(self) -> None:
        """Remove the line, if one was drawn (the summary follows on a clean line)."""
        if self._drawn:
            self.stream.write(CLEAR)
            self.stream.flush()
            self._drawn = False
