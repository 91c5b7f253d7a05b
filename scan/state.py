"""The bot's memory between scans: one SQLite file (stdlib ``sqlite3``, WAL).

What it keeps:

- ``scans``       one row per run: start, end, status, counts (JSON), rule-set version
- ``watermarks``  per source: how far incremental scans have got, the fingerprint
                  (rule set + templates) that scan used, and whether one complete pass
                  over the source has finished (the "baseline")
- ``records``     per record: last verdict digest and category, when it changed, when
                  it was last seen, consecutive failures and the last error
- ``ledger``      every comment the bot writes: ``pending`` is committed *before* the
                  remote write and turned ``posted`` after, so a crash at any moment
                  leaves a row to settle by looking for the marker on the ticket
- ``history``     each record's verdict over time, for the managers' report: one row when
                  a record is first judged, when its category or opt-out changes, and when
                  the bot coaches or acknowledges it (never one per scan, so the file stays
                  small); kept ``history_days`` (the newest verdict row of each record
                  always stays)
- ``trend``       one row per scan per source: the estate's totals (judged, flagged, with
                  a value goal, unsure, opted out) when the scan ended
- ``disputes``, ``coached_rules``  owners' pushback per record and rule, and the rules
                  each record was coached on (read and written by ``scan.disputes``)

The schema is versioned: ``schema_version`` holds the number of migrations applied,
and ``MIGRATIONS`` is the ordered list of functions that bring a file forward.

Thread-safety: a state file on disk gets one connection per thread (WAL mode,
autocommit, a 30 s busy timeout: SQLite itself queues the writers, and readers never
wait for them); an in-memory or read-only store (tests, dry runs) shares one
connection behind a re-entrant lock. Each public method is one short statement or one
short ``BEGIN IMMEDIATE`` transaction, so worker threads writing ledger rows never wait
behind a long transaction, and a commit survives the process being killed
(``synchronous=NORMAL`` in WAL mode).

A state file the bot creates is made 0600 (SQLite gives its -wal and -shm the same
mode) in folders made 0700, whatever the umask; an existing file keeps its mode.
Error texts are scrubbed of secrets (redact.py) before they are stored.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from csi_coach import redact
from csi_coach.config.paths import create_private_file
from csi_coach.errors import StateError

PENDING, POSTED = "pending", "posted"
KINDS = ("post", "update", "ack")
HISTORY_DAYS = 400  # [state] history_days: how long history rows are kept
_VALUE_GOAL = {"value": 1, "linked": 1, "process_only": 0, "no_goal": 0}  # unsure and "": NULL
_EVENT = {"post": "coached", "update": "coached", "ack": "acknowledged"}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime | None) -> str | None:
    """Timestamps are stored as ISO 8601 in UTC, so text order is time order."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- migrations ---------------------------------------------------------------------
# Append only. Each function gets a cursor inside the migration's transaction.


def _run_script(db: sqlite3.Cursor, script: str) -> None:
    # Not executescript(): it commits first, and a migration must be one transaction.
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


def _m1_initial(db: sqlite3.Cursor) -> None:
    _run_script(
        db,
        """
        CREATE TABLE scans (
            id INTEGER PRIMARY KEY,
            started TEXT NOT NULL,
            ended TEXT,
            status TEXT NOT NULL,          -- running | ok | failed | interrupted
            sources TEXT NOT NULL,         -- JSON list of source names
            counts TEXT,                   -- JSON
            ruleset TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE watermarks (
            source TEXT PRIMARY KEY,
            watermark TEXT,                -- every record updated before it is handled
            fingerprint TEXT NOT NULL DEFAULT '',
            baseline INTEGER NOT NULL DEFAULT 0,
            updated TEXT NOT NULL
        );
        CREATE TABLE records (
            source TEXT NOT NULL,
            key TEXT NOT NULL,
            number TEXT NOT NULL DEFAULT '',
            digest TEXT NOT NULL DEFAULT '',
            category TEXT NOT NULL DEFAULT '',
            updated TEXT,                  -- the record's own updated time
            last_seen TEXT NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (source, key)
        );
        CREATE TABLE ledger (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            record_key TEXT NOT NULL,
            digest TEXT NOT NULL,
            marker TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('post', 'update', 'ack')),
            state TEXT NOT NULL CHECK (state IN ('pending', 'posted')),
            comment_id TEXT NOT NULL DEFAULT '',
            previous_id TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            updated TEXT NOT NULL
        );
        CREATE INDEX ledger_record ON ledger (source, record_key, id);
        CREATE INDEX ledger_state ON ledger (state, source);
        """
    )


