"""What a scan did: per source (``SourceResult``: counts for the summary, lists for
the report), for the whole run (``ScanResult``, with what the state file knows of
each source), and the write budget every source of a run shares."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from csi_coach.scan.state import StateStore

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
    config_error: bool = False  # failed on its settings (a goal field no record carries): exit 2
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
    # Records the rules could not place (category unsure): not coached, listed for admins.
    unsure: list[dict[str, Any]] = field(default_factory=list)
    # What the records read say about the field mapping (a field none carries, a goal always empty).
    warnings: list[str] = field(default_factory=list)
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
            "unsure": self.categories.get("unsure", 0),
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
            "warnings": list(self.warnings),
        }

    def note_unsure(self, record_key: str, number: str, why: str) -> None:
        if len(self.unsure) < LIST_CAP:
            self.unsure.append({"key": record_key, "number": number, "why": why})

    def note_failure(self, record_key: str, number: str, error: str) -> None:
        self.failed += 1
        log.warning("%s: record %s (%s) failed: %s", self.name, number or record_key, record_key, error)
        if len(self.failures) < LIST_CAP:
            self.failures.append({"key": record_key, "number": number, "error": error})


# Statuses of a scan that stopped on something no later scan fixes by itself: exit code 2.
NEEDS_A_PERSON = frozenset({"state_error", "config_error"})

# A record whose last reads failed this many scans in a row is listed as failing
# repeatedly (from the state file), beside the records that failed this scan.
REPEATED = 2


@dataclass(frozen=True)
class SourceTotals:
    """What the state file knows about one source after the scan: every record any
    scan has read, not only the ones this scan read."""

    records: int = 0
    flagged: int = 0
    categories: dict[str, int] = field(default_factory=dict)
    failing: int = 0  # records whose latest read failed
    repeated: tuple[dict[str, Any], ...] = ()  # failed REPEATED+ scans in a row, longest streak first

    def as_dict(self) -> dict[str, Any]:
        """The figures; the list of repeated failures is given beside them."""
        return {
            "records": self.records,
            "flagged": self.flagged,
            "categories": dict(sorted(self.categories.items())),
            "failing": self.failing,
        }


def source_totals(store: StateStore, name: str) -> SourceTotals:
    records, flagged = store.record_totals(name)
    failing = store.failing_records(name)
    repeated = sorted((r for r in failing if r.failures >= REPEATED), key=lambda r: (-r.failures, r.key))
    return SourceTotals(
        records=records, flagged=flagged, categories=store.category_counts(name), failing=len(failing),
        repeated=tuple(
            {"key": r.key, "number": r.number, "failures": r.failures, "error": r.last_error}
            for r in repeated[:LIST_CAP]
        ),
    )


@dataclass
class ScanResult:
    sources: list[SourceResult] = field(default_factory=list)
    dry_run: bool = False
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended: datetime | None = None
    scan_id: int | None = None
    ruleset: str = ""
    state_path: str = ""
    interrupted: bool = False
    estate: dict[str, SourceTotals] = field(default_factory=dict)  # from the state file, per source
    # From the state file: per rule, records coached on it and disputed by their owners (scan.disputes)
    disputes_by_rule: list[dict[str, Any]] = field(default_factory=list)
    # A failure that stopped the whole scan and will not fix itself (``NEEDS_A_PERSON``), or
    # another scan holding the lock: the status, with ``error`` saying what happened.
    problem: str = ""  # "" | state_error | config_error | busy | error
    error: str = ""

    def total(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.sources)

    @property
    def status(self) -> str:
        if self.problem:
            return self.problem
        if self.interrupted or any(s.status == "interrupted" for s in self.sources):
            return "interrupted"
        if any(s.config_error for s in self.sources):
            return "config_error"  # the other sources were scanned; this one waits for a person
        if any(s.status == "failed" for s in self.sources):
            return "failed"
        if self.total("failed"):
            return "partial"
        return "ok"

    @property
    def exit_code(self) -> int:
        """0 clean; 2 a state-file or config problem (needs a person); 1 anything else, which the
        next scan retries (failed records, a source that could not be read, an interruption)."""
        if self.status in NEEDS_A_PERSON:
            return 2
        return 0 if self.status == "ok" else 1

    def summary(self) -> dict[str, Any]:
        """The JSON object ``scan --json`` prints as its last line."""
        return {
            "status": self.status,
            "error": self.error,
            "dry_run": self.dry_run,
            "records": self.total("records"),
            "flagged": self.total("flagged"),
            "unsure": sum(s.categories.get("unsure", 0) for s in self.sources),
            "written": self.total("written"),
            "deferred": self.total("deferred"),
            "failed": self.total("failed"),
            "skipped": self.total("skipped"),
            "sources": {s.name: self._source_summary(s) for s in self.sources},
            "started": self.started.isoformat(timespec="seconds"),
            "ended": self.ended.isoformat(timespec="seconds") if self.ended else None,
            "scan_id": self.scan_id,
            "ruleset": self.ruleset,
            "state": self.state_path,
        }

    def _source_summary(self, s: SourceResult) -> dict[str, Any]:
        totals = self.estate.get(s.name)
        return {
            **s.counts(),
            "failures": s.failures[:LIST_CAP],  # this scan: key, number, error
            "unsure_records": s.unsure[:LIST_CAP],  # this scan: key, number, why (not coached)
            # from the state file: records failing scan after scan (key, number, failures, error)
            "failing_in_a_row": list(totals.repeated) if totals else [],
            "estate": totals.as_dict() if totals else None,
        }

    def stored_counts(self) -> dict[str, Any]:
        """The counts kept in the state file's scans table (no record lists)."""
        keep = ("records", "flagged", "written", "deferred", "failed", "skipped")
        return {k: self.total(k) for k in keep} | {"sources": {s.name: s.counts() for s in self.sources}}
