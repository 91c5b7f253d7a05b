"""Write budgets: ``[comments] max_writes_per_run`` for the whole scan, and a source's own
``max_writes_per_run`` within it.

The sources of a scan are read one after the other. With the global budget alone the
first source could spend all of it, and a second source with records to coach would be
deferred night after night; a cap of its own per source keeps a share for the others.
A write takes one from its source's cap and one from the global budget, or neither.
"""

from __future__ import annotations

import logging
import threading

from csi_coach.scan.result import WriteBudget

log = logging.getLogger("csi_coach.scan")


class SourceBudget(WriteBudget):
    """One source's cap (``limit``; None: no cap of its own) within the scan's ``shared``
    budget. Thread-safe: the source's write workers take from it at once."""

    def __init__(self, name: str, limit: int | None, shared: WriteBudget) -> None:
        super().__init__(shared.limit if limit is None else limit)
        self.name = name
        self.own = limit is not None
        self.shared = shared
        self._said = False
        self._take_lock = threading.Lock()

    @property
    def exhausted(self) -> bool:
        return (self.own and self.used >= self.limit) or self.shared.exhausted

    def take(self) -> bool:
        with self._take_lock:
            if self.own and self.used >= self.limit:
                self._say(f"its own max_writes_per_run ({self.limit})")
                return False
            if not self.shared.take():
                self._say(f"the scan's [comments] max_writes_per_run ({self.shared.limit})")
                return False
            self.used += 1
            return True

    def _say(self, which: str) -> None:
        if not self._said:
            self._said = True
            log.info("%s: %s is used up; the rest of its writes are deferred to the next scan", self.name, which)


def source_budgets(names_and_limits: list[tuple[str, int | None]], total: int) -> dict[str, SourceBudget]:
    """One budget per source, all within one shared budget of ``total`` writes."""
    shared = WriteBudget(total)
    own = [limit for _, limit in names_and_limits if limit is not None]
    if len(own) == len(names_and_limits) and own and sum(own) > total:
        log.info("the sources' max_writes_per_run add up to %d, more than [comments] max_writes_per_run = %d: "
                 "sources scanned later may get less than their own cap", sum(own), total)
    return {name: SourceBudget(name, limit, shared) for name, limit in names_and_limits}