def _m2_scan_source_index(db: sqlite3.Cursor) -> None:
    # Catch-up at start-up asks for the last good scan; keep that cheap on old files.
    db.execute("CREATE INDEX scans_status ON scans (status, id)")


def _m3_record_content(db: sqlite3.Cursor) -> None:
    # A hash of what the rules read, so an unchanged record re-read in the overlap
    # window (or after the bot's own comment bumped its updated time) is not judged again.
    db.execute("ALTER TABLE records ADD COLUMN content TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE records ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0")


def _m4_history(db: sqlite3.Cursor) -> None:
    # Issue 15: does coaching work? Each record's verdict over time, the estate per scan,
    # and the record fields the report breaks the figures down by. The history starts
    # with what the file knows: each judged record's category when last seen, and each
    # comment the ledger holds as posted (the category it was coached on is not kept by
    # the older schema: a coaching comment is written only on a record without a value
    # goal, a thank-you only on one with).
    _run_script(
        db,
        """
        CREATE TABLE history (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            record_key TEXT NOT NULL,
            at TEXT NOT NULL,
            event TEXT NOT NULL CHECK (event IN ('verdict', 'coached', 'acknowledged')),
            category TEXT NOT NULL DEFAULT '',
            value_goal INTEGER,            -- 1 value/linked, 0 process_only/no_goal, NULL unsure
            flagged INTEGER NOT NULL DEFAULT 0,
            opted_out INTEGER NOT NULL DEFAULT 0,
            rules TEXT NOT NULL DEFAULT '' -- the verdict's finding rule ids, space-separated
        );
        CREATE INDEX history_record ON history (source, record_key, at);
        CREATE INDEX history_at ON history (at);
        CREATE TABLE trend (
            scan_id INTEGER NOT NULL,
            source TEXT NOT NULL,
            at TEXT NOT NULL,
            judged INTEGER NOT NULL,
            flagged INTEGER NOT NULL,
            value_goal INTEGER NOT NULL,
            unsure INTEGER NOT NULL,
            opted_out INTEGER NOT NULL,
            PRIMARY KEY (scan_id, source)
        );
        ALTER TABLE records ADD COLUMN title TEXT NOT NULL DEFAULT '';
        ALTER TABLE records ADD COLUMN service TEXT NOT NULL DEFAULT '';
        ALTER TABLE records ADD COLUMN grp TEXT NOT NULL DEFAULT '';
        ALTER TABLE records ADD COLUMN opted_out INTEGER NOT NULL DEFAULT 0;
        INSERT INTO history (source, record_key, at, event, category, value_goal, flagged)
            SELECT source, key, last_seen, 'verdict', category,
                   CASE WHEN category IN ('value', 'linked') THEN 1
                        WHEN category IN ('process_only', 'no_goal') THEN 0 END, flagged
            FROM records WHERE category != '';
        INSERT INTO history (source, record_key, at, event, category, value_goal, flagged)
            SELECT source, record_key, created, CASE kind WHEN 'ack' THEN 'acknowledged' ELSE 'coached' END,
                   '', CASE kind WHEN 'ack' THEN 1 ELSE 0 END, CASE kind WHEN 'ack' THEN 0 ELSE 1 END
            FROM ledger WHERE state = 'posted'
        """,
    )


