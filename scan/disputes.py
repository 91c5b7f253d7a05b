"""Owners' pushback in the state file: the ``disputes`` and ``coached_rules`` tables.

``disputes``       one row per record and rule an owner pushed back on ("csi-coach: wrong",
                   "csi-coach: not applicable"): the owner's reason (scrubbed of secrets),
                   the evidence and the record's text when the reply was read (so
                   ``csi-coach disputes`` can hand it to ``classify``), and when the bot
                   acknowledged it (once)
``coached_rules``  which rules each record was coached on, first when: the denominator of
                   the report's dispute rate per rule

Both tables are made by a migration in ``scan.state`` (``MIGRATIONS``); these functions
read and write them through a ``StateStore`` so the store's threading and transactions
apply. Text is data: it is stored as read, scrubbed, and escaped wherever it is shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csi_coach import redact
from csi_coach.coach import ANY_RULE
from csi_coach.errors import StateError
from csi_coach.scan.state import StateStore, _dt, _ts, utcnow

REASON_LIMIT = 2000  # characters of an owner's reason kept
TEXT_LIMIT = 4000  # characters of each record field kept with a dispute


@dataclass(frozen=True)
class Dispute:
    """One rule an owner disputed on one record."""

    source: str
    record_key: str
    number: str
    rule: str
    kind: str  # "wrong" | "not_applicable"
    reason: str
    reply_id: str
    replied: datetime | None
    found: datetime
    digest: str = ""  # the verdict the reply was read against
    evidence: tuple[dict[str, Any], ...] = ()  # each: field, text, start, end
    record: dict[str, Any] | None = None  # title, description, goal, service, url, owner, state, ...
    acknowledged: datetime | None = None


def record_disputes(store: StateStore, disputes: Iterable[Dispute]) -> int:
    """Store new disputes (a rule already disputed on a record is kept as first stored);
    how many were new."""
    rows = [
        (
            d.source, d.record_key, d.number, d.rule, d.kind, redact.scrub(d.reason)[:REASON_LIMIT], d.reply_id,
            _ts(d.replied), _ts(d.found), d.digest, json.dumps(redact.scrub_data(list(d.evidence))),
            json.dumps(redact.scrub_data({k: (v[:TEXT_LIMIT] if isinstance(v, str) else v)
                                          for k, v in (d.record or {}).items()})),
        )
        for d in disputes
    ]
    if not rows:
        return 0
    with store._tx() as cur:  # noqa: SLF001 - the store's own transaction, for its threading rules
        before = cur.execute("SELECT COUNT(*) FROM disputes").fetchone()[0]
        cur.executemany(
            "INSERT OR IGNORE INTO disputes (source, record_key, number, rule, kind, reason, reply_id, replied, found, "
            "digest, evidence, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return int(cur.execute("SELECT COUNT(*) FROM disputes").fetchone()[0]) - int(before)


_COLUMNS = ("source, record_key, number, rule, kind, reason, reply_id, replied, found, digest, evidence, record, "
            "acknowledged")


def _dispute(row: tuple) -> Dispute:
    s, k, n, rule, kind, reason, reply, replied, found, digest, evidence, record, ack = row
    return Dispute(s, k, n, rule, kind, reason, reply, _dt(replied), _found(found), digest,
                   tuple(json.loads(evidence or "[]")), json.loads(record or "{}"), _dt(ack))


def _found(value: str | None) -> datetime:
    """When the dispute was found: written with every row, so a row without it is a
    damaged state file, not a dispute to list."""
    when = _dt(value)
    if when is None:
        raise StateError(f"a dispute in the state file has no time it was found (got {value!r})")
    return when


def _has_tables(store: StateStore) -> bool:
    return bool(store._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'coached_rules'"))  # noqa: SLF001


def disputes(store: StateStore, source: str | None = None) -> list[Dispute]:
    """Every dispute (of one source), oldest first; none from a file older than the table
    (read only, as a dry run or ``csi-coach disputes`` reads it, it is not migrated)."""
    if not _has_tables(store):
        return []
    sql = f"SELECT {_COLUMNS} FROM disputes"
    params: tuple = ()
    if source is not None:
        sql += " WHERE source = ?"
        params = (source,)
    return [_dispute(r) for r in store._query(sql + " ORDER BY found, id", params)]  # noqa: SLF001


def disputed_keys(store: StateStore, source: str) -> dict[str, bool]:
    """Records of ``source`` with disputes -> whether one still waits for its acknowledgement."""
    if not _has_tables(store):
        return {}
    rows = store._query(  # noqa: SLF001
        "SELECT record_key, MAX(acknowledged IS NULL) FROM disputes WHERE source = ? GROUP BY record_key", (source,))
    return {k: bool(waiting) for k, waiting in rows}


def replies_read(store: StateStore, source: str, key: str) -> tuple[frozenset[str], datetime | None]:
    """The ids of the owners' replies already kept as disputes on a record, and when the
    latest of them was written: a reply is read as a dispute once, never again."""
    if not _has_tables(store):
        return frozenset(), None
    rows = store._query(  # noqa: SLF001
        "SELECT reply_id, replied FROM disputes WHERE source = ? AND record_key = ?", (source, key))
    written = [when for _id, r in rows if (when := _dt(r)) is not None]
    return frozenset(str(i) for i, _r in rows if i), max(written, default=None)


def disputed_rules(store: StateStore, source: str, key: str) -> frozenset[str]:
    """The rules disputed on a record; none from a file older than the table (a dry run
    reads it as it is)."""
    if not _has_tables(store):
        return frozenset()
    rows = store._query("SELECT rule FROM disputes WHERE source = ? AND record_key = ?", (source, key))  # noqa: SLF001
    return frozenset(r for (r,) in rows)


def unacknowledged(store: StateStore, source: str, key: str) -> list[Dispute]:
    """The disputes on a record still waiting for the bot's acknowledgement, oldest first."""
    if not _has_tables(store):
        return []
    rows = store._query(  # noqa: SLF001
        f"SELECT {_COLUMNS} FROM disputes WHERE source = ? AND record_key = ? AND acknowledged IS NULL "
        "ORDER BY found, id", (source, key))
    return [_dispute(r) for r in rows]


