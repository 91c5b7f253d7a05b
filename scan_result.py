"""What one source's scan did: counts for the summary and lists for the report,
and the write budget every source of a run shares."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("csi_coach.scan")

# Lists kept for the report are capped so a 100,000-record scan stays small.
LIST_CAP = 500


class WriteBudget:
    """``max_writes_per_run`` shared by every source of one run (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self.used = 0
        self._lock = threading.Lock()

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit

    def take(self) -> bool:
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True


@dataclass
class SourceResult:
    name: str
    type: str = ""
    status: str = "ok"  # ok | failed | interrupted
    error: str = ""
    full: bool = False
    records: int = 0
    flagged: int = 0
    written: int = 0
    posted: int = 0
    updated: int = 0
    acknowledged: int = 0
    deferred: int = 0
    failed: int = 0
    skipped: int = 0
    settled: int = 0
    categories: Counter = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)
    watermark: str | None = None
    seconds: float = 0.0

    def counts(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "status": self.status,
            "error": self.error,
            "full": self.full,
            "records": self.records,
            "flagged": self.flagged,
            "written": self.written,
            "posted": self.posted,
            "updated": self.updated,
            "acknowledged": self.acknowledged,
            "deferred": self.deferred,
            "failed": self.failed,
            "skipped": self.skipped,
            "settled": self.settled,
            "categories": dict(sorted(self.categories.items())),
            "watermark": self.watermark,
            "seconds": round(self.seconds, 3),
        }

    def note_failure(self, record_key: str, number: str, error: str) -> None:
        self.failed += 1
        log.warning("%s: record %s (%s) failed: %s", self.name, number or record_key, record_key, error)
        if len(self.failures) < LIST_CAP:
            self.failures.append({"key": record_key, "number": number, "error": error})