def _m5_disputes(db: sqlite3.Cursor) -> None:
    # Issue 15 item 3: an owner's reply disputing a comment stops that rule's coaching on
    # that record; admins list the disputes, the report shows a dispute rate per rule.
    _run_script(
        db,
        """
        CREATE TABLE disputes (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            record_key TEXT NOT NULL,
            number TEXT NOT NULL DEFAULT '',
            rule TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('wrong', 'not_applicable')),
            reason TEXT NOT NULL DEFAULT '',   -- scrubbed of secrets
            reply_id TEXT NOT NULL DEFAULT '',
            replied TEXT,
            found TEXT NOT NULL,
            digest TEXT NOT NULL DEFAULT '',
            evidence TEXT NOT NULL DEFAULT '[]',  -- JSON
            record TEXT NOT NULL DEFAULT '{}',    -- JSON: the record's text when the reply was read
            acknowledged TEXT,
            UNIQUE (source, record_key, rule)
        );
        CREATE TABLE coached_rules (
            source TEXT NOT NULL,
            record_key TEXT NOT NULL,
            rule TEXT NOT NULL,
            first TEXT NOT NULL,
            PRIMARY KEY (source, record_key, rule)
        )
        """,
    )


MIGRATIONS: tuple[Callable[[sqlite3.Cursor], None], ...] = (
    _m1_initial, _m2_scan_source_index, _m3_record_content, _m4_history, _m5_disputes,
)


def _open_readonly(path: Path) -> sqlite3.Connection:
    """Open without creating anything: not the file, its folder, its -wal or -shm.

    A clean file (no -wal beside it) is read into memory whole; with a -wal (a scan
    running, or one killed before its checkpoint) SQLite's read-only mode reads both.
    """
    if Path(f"{path}-wal").exists():
        uri = path.resolve().as_uri() + "?mode=ro"
        return sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
    db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    data = bytearray(path.read_bytes())
    if len(data) >= 20:
        data[18:20] = b"\x01\x01"  # header: WAL -> rollback journal; memory cannot do WAL
    db.deserialize(bytes(data))
    return db


# --- values -------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    id: int
    source: str
    record_key: str
    digest: str
    marker: str
    kind: str
    state: str
    comment_id: str
    previous_id: str
    created: datetime
    updated: datetime


@dataclass(frozen=True)
class StoredWatermark:
    """What the state file holds for one source: the last watermark, the rules and
    templates it was reached with, and whether the first scan was a baseline."""

    source: str
    watermark: datetime | None
    fingerprint: str
    baseline: bool


@dataclass(frozen=True)
class RecordState:
    source: str
    key: str
    number: str
    digest: str
    category: str
    updated: datetime | None
    last_seen: datetime
    failures: int
    last_error: str
    content: str = ""
    flagged: bool = False


@dataclass(frozen=True)
class ScanRow:
    id: int
    started: datetime
    ended: datetime | None
    status: str
    sources: tuple[str, ...]
    counts: dict[str, Any]
    ruleset: str


@dataclass(frozen=True)
class RecordUpdate:
    """What a scan learned about one record; written in batches."""

    source: str
    key: str
    number: str
    digest: str
    category: str
    updated: datetime | None
    seen: datetime
    error: str = ""  # non-empty: the record failed this time
    content: str = ""  # hash of the fields the rules read
    flagged: bool = False
    # For the history and the report (issue 15):
    title: str = ""
    service: str = ""
    group: str = ""  # the owner's group or team, where the source maps one
    opted_out: bool = False  # an opt-out label, or an exempt verdict
    rules: str = ""  # the verdict's finding rule ids, space-separated
    wrote: str = ""  # "post" | "update" | "ack": what the bot wrote on it this scan


@dataclass(frozen=True)
class HistoryRow:
    """One change in a record's verdict, or one comment the bot wrote on it."""

    source: str
    key: str
    at: datetime
    event: str  # verdict | coached | acknowledged
    category: str  # "" on a comment carried over from a state file older than the history
    value_goal: bool | None
    flagged: bool
    opted_out: bool
    rules: tuple[str, ...]


@dataclass(frozen=True)
class TrendRow:
    """A source's estate when one scan ended."""

    scan_id: int
    source: str
    at: datetime
    judged: int
    flagged: int
    value_goal: int
    unsure: int
    opted_out: int