def mark_acknowledged(store: StateStore, source: str, key: str, *, now: datetime | None = None) -> None:
    """The bot acknowledged the disputes on the record: never again."""
    store._exec(  # noqa: SLF001
        "UPDATE disputes SET acknowledged = ? WHERE source = ? AND record_key = ? AND acknowledged IS NULL",
        (_ts(now or utcnow()), source, key),
    )


def note_coached(store: StateStore, source: str, key: str, rules: Iterable[str], *, now: datetime | None = None) -> None:
    """The bot coached the record on ``rules`` (kept: the first time each)."""
    stamp = _ts(now or utcnow())
    with store._tx() as cur:  # noqa: SLF001
        cur.executemany("INSERT OR IGNORE INTO coached_rules (source, record_key, rule, first) VALUES (?, ?, ?, ?)",
                        [(source, key, rule, stamp) for rule in rules])


@dataclass(frozen=True)
class RuleDisputes:
    rule: str
    coached: int  # records coached on the rule (or, coached before the upgrade, disputed on it)
    disputed: int  # of those, how many the owner disputed on it

    @property
    def rate(self) -> float | None:
        return self.disputed / self.coached if self.coached else None

    def to_dict(self) -> dict[str, Any]:
        rate = self.rate
        return {"rule": self.rule, "coached": self.coached, "disputed": self.disputed,
                "rate": round(rate, 4) if rate is not None else None}


def rate_by_rule(store: StateStore) -> list[RuleDisputes]:
    """Per rule: records coached on it, records whose owner disputed it; most disputed first."""
    if not _has_tables(store):
        return []
    # A record coached before coached_rules was kept (an older release) can be disputed
    # still: it counts as coached on the rule it disputed, so no rate passes 100%. A
    # dispute of a comment that named no rule ("*") has no rule to rate.
    coached = dict(store._query(  # noqa: SLF001
        "SELECT rule, COUNT(*) FROM (SELECT source, record_key, rule FROM coached_rules UNION "
        "SELECT source, record_key, rule FROM disputes WHERE rule != ?) GROUP BY rule", (ANY_RULE,)))
    disputed = dict(store._query(  # noqa: SLF001
        "SELECT rule, COUNT(DISTINCT source || char(31) || record_key) FROM disputes GROUP BY rule"))
    rules = sorted(set(coached) | set(disputed))
    out = [RuleDisputes(r, int(coached.get(r, 0)), int(disputed.get(r, 0))) for r in rules]
    return sorted(out, key=lambda d: (-(d.rate or 0.0), -d.disputed, d.rule))