@dataclass(frozen=True)
class RecordRow:
    """A record's latest verdict and the fields the report lists it by."""

    source: str
    key: str
    number: str
    title: str
    service: str
    group: str
    category: str
    flagged: bool
    opted_out: bool
    last_seen: datetime
    failures: int


# --- the store ----------------------------------------------------------------------


class StateStore:
    """The SQLite state file. ``StateStore(":memory:")`` for a throwaway store."""

    def __init__(self, path: str | Path, *, readonly: bool = False, history_days: int = HISTORY_DAYS) -> None:
        self.path = str(path)
        self.readonly = readonly
        self.history_days = history_days
        # A real file: one connection per thread, so the read loop never waits on a
        # Python lock held by a writer thread that is itself waiting for the GIL (WAL
        # lets readers and the one writer proceed at once; SQLite queues the writers).
        # In memory or read-only (dry runs, single-threaded): one shared connection.
        self._shared_mode = readonly or self.path == ":memory:"
        self._guard: Any = threading.RLock() if self._shared_mode else nullcontext()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        try:
            if readonly:
                self._shared: sqlite3.Connection | None = _open_readonly(Path(self.path))
                self._shared.execute("PRAGMA busy_timeout=30000")
                self._check_version()
            else:
                if self.path != ":memory:":
                    create_private_file(Path(self.path))
                self._shared = self._connect() if self._shared_mode else None
                self._migrate()
        except sqlite3.Error as exc:
            raise StateError(f"cannot open state file {self.path}: {exc}") from exc
        except OSError as exc:  # creating it or its folder
            raise StateError(f"cannot create state file {self.path}: {exc.strerror or exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: every commit survives the process dying (kill -9, OOM,
        # a crash), which is what exactly-once needs; only an OS crash or power cut can
        # roll back the last commits. FULL would fsync each ledger row (about 10 ms
        # each, serialised), making the writes, not the network, the bottleneck.
        db.execute("PRAGMA synchronous=NORMAL")
        with self._all_lock:
            self._all.append(db)
        return db

    @property
    def _db(self) -> sqlite3.Connection:
        if self._shared is not None:
            return self._shared
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    @classmethod
    def open_readonly_or_empty(cls, path: str | Path) -> StateStore:
        """For dry runs: the real file read-only if it exists, else an empty in-memory store."""
        return cls(path, readonly=True) if Path(path).exists() else cls(":memory:")

    # -- plumbing ------------------------------------------------------------------

    def close(self) -> None:
        with self._guard, self._all_lock:
            if self._shared is not None and self._shared not in self._all:
                self._all.append(self._shared)
            for db in self._all:
                db.close()
            self._all.clear()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        with self._guard:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._guard:
            return self._db.execute(sql, params).fetchall()

    def _exec(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        if self.readonly:
            raise StateError("state store is read-only (dry run)")
        with self._guard:
            return self._db.execute(sql, params)

    def schema_version(self) -> int:
        rows = self._query("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'")
        if not rows:
            return 0
        row = self._query("SELECT version FROM schema_version")
        return int(row[0][0]) if row else 0

    def _check_version(self) -> None:
        have = self.schema_version()
        if have > len(MIGRATIONS):
            raise StateError(
                f"state file {self.path} has schema version {have}, newer than this csi-coach "
                f"understands ({len(MIGRATIONS)}); upgrade csi-coach"
            )

    def _migrate(self) -> None:
        self._check_version()
        with self._tx() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = cur.execute("SELECT version FROM schema_version").fetchone()
            have = int(row[0]) if row else 0
            if row is None:
                cur.execute("INSERT INTO schema_version (version) VALUES (0)")
            for number, migration in enumerate(MIGRATIONS[have:], start=have + 1):
                migration(cur)
                cur.execute("UPDATE schema_version SET version = ?", (number,))

    # -- scans ---------------------------------------------------------------------

    def begin_scan(self, sources: Iterable[str], ruleset: str, *, now: datetime | None = None) -> int:
        """A new scan, ``running``. Scans still ``running`` were left so by a process that died
        (kill -9, OOM, power cut): one scan runs at a time, under the scan lock, so they are
        marked ``interrupted`` (ended when this one starts) in the same transaction."""
        stamp = _ts(now or utcnow())
        with self._tx() as cur:
            cur.execute("UPDATE scans SET status = 'interrupted', ended = COALESCE(ended, ?) WHERE status = 'running'",
                        (stamp,))
            cur.execute("INSERT INTO scans (started, status, sources, ruleset) VALUES (?, 'running', ?, ?)",
                        (stamp, json.dumps(list(sources)), ruleset))
            return cast(int, cur.lastrowid)  # set by the INSERT (typed Optional: None before one)

    def end_scan(self, scan_id: int, status: str, counts: dict[str, Any], *, now: datetime | None = None) -> None:
        """Close the scan; note each of its sources' estate in ``trend``; drop history
        older than ``history_days``."""
        moment = now or utcnow()
        stamp = _ts(moment)
        with self._tx() as cur:
            cur.execute(
                "UPDATE scans SET ended = ?, status = ?, counts = ? WHERE id = ?",
                (stamp, status, json.dumps(redact.scrub_data(counts), sort_keys=True), scan_id),
            )
            cur.execute(
                "INSERT OR REPLACE INTO trend (scan_id, source, at, judged, flagged, value_goal, unsure, opted_out) "
                "SELECT ?, r.source, ?, COUNT(*), COALESCE(SUM(r.flagged), 0), "
                "COALESCE(SUM(r.category IN ('value', 'linked')), 0), COALESCE(SUM(r.category = 'unsure'), 0), "
                "COALESCE(SUM(r.opted_out), 0) FROM records r "
                "WHERE r.category != '' AND r.source IN (SELECT value FROM json_each((SELECT sources FROM scans WHERE id = ?))) "
                "GROUP BY r.source",
                (scan_id, stamp, scan_id),
            )
            self._prune(cur, moment)

    def _prune(self, cur: sqlite3.Cursor, now: datetime) -> None:
        """History and trend rows older than ``history_days``, but never a record's newest
        verdict row: it says what the record was when it last changed."""
        cutoff = _ts(now - timedelta(days=self.history_days))
        cur.execute(
            "DELETE FROM history WHERE at < ? AND id NOT IN "
            "(SELECT MAX(id) FROM history WHERE event = 'verdict' GROUP BY source, record_key)",
            (cutoff,),
        )
        cur.execute("DELETE FROM trend WHERE at < ?", (cutoff,))

    def scans(self, limit: int = 20) -> list[ScanRow]:
        rows = self._query(
            "SELECT id, started, ended, status, sources, counts, ruleset FROM scans ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [_scan_row(r) for r in rows]

    def last_successful_scan(self) -> ScanRow | None:
        """The newest scan that finished with status ok (some failed records count as ok
        for scheduling: the scan ran; the failures are retried next time)."""
        rows = self._query(
            "SELECT id, started, ended, status, sources, counts, ruleset FROM scans "
            "WHERE status IN ('ok', 'partial') ORDER BY id DESC LIMIT 1"
        )
        return _scan_row(rows[0]) if rows else None

    # -- watermarks ----------------------------------------------------------------

    def watermark(self, source: str) -> StoredWatermark:
        rows = self._query("SELECT watermark, fingerprint, baseline FROM watermarks WHERE source = ?", (source,))
        if not rows:
            return StoredWatermark(source, None, "", False)
        wm, fp, baseline = rows[0]
        return StoredWatermark(source, _dt(wm), fp, bool(baseline))

    def set_watermark(
        self, source: str, watermark: datetime | None, fingerprint: str, *, baseline: bool | None = None
    ) -> None:
        """Store how far the source is handled. ``baseline`` only ever turns on here;
        ``None`` keeps what is stored."""
        with self._tx() as cur:
            row = cur.execute("SELECT baseline FROM watermarks WHERE source = ?", (source,)).fetchone()
            keep = bool(row[0]) if row else False
            new_baseline = keep or bool(baseline)
            cur.execute(
                "INSERT INTO watermarks (source, watermark, fingerprint, baseline, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(source) DO UPDATE SET watermark = excluded.watermark, "
                "fingerprint = excluded.fingerprint, baseline = excluded.baseline, updated = excluded.updated",
                (source, _ts(watermark), fingerprint, int(new_baseline), _ts(utcnow())),
            )

    # -- records -------------------------------------------------------------------

    def record(self, source: str, key: str) -> RecordState | None:
        rows = self._query(
            "SELECT source, key, number, digest, category, updated, last_seen, failures, last_error, content, flagged "
            "FROM records WHERE source = ? AND key = ?",
            (source, key),
        )
        if not rows:
            return None
        s, k, n, d, c, u, seen, f, e, content, flagged = rows[0]
        return RecordState(s, k, n, d, c, _dt(u), _dt(seen), f, e, content, bool(flagged))  # type: ignore[arg-type]

    def remember(self, updates: Sequence[RecordUpdate]) -> None:
        """Write what a scan learned about many records in one transaction.

        A failure keeps the last good digest and counts up ``failures``; a success
        resets the count.
        """
        if not updates:
            return
        bad = [(u.source, u.key, u.number, _ts(u.seen), redact.scrub(u.error)[:2000]) for u in updates if u.error]
        with self._tx() as cur:
            for u in updates:
                if not u.error:
                    self._remember_one(cur, u)
            cur.executemany(
                "INSERT INTO records (source, key, number, last_seen, failures, last_error) VALUES (?, ?, ?, ?, 1, ?) "
                "ON CONFLICT(source, key) DO UPDATE SET last_seen = excluded.last_seen, "
                "failures = records.failures + 1, last_error = excluded.last_error, content = ''",
                bad,
            )

    @staticmethod
    def _remember_one(cur: sqlite3.Cursor, u: RecordUpdate) -> None:
        """One judged record: a history row first, while ``records`` still holds what the
        record was (only if its category or opt-out changed, or it is new), one more if the
        bot wrote on it, then its row in ``records``. One record at a time, so a record read
        twice in one batch (after the bot's own comment) gains no second row."""
        seen = _ts(u.seen)
        values = (u.category, _VALUE_GOAL.get(u.category), int(u.flagged), int(u.opted_out), u.rules)
        cur.execute(
            "INSERT INTO history (source, record_key, at, event, category, value_goal, flagged, opted_out, rules) "
            "SELECT ?, ?, ?, 'verdict', ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM records "
            "WHERE source = ? AND key = ? AND category = ? AND opted_out = ?)",
            (u.source, u.key, seen, *values, u.source, u.key, u.category, int(u.opted_out)),
        )
        if u.wrote:
            cur.execute(
                "INSERT INTO history (source, record_key, at, event, category, value_goal, flagged, opted_out, rules) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (u.source, u.key, seen, _EVENT[u.wrote], *values),
            )
        cur.execute(
            "INSERT INTO records (source, key, number, digest, category, updated, last_seen, failures, last_error, "
            "content, flagged, title, service, grp, opted_out) VALUES (?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(source, key) DO UPDATE SET "
            "number = excluded.number, digest = excluded.digest, category = excluded.category, "
            "updated = excluded.updated, last_seen = excluded.last_seen, failures = 0, last_error = '', "
            "content = excluded.content, flagged = excluded.flagged, title = excluded.title, "
            "service = excluded.service, grp = excluded.grp, opted_out = excluded.opted_out",
            (u.source, u.key, u.number, u.digest, u.category, _ts(u.updated), seen, u.content, int(u.flagged),
             u.title, u.service, u.group, int(u.opted_out)),
        )

    # -- history (the managers' report) --------------------------------------------

    def history(self, source: str | None = None) -> list[HistoryRow]:
        """Every history row kept, oldest first (of one source, or all)."""
        sql = ("SELECT source, record_key, at, event, category, value_goal, flagged, opted_out, rules FROM history")
        params: tuple = ()
        if source is not None:
            sql += " WHERE source = ?"
            params = (source,)
        return [
            HistoryRow(s, k, _dt(at), ev, c, None if vg is None else bool(vg), bool(f), bool(o),  # type: ignore[arg-type]
                       tuple(rules.split()))
            for s, k, at, ev, c, vg, f, o, rules in self._query(sql + " ORDER BY at, id", params)
        ]

    def trend(self) -> list[TrendRow]:
        """One row per scan per source, oldest first."""
        rows = self._query(
            "SELECT scan_id, source, at, judged, flagged, value_goal, unsure, opted_out FROM trend ORDER BY at, scan_id, source"
        )
        return [TrendRow(i, s, _dt(at), j, f, v, u, o) for i, s, at, j, f, v, u, o in rows]  # type: ignore[arg-type]

    def record_rows(self) -> list[RecordRow]:
        """Every record this file knows, with its latest verdict, by source and number."""
        rows = self._query(
            "SELECT source, key, number, title, service, grp, category, flagged, opted_out, last_seen, failures "
            "FROM records ORDER BY source, number, key"
        )
        return [
            RecordRow(s, k, n, t, sv, g, c, bool(f), bool(o), _dt(seen), fails)  # type: ignore[arg-type]
            for s, k, n, t, sv, g, c, f, o, seen, fails in rows
        ]

    def history_count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM history")[0][0])

    def record_keys(self, source: str) -> set[str]:
        """Every record of ``source`` this file has seen (one query instead of one per record)."""
        return {k for (k,) in self._query("SELECT key FROM records WHERE source = ?", (source,))}

    def failing_records(self, source: str | None = None) -> list[RecordState]:
        sql = (
            "SELECT source, key, number, digest, category, updated, last_seen, failures, last_error "
            "FROM records WHERE failures > 0"
        )
        params: tuple = ()
        if source is not None:
            sql += " AND source = ?"
            params = (source,)
        return [
            RecordState(s, k, n, d, c, _dt(u), _dt(seen), f, e)  # type: ignore[arg-type]
            for s, k, n, d, c, u, seen, f, e in self._query(sql + " ORDER BY source, key", params)
        ]

    def forget(self, source: str, keys: Iterable[str]) -> None:
        """Drop records that no longer exist on the source (their ledger rows stay)."""
        with self._tx() as cur:
            cur.executemany("DELETE FROM records WHERE source = ? AND key = ?", [(source, k) for k in keys])

    def known_since(self, source: str) -> datetime | None:
        """From when on the tickets may hold bot comments this file does not know.

        The later of the end of the last finished scan of ``source`` and the newest
        ledger row (a scan killed mid-way never finished, but its writes are in the
        ledger): a restored backup answers with its own, old time; a new file None.
        """
        ended = self._query(
            "SELECT MAX(ended) FROM scans WHERE status != 'running' "
            "AND EXISTS (SELECT 1 FROM json_each(scans.sources) WHERE value = ?)",
            (source,),
        )[0][0]
        created = self._query("SELECT MAX(created) FROM ledger WHERE source = ?", (source,))[0][0]
        times = [t for t in (_dt(ended), _dt(created)) if t is not None]
        return max(times) if times else None

    def category_counts(self, source: str) -> dict[str, int]:
        rows = self._query(
            "SELECT category, COUNT(*) FROM records WHERE source = ? AND category != '' GROUP BY category", (source,)
        )
        return {c: n for c, n in rows}

    # -- ledger --------------------------------------------------------------------

    def ledger_begin(
        self,
        source: str,
        record_key: str,
        digest: str,
        marker: str,
        kind: str,
        *,
        previous_id: str = "",
        now: datetime | None = None,
    ) -> int:
        """Commit a ``pending`` row. Call this before the remote write, always."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        stamp = _ts(now or utcnow())
        cur = self._exec(
            "INSERT INTO ledger (source, record_key, digest, marker, kind, state, previous_id, created, updated) "
            "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
            (source, record_key, digest, marker, kind, previous_id, stamp, stamp),
        )
        return cast(int, cur.lastrowid)  # set by the INSERT (typed Optional: None before one)

    def ledger_posted(self, row_id: int, comment_id: str, *, now: datetime | None = None) -> None:
        """The remote write landed (or was found on the ticket)."""
        self._exec(
            "UPDATE ledger SET state = 'posted', comment_id = ?, updated = ? WHERE id = ?",
            (comment_id or "", _ts(now or utcnow()), row_id),
        )

    def ledger_discard(self, row_id: int) -> None:
        """The remote write certainly did not land: forget the pending row."""
        self._exec("DELETE FROM ledger WHERE id = ? AND state = 'pending'", (row_id,))

    def ledger_adopt(
        self,
        source: str,
        record_key: str,
        digest: str,
        marker: str,
        kind: str,
        comment_id: str,
        created: datetime | None,
    ) -> int:
        """Record a bot comment found on the ticket that the ledger did not know
        (state file lost or replaced). The history gains the comment at its time, so the
        report still knows when the record was first coached."""
        if self.readonly:
            raise StateError("state store is read-only (dry run)")
        stamp = _ts(created or utcnow())
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO ledger (source, record_key, digest, marker, kind, state, comment_id, created, updated) "
                "VALUES (?, ?, ?, ?, ?, 'posted', ?, ?, ?)",
                (source, record_key, digest, marker, kind, comment_id or "", stamp, _ts(utcnow())),
            )
            row_id = cast(int, cur.lastrowid)  # set by the INSERT (typed Optional: None before one)
            if kind in _EVENT:
                ack = kind == "ack"
                cur.execute(
                    "INSERT INTO history (source, record_key, at, event, value_goal, flagged) VALUES (?, ?, ?, ?, ?, ?)",
                    (source, record_key, stamp, _EVENT[kind], int(ack), int(not ack)),
                )
        return row_id

    def ledger_for(self, source: str, record_key: str) -> list[LedgerRow]:
        rows = self._query(
            "SELECT id, source, record_key, digest, marker, kind, state, comment_id, previous_id, created, updated "
            "FROM ledger WHERE source = ? AND record_key = ? ORDER BY id",
            (source, record_key),
        )
        return [_ledger_row(r) for r in rows]

    def ledger_keys(self, source: str) -> set[str]:
        """The records of ``source`` the bot has ledger rows for."""
        return {k for (k,) in self._query("SELECT DISTINCT record_key FROM ledger WHERE source = ?", (source,))}

    def pending(self, source: str) -> list[LedgerRow]:
        rows = self._query(
            "SELECT id, source, record_key, digest, marker, kind, state, comment_id, previous_id, created, updated "
            "FROM ledger WHERE state = 'pending' AND source = ? ORDER BY id",
            (source,),
        )
        return [_ledger_row(r) for r in rows]

    def ledger_counts(self) -> dict[str, int]:
        return {f"{k}:{s}": n for k, s, n in self._query("SELECT kind, state, COUNT(*) FROM ledger GROUP BY kind, state")}

    def record_totals(self, source: str) -> tuple[int, int]:
        """(records of ``source`` this file knows, how many of them were last judged flagged)."""
        n, flagged = self._query("SELECT COUNT(*), COALESCE(SUM(flagged), 0) FROM records WHERE source = ?", (source,))[0]
        return int(n), int(flagged)


def _ledger_row(r: tuple) -> LedgerRow:
    i, s, k, d, m, kind, st, cid, prev, created, updated = r
    return LedgerRow(i, s, k, d, m, kind, st, cid, prev, _dt(created), _dt(updated))  # type: ignore[arg-type]


def _scan_row(r: tuple) -> ScanRow:
    i, started, ended, status, sources, counts, ruleset = r
    return ScanRow(
        i, _dt(started), _dt(ended), status, tuple(json.loads(sources)), json.loads(counts) if counts else {}, ruleset  # type: ignore[arg-type]
    )
