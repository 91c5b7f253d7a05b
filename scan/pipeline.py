"""One source's scan: settle, fetch, evaluate, decide, write, remember.

The order of events for every write is what makes comments exactly-once:

1. a ``pending`` ledger row is committed,
2. the comment is written on the ticket (it carries the marker ``csi-coach:<digest>``),
3. the row turns ``posted``.

A crash between 1 and 3 leaves a pending row; the next scan *settles* it before
anything else by looking for the marker on the ticket (found: posted; not found:
the write never landed, so the row is dropped and the record is decided again).
A write whose answer was lost (timeout, reset, 502 after sending) is settled the
same way at the end of the scan, ``settle_after_seconds`` after it at least, and
written once more only when the ticket does not show it.

The watermark only moves past records that are handled or failed: a deferred,
in-flight or unsettled record holds it back, and a failed one is read again by key
next scan (``Connector.get_in_scope``) for as long as it keeps failing, so one odd
ticket never pins the watermark and never drops out of sight.

Comments on tickets that the state file does not know (a lost or restored file)
are found with one bulk query per source (``Connector.marked_keys``); only those
records have their comments read, and only before a write.

Owners may push back on a comment (``coach.read_pushback``): replies are read only on
records the bot coached whose updated time moved since the last scan, one request each
(``Connector.owner_replies``, entries since the bot's latest coaching); a dispute is kept in
the state file (``scan.disputes``) and ``decide`` acknowledges it once and never coaches
that rule on that record again.

Everything remote goes through the ``Connector`` protocol; everything stored goes
through ``StateStore``; decisions come from ``coach.decide``.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from csi_coach.coach import (
    ANY_RULE,
    Action,
    ActionKind,
    History,
    Pushback,
    coached_rules,
    decide,
    opted_out,
    read_pushback,
)
from csi_coach.config import CommentPolicy
from csi_coach.connectors.base import Connector, MappingReport
from csi_coach.errors import AmbiguousWrite, CoachError, ConfigError, NotFound
from csi_coach.model import BrokenRecord, Category, Record, Severity, Verdict, aware
from csi_coach.scan import disputes as dispute_book
from csi_coach.scan.comment_trail import CommentTrail, history_from_ledger
from csi_coach.scan.result import LIST_CAP, SourceResult, WriteBudget
from csi_coach.scan.state import RecordUpdate, StateStore
from csi_coach.scan.watermark import Watermark

log = logging.getLogger("csi_coach.scan")

# Records that failed before and are not in this scan's read are read again by key,
# at most this many per scan (the rest next scan; they stay listed as failing).
REFETCH_CAP = 200
# A record read again by key has no place in the read order: it never holds the
# watermark (it stays listed as failing, so it is read by key again if need be).
NO_HOLD: Any = object()
CHECKPOINT_EVERY = 500  # records between state checkpoints (records + watermark)
CHECKPOINT_SECONDS = 5.0


class Renderer(Protocol):
    def comment(self, target: str, record: Record, verdict: Verdict, marker: str) -> str: ...
    def acknowledgement(self, target: str, record: Record, verdict: Verdict, marker: str) -> str: ...
    def dispute_acknowledgement(self, target: str, record: Record, verdict: Verdict, marker: str,
                                dispute: dict[str, Any]) -> str: ...


@dataclass(frozen=True)
class WriteTask:
    record: Record
    verdict: Verdict
    action: Action
    body: str


@dataclass(frozen=True)
class Outcome:
    """What became of one record. ``planned``: a write is rendered and ready."""

    record: Record
    verdict: Verdict
    status: str  # done | skipped | deferred | planned | written | unsure | failed
    task: WriteTask | None = None
    error: str = ""
    row_id: int = 0  # unsure: the pending ledger row of the write that got no answer
    at: float = 0.0  # unsure: when (time.monotonic)


def _failed(task: WriteTask, error: str) -> Outcome:
    return Outcome(task.record, task.verdict, "failed", task, error)


def policy_fingerprint(policy: CommentPolicy) -> str:
    """The parts of the comment policy that change what is decided for an unchanged
    record: a change to them needs a full pass, like a change to the rules."""
    parts = (policy.skip_states, policy.opt_out_labels, policy.coach_categories, policy.acknowledge_fixed)
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:8]


class SourceScan:
    """Scans one source. Build one per source per run; call ``run()`` once."""

    def __init__(
        self,
        connector: Connector,
        *,
        store: StateStore,
        evaluate: Callable[[Record], Verdict],
        renderer: Renderer,
        policy: CommentPolicy,
        fingerprint: str,
        budget: WriteBudget,
        full: bool = False,
        dry_run: bool = False,
        overlap: timedelta = timedelta(minutes=10),
        stop: threading.Event | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_progress: Callable[[SourceResult], None] | None = None,
        on_dry_write: Callable[[WriteTask], None] | None = None,
        source_type: str = "",
    ) -> None:
        self.c = connector
        self.store = store
        self.evaluate = evaluate
        self.renderer = renderer
        self.policy = policy
        self.fingerprint = f"{fingerprint}:{policy_fingerprint(policy)}"
        self.budget = budget
        self.force_full = full
        self.dry_run = dry_run
        self.overlap = overlap
        self.stop = stop or threading.Event()
        self.now = now
        self.on_progress = on_progress
        self.on_dry_write = on_dry_write
        self.result = SourceResult(connector.name, type=source_type)
        self._updates: list[RecordUpdate] = []
        self._unsettled: set[str] = set()
        self._inflight_keys: set[str] = set()
        self._settled_keys: set[str] = set()
        # Records written this scan: the write bumps their updated time, so they come
        # round again in the same read; their judgement is reused, not redone.
        self._handled: dict[str, tuple[str, str, str, bool]] = {}
        self._prior_failures: dict[str, int] = {}
        self._refetch_keys: set[str] = set()
        self._gone: list[str] = []
        # Writes that got no answer, settled at the end of the scan: (outcome, token, position).
        self._unsure: list[tuple[Outcome, int, Any]] = []
        self._unsure_keys: set[str] = set()
        self.trail = CommentTrail(connector, store, dry_run=dry_run, now=now)
        # Records with owners' disputes -> whether one waits for its acknowledgement; and
        # the rules disputed in this scan (a dry run keeps them here only).
        self._disputed: dict[str, bool] = {}
        self._fresh_disputes: dict[str, tuple[Pushback, frozenset[str]]] = {}

    # -- the scan ------------------------------------------------------------------

    def run(self) -> SourceResult:
        started = time.monotonic()
        name = self.c.name
        stored = self.store.watermark(name)
        full = self.force_full or stored.watermark is None or stored.fingerprint != self.fingerprint
        if full and not self.force_full and stored.watermark is not None:
            log.info("%s: rules or templates changed since the last scan: reading every record", name)
        watermark = aware(stored.watermark)
        since = None if full or watermark is None else watermark - self.overlap
        self.result.full = full
        self._baseline = stored.baseline
        failing = sorted(self.store.failing_records(name), key=lambda r: r.last_seen)
        self._prior_failures = {r.key: r.failures for r in failing}
        self._refetch_keys = set(self._prior_failures)
        self._refetch_order = [r.key for r in failing]
        # Asked once per record: kept in memory so the read loop rarely touches SQLite
        # (each call releases the GIL, and getting it back behind busy writer threads
        # costs milliseconds).
        self._ledger_keys = self.store.ledger_keys(name)
        self._known = set() if stored.baseline else self.store.record_keys(name)
        tracker = Watermark(since)
        log.info("%s: scan started (%s)", name, f"since {since.isoformat()}" if since else "full")

        self._disputed = dispute_book.disputed_keys(self.store, name)
        self._settle_pending()
        self.trail.load_marked()
        pool = None if self.dry_run else ThreadPoolExecutor(max_workers=max(1, self.policy.workers), thread_name_prefix=f"write-{name}")
        inflight: dict[Future, tuple[int, Any]] = {}
        last_checkpoint = time.monotonic()
        token = 0
        try:
            try:
                for item, refetched in itertools.chain(
                    ((i, False) for i in self.c.fetch(since)), ((i, True) for i in self._refetch())
                ):
                    token += 1
                    self._one(item, token, tracker, pool, inflight, refetched=refetched)
                    self._drain(inflight, tracker, block=len(inflight) >= 4 * max(1, self.policy.workers))
                    if self.on_progress is not None:
                        self.on_progress(self.result)
                    if (
                        len(self._updates) >= CHECKPOINT_EVERY
                        or time.monotonic() - last_checkpoint > CHECKPOINT_SECONDS
                    ):
                        self._checkpoint(tracker, stored.watermark)
                        last_checkpoint = time.monotonic()
                    if self.stop.is_set():
                        self.result.status = "interrupted"
                        log.warning("%s: stopping on request after record %s", name, token)
                        break
            except CoachError as exc:
                if self.stop.is_set():  # a retry wait cut short by the stop request
                    self.result.status = "interrupted"
                    log.warning("%s: stopping on request while reading records (%s)", name, exc)
                else:
                    self.result.status = "failed"
                    self.result.error = str(exc)
                    # a goal field no record carries (connectors.field_census): the scan goes on
                    # to the other sources, and the exit code asks a person to fix the config
                    self.result.config_error = isinstance(exc, ConfigError)
                    log.error("%s: reading records failed: %s", name, exc)
            self._note_mapping()
            while inflight:
                self._drain(inflight, tracker, block=True)
            self._settle_unsure(pool, inflight, tracker)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        complete = self.result.status == "ok" and full and self.result.failed == 0 and self.result.deferred == 0
        self._checkpoint(tracker, stored.watermark, baseline=complete)
        if self._gone and not self.dry_run:
            self.store.forget(name, self._gone)
        self.result.seconds = time.monotonic() - started
        log.info(
            "%s: %d records, %d flagged, %d written, %d deferred, %d failed",
            name, self.result.records, self.result.flagged, self.result.written,
            self.result.deferred, self.result.failed,
        )
        return self.result

    def _note_mapping(self) -> None:
        """The connector's warnings about the field mapping, from the records just read, into
        the result (summary and report) and the log."""
        if not isinstance(self.c, MappingReport):
            return
        for text in self.c.mapping_warnings():
            log.warning("%s: %s", self.c.name, text)
            self.result.warnings.append(text)

    def _checkpoint(self, tracker: Watermark, old: datetime | None, *, baseline: bool = False) -> None:
        new = tracker.value(old)
        self.result.watermark = new.isoformat() if new else None
        if self.dry_run:
            self._updates.clear()
            return
        self.store.remember(self._updates)
        self._updates.clear()
        self.store.set_watermark(self.c.name, new, self.fingerprint, baseline=baseline)

    # -- settling pending writes ---------------------------------------------------

    def _settle_pending(self) -> None:
        rows = self.store.pending(self.c.name)
        if not rows:
            return
        log.info("%s: settling %d write(s) left pending by an earlier scan", self.c.name, len(rows))
        for row in rows:
            self._settled_keys.add(row.record_key)  # judged afresh this scan, whatever is stored
            if self.dry_run:
                self._unsettled.add(row.record_key)
                continue
            try:
                found = self.trail.find(row)
            except Exception as exc:  # CoachError, or a connector bug: this row only
                log.warning("%s: cannot settle pending write on %s yet: %s", self.c.name, row.record_key, exc)
                self._unsettled.add(row.record_key)
                continue
            if found is not None:
                self.store.ledger_posted(row.id, found.ref.comment_id)
                log.info("%s: pending %s on %s had landed (%s)", self.c.name, row.kind, row.record_key, row.marker)
            else:
                self.store.ledger_discard(row.id)
                log.info("%s: pending %s on %s had not landed; it will be written again", self.c.name, row.kind, row.record_key)
            self.result.settled += 1

    def _refetch(self):
        """Records that failed in earlier scans and were not in this read: read each by key,
        the longest-waiting first, still in the source's scope."""
        keys = [k for k in self._refetch_order if k in self._refetch_keys]
        if not keys or self.stop.is_set():
            return
        if len(keys) > REFETCH_CAP:
            log.warning("%s: %d failing records to retry; %d now, the rest next scan", self.c.name, len(keys), REFETCH_CAP)
        if not self.dry_run and self.budget.exhausted:
            log.info("%s: write budget used up; failing records are retried next scan", self.c.name)
            return
        log.info("%s: reading %d record(s) that failed before again", self.c.name, min(len(keys), REFETCH_CAP))
        for key in keys[:REFETCH_CAP]:
            if self.stop.is_set() or (not self.dry_run and self.budget.exhausted):
                return
            if key not in self._refetch_keys:  # read meanwhile
                continue
            try:
                item = self.c.get_in_scope(key)
            except Exception as exc:  # CoachError, or a connector bug: this record only
                self.result.records += 1
                self._fail(key, "", f"could not read it again: {exc}")
                continue
            if item is None or item.key != key:
                # Gone, out of scope, or (Jira) moved to a new key, which the read in
                # scope order yields under that key.
                log.info("%s: %s is gone or out of scope; it is no longer tracked", self.c.name, key)
                self._gone.append(key)
                continue
            yield item

    # -- one record ----------------------------------------------------------------

    def _one(self, item: Record | BrokenRecord, token: int, tracker: Watermark, pool, inflight,
             *, refetched: bool = False) -> None:
        r = self.result
        self._refetch_keys.discard(item.key)
        position = NO_HOLD if refetched else tracker.seen(
            None if isinstance(item, BrokenRecord) else aware(item.updated))
        if item.key in self._unsure_keys:
            return  # read again after its own write: settled at the end of the scan
        if isinstance(item, BrokenRecord):
            r.records += 1
            self._fail(item.key, item.number, f"bad data: {item.reason}")
            return
        record = item
        content = self._content(record)
        while record.key in self._inflight_keys:  # the same record twice in one read
            self._drain(inflight, tracker, block=True)
        hit = self._handled.get(record.key)
        try:
            pushback = None if hit is not None else self._read_pushback(record)
        except Exception as exc:  # CoachError, or a connector bug: read again by key next scan
            r.records += 1
            self._fail(record.key, record.number, f"could not read the replies: {exc}")
            return
        if hit is not None and hit[0] == content:
            # Written earlier in this scan and read again (the write bumped its
            # updated time): counted once, nothing to decide.
            self._remember(record, hit[1], hit[2], hit[3], content)
            return
        if hit is None:
            r.records += 1
        waiting = pushback is not None or self._disputed.get(record.key, False)  # an acknowledgement is due
        reused = self._reusable(record.key, content) if record.key not in self._unsettled and not waiting else None
        if reused is not None:
            digest, category, flagged = reused
            r.categories[category] += 1
            if category == Category.UNSURE.value:
                r.note_unsure(record.key, record.number, "")
            r.flagged += int(flagged)
            self._remember(record, digest, category, flagged, content)
            return
        try:
            verdict = self.evaluate(record)
        except Exception as exc:  # one odd record never stops the scan
            self._fail(record.key, record.number, f"could not evaluate: {exc!r}")
            return
        if pushback is not None:
            self._note_dispute(record, verdict, pushback)
        r.categories[verdict.category.value] += 1
        if verdict.flagged:
            r.flagged += 1
        elif verdict.category is Category.UNSURE:
            r.note_unsure(record.key, record.number, _unsure_reason(verdict))
        self._decide_and_write(record, verdict, token, position, tracker, pool, inflight)

    # -- owners' pushback ------------------------------------------------------------

    def _read_pushback(self, record: Record) -> Pushback | None:
        """The first reply disputing the bot's latest coaching on a record the bot coached and
        whose updated time moved since the last scan; None when there is none (or no read)."""
        ask = getattr(self.c, "owner_replies", None)
        if ask is None or record.key not in self._ledger_keys or not (
                self.policy.dispute_keywords or self.policy.not_applicable_keywords):
            return None
        coached = [row for row in self.store.ledger_for(self.c.name, record.key)
                   if row.state == "posted" and row.kind in ("post", "update")]
        if not coached:
            return None
        prior = self.store.record(self.c.name, record.key)
        if prior is not None and prior.failures == 0 and aware(prior.updated) == aware(record.updated):
            return None  # unchanged since the last scan: no new reply
        # A reply already kept as a dispute is never read as one again: read again, it would
        # dispute whatever rules fire now and be acknowledged twice. It is read from the
        # later of the latest coaching and the latest kept reply (inclusive, so that reply
        # comes back: skipped by its id).
        since = aware(coached[-1].created)
        seen, last_reply = dispute_book.replies_read(self.store, self.c.name, record.key)
        fresh = self._fresh_disputes.get(record.key)
        if fresh is not None:
            seen |= {fresh[0].reply.comment_id}
        if last_reply is not None and aware(last_reply) > since:
            since = aware(last_reply)
        for reply in ask(record, since):
            if reply.comment_id in seen:
                continue
            found = read_pushback(reply, self.policy)
            if found is not None:
                return found
        return None

    def _note_dispute(self, record: Record, verdict: Verdict, pushback: Pushback) -> None:
        """Keep the dispute of the rules the record is coached on (all of them: ``*``, when
        none is above info); rules already disputed there are not disputed again."""
        before = self._disputed_rules(record.key)
        rules = frozenset(coached_rules(verdict) or (ANY_RULE,)) - before
        if not rules:
            return
        log.info("%s: the owner of %s disputes the coaching (%s): %s", self.c.name, record.number,
                 pushback.kind, ", ".join(sorted(rules)))
        self._fresh_disputes[record.key] = (pushback, rules)
        self._disputed[record.key] = True
        if self.dry_run:
            return
        now = self.now()
        evidence = {f.rule: [dict(e.to_dict(), rule=f.rule) for e in f.evidence] for f in verdict.findings}
        text = {"title": record.title, "description": record.description, "goal": record.goal,
                "service": record.service, "url": record.url, "owner": record.owner, "state": record.state,
                "container": record.container, "labels": list(record.labels)}
        dispute_book.record_disputes(self.store, [
            dispute_book.Dispute(self.c.name, record.key, record.number, rule, pushback.kind, pushback.reason,
                                 pushback.reply.comment_id, aware(pushback.reply.created), now, verdict.digest(),
                                 tuple(evidence.get(rule, [])), text)
            for rule in sorted(rules)
        ])

    def _disputed_rules(self, key: str) -> frozenset[str]:
        stored = dispute_book.disputed_rules(self.store, self.c.name, key) if key in self._disputed else frozenset()
        fresh = self._fresh_disputes.get(key)
        return stored | (fresh[1] if fresh else frozenset())

    def _waiting_dispute(self, key: str) -> dict[str, Any]:
        """What the acknowledgement tells the owner: the kind of their latest reply not yet
        acknowledged and the rules it (and any other waiting) disputed. Read from the stored
        rows, since the acknowledgement may come scans after the reply (a failed or deferred
        write); a dry run stores nothing, so this scan's reply is added."""
        waiting = [(d.kind, d.rule) for d in dispute_book.unacknowledged(self.store, self.c.name, key)]
        fresh = self._fresh_disputes.get(key)
        if fresh is not None:
            waiting += [(fresh[0].kind, rule) for rule in sorted(fresh[1])]
        kind = waiting[-1][0] if waiting else "wrong"
        return {"kind": kind, "rules": sorted({rule for _kind, rule in waiting} - {ANY_RULE})}

    def _with_disputes(self, key: str, history: History) -> History:
        if key not in self._disputed:
            return history
        return replace(history, disputed=self._disputed_rules(key), dispute_unacknowledged=self._disputed[key])

    def _reusable(self, key: str, content: str) -> tuple[str, str, bool] | None:
        """The stored judgement of a record whose content and rules are unchanged."""
        if self.result.full or key in self._settled_keys or not (self._baseline or key in self._known):
            return None
        prior = self.store.record(self.c.name, key)
        if prior is not None and prior.failures == 0 and prior.digest and prior.content == content:
            return prior.digest, prior.category, prior.flagged
        return None

    def _decide_and_write(self, record: Record, verdict: Verdict, token: int, position, tracker, pool, inflight) -> None:
        if record.key in self._unsettled:
            self._fail(record.key, record.number, "an earlier write is not settled yet")
            return
        rows = self.store.ledger_for(self.c.name, record.key) if record.key in self._ledger_keys else []
        if any(row.state == "pending" for row in rows):
            self._fail(record.key, record.number, "an earlier write is not settled yet")
            return
        if not self.trail.may_know_more(record.key, rows, trusted=self._baseline or record.key in self._known):
            outcome = self._plan(record, verdict, history_from_ledger(rows))
        elif (quiet := self._no_write_whatever_the_ticket_says(record, verdict, rows)) is not None:
            outcome = quiet
        elif pool is not None:
            # The ticket may carry bot comments this file does not know (a lost or
            # restored file): read them before deciding, in a worker.
            self._submit(pool, inflight, token, position, tracker, record, self._check_and_write, record, verdict)
            return
        else:
            outcome = self._check_and_write(record, verdict)
        if outcome.status == "planned" and pool is not None:
            self._submit(pool, inflight, token, position, tracker, record, self._write, outcome.task)
            return
        self._finish(outcome, position, tracker)

    def _no_write_whatever_the_ticket_says(self, record: Record, verdict: Verdict, rows) -> Outcome | None:
        """Spare the comment read when what the ledger knows leads to no write: comments
        it does not know could only hold the bot back further (or, at most, make a
        thank-you due that it then leaves unsaid), never make it write twice."""
        history = self._with_disputes(record.key, history_from_ledger(rows))
        probe = decide(record, verdict, history, self.policy, self.now(), self.c.can_edit)
        if not probe.writes:
            return Outcome(record, verdict, "skipped" if probe.kind is ActionKind.SKIP else "done")
        if self.budget.exhausted:
            return Outcome(record, verdict, "deferred")
        return None

    def _submit(self, pool, inflight, token, position, tracker, record, fn, *args) -> None:
        if position is not NO_HOLD:
            tracker.open(token, position)
        self._inflight_keys.add(record.key)
        self._ledger_keys.add(record.key)  # it may gain ledger rows now
        inflight[pool.submit(fn, *args)] = (token, position)

    def _plan(self, record: Record, verdict: Verdict, history: History) -> Outcome:
        """Decide, take from the write budget and render; no remote calls."""
        history = self._with_disputes(record.key, history)
        action = decide(record, verdict, history, self.policy, self.now(), self.c.can_edit)
        if action.kind is ActionKind.SKIP:
            return Outcome(record, verdict, "skipped")
        if not action.writes:
            return Outcome(record, verdict, "done")
        if not self.budget.take():
            return Outcome(record, verdict, "deferred")
        try:
            shown = action.verdict or verdict  # without the findings the owner disputed
            if action.kind is ActionKind.ACKNOWLEDGE:
                body = self.renderer.acknowledgement(self.c.target, record, shown, action.marker)
            elif action.kind is ActionKind.ACKNOWLEDGE_DISPUTE:
                body = self.renderer.dispute_acknowledgement(self.c.target, record, shown, action.marker,
                                                             self._waiting_dispute(record.key))
            else:
                body = self.renderer.comment(self.c.target, record, shown, action.marker)
        except Exception as exc:
            return Outcome(record, verdict, "failed", error=f"could not render the comment: {exc!r}")
        return Outcome(record, verdict, "planned", WriteTask(record, verdict, action, body))

    def _check_and_write(self, record: Record, verdict: Verdict) -> Outcome:
        try:
            history = self.trail.merged(record)
        except Exception as exc:  # CoachError or a connector bug: this record only
            return Outcome(record, verdict, "failed", error=f"could not read earlier comments: {exc}")
        outcome = self._plan(record, verdict, history)
        if outcome.status == "planned" and not self.dry_run and outcome.task is not None:
            return self._write(outcome.task)
        return outcome

    def _finish(self, outcome: Outcome, position: datetime | None, tracker: Watermark) -> None:
        """Account for one record's outcome (main thread only)."""
        record, verdict, r = outcome.record, outcome.verdict, self.result
        if outcome.status in ("done", "skipped"):
            if outcome.status == "skipped":
                r.skipped += 1
            self._done(record, verdict)
        elif outcome.status == "deferred":
            r.deferred += 1
            if position is not NO_HOLD:
                tracker.pin(position)
            log.debug("%s: %s deferred: max_writes_per_run reached", self.c.name, record.number)
        elif outcome.status in ("written", "planned"):  # "planned" only reaches here in a dry run
            assert outcome.task is not None
            self._count_write(outcome.task)
            if self.dry_run:
                if self.on_dry_write is not None:
                    self.on_dry_write(outcome.task)
            else:
                log.info("%s: %s %s (%s)", self.c.name, _verb(outcome.task.action.kind), record.number, outcome.task.action.reason)
                self._handled[record.key] = (self._content(record), verdict.digest(), verdict.category.value, verdict.flagged)
                self._note_written(record, outcome.task)
            self._done(record, verdict, wrote=_HISTORY_KINDS.get(outcome.task.action.kind, "") if not self.dry_run else "")
        else:
            self._fail(record.key, record.number, outcome.error)

    def _note_written(self, record: Record, task: WriteTask) -> None:
        """What a landed write means for disputes: acknowledged once, or the rules coached on."""
        kind = task.action.kind
        if kind is ActionKind.ACKNOWLEDGE_DISPUTE:
            dispute_book.mark_acknowledged(self.store, self.c.name, record.key)
            self._disputed[record.key] = False
        elif kind in (ActionKind.POST, ActionKind.UPDATE):
            dispute_book.note_coached(self.store, self.c.name, record.key, coached_rules(task.action.verdict or task.verdict))

    def _content(self, record: Record) -> str:
        """A hash of everything the rules and the decision read, and of the rules themselves."""
        parts = (
            self.fingerprint, record.key, record.number, record.url, record.title, record.description,
            record.goal, record.service, record.owner, "\x1f".join(record.labels), record.state, record.container,
        )
        return hashlib.sha256("\x1e".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:24]

    def _done(self, record: Record, verdict: Verdict, *, wrote: str = "") -> None:
        rules = " ".join(sorted({f.rule for f in verdict.findings if f.severity is not Severity.OFF}))
        self._remember(record, verdict.digest(), verdict.category.value, verdict.flagged, self._content(record),
                       rules=rules, wrote=wrote)

    def _remember(self, record: Record, digest: str, category: str, flagged: bool, content: str,
                  *, rules: str = "", wrote: str = "") -> None:
        if not self._baseline:  # with a baseline every key is trusted and _known is never asked
            self._known.add(record.key)
        # For the history: opted out by a label, or exempt (a coachable category not flagged).
        opted = bool(opted_out(record, self.policy.opt_out_labels)) or (
            category in self.policy.coach_categories and not flagged)
        self._updates.append(
            RecordUpdate(
                self.c.name, record.key, record.number, digest, category,
                aware(record.updated), self.now(), content=content, flagged=flagged,
                title=record.title, service=record.service, group=record.group, opted_out=opted,
                rules=rules, wrote=wrote,
            )
        )

    def _fail(self, key: str, number: str, error: str) -> None:
        """Count and list a failed record; it holds no watermark back, because the next
        scans read it again by key for as long as it keeps failing."""
        self.result.note_failure(key, number, error)
        if key:  # one with no key cannot be read again or written to: reported, not kept
            self._updates.append(RecordUpdate(self.c.name, key, number, "", "", None, self.now(), error=error))

    def _count_write(self, task: WriteTask) -> None:
        r = self.result
        r.written += 1
        kind = task.action.kind
        if kind is ActionKind.POST:
            r.posted += 1
        elif kind is ActionKind.UPDATE:
            r.updated += 1
        else:
            r.acknowledged += 1
        if len(r.writes) < LIST_CAP:
            r.writes.append(
                {
                    "key": task.record.key,
                    "number": task.record.number,
                    "url": task.record.url,
                    "title": task.record.title,
                    "kind": kind.value,
                    "reason": task.action.reason,
                    "category": task.verdict.category.value,
                    "marker": task.action.marker,
                    "body": task.body,
                }
            )

    # -- writing (worker threads) --------------------------------------------------

    def _write(self, task: WriteTask, *, last_try: bool = False) -> Outcome:
        a = task.action
        row_id = self.store.ledger_begin(
            self.c.name, task.record.key, a.digest, a.marker, a.ledger_kind,
            previous_id=a.previous.comment_id if a.previous else "",
        )
        try:
            if a.kind is ActionKind.UPDATE:
                assert a.previous is not None
                self.c.update(a.previous, task.body, a.marker)
                comment_id = a.previous.comment_id
            else:
                comment_id = self.c.post(task.record, task.body, a.marker).comment_id
        except NotFound as exc:
            self.store.ledger_discard(row_id)  # refused: it certainly did not land
            if a.kind is not ActionKind.UPDATE:
                return _failed(task, f"write failed: {exc}")
            # Someone deleted the comment the bot would edit: coach afresh.
            log.info("%s: the earlier comment on %s is gone; writing a new one", self.c.name, task.record.number)
            fresh = replace(a, kind=ActionKind.POST, previous=None, reason="finding changed; the earlier comment was deleted")
            return self._write(replace(task, action=fresh), last_try=last_try)
        except AmbiguousWrite as exc:
            # It may land yet (a slow commit behind a gateway's 504): the row stays
            # pending, and the ticket is asked at the end of the scan, or next scan.
            if last_try:
                return _failed(task, f"write failed: {exc}")
            return Outcome(task.record, task.verdict, "unsure", task, str(exc), row_id, time.monotonic())
        except CoachError as exc:
            # Refused, or not sent after the transport's own retries: not there.
            self.store.ledger_discard(row_id)
            return _failed(task, f"write failed: {exc}")
        except Exception as exc:  # a connector bug: outcome unknown, settle next scan
            return _failed(task, f"write failed: unexpected error: {exc!r}")
        self.store.ledger_posted(row_id, comment_id)
        return Outcome(task.record, task.verdict, "written", task)

    def _settle_unsure(self, pool, inflight, tracker: Watermark) -> None:
        """Ask the tickets about the writes that got no answer, once they are old enough
        for a slow server to have saved them; write again the ones that are not there."""
        if not self._unsure:
            return
        wait = max(0.0, max(o.at for o, _, _ in self._unsure) + self.policy.settle_after_seconds - time.monotonic())
        log.info("%s: %d write(s) got no answer; looking for them on the tickets%s", self.c.name,
                 len(self._unsure), f" in {wait:.0f} s" if wait >= 1 else "")
        unsure, self._unsure = self._unsure, []
        if self.stop.wait(wait):
            for outcome, token, position in unsure:
                stopped = f"{outcome.error}; stopped before checking the ticket"
                self._close(token, position, tracker, Outcome(outcome.record, outcome.verdict, "failed", outcome.task, stopped))
            return
        for outcome, token, position in unsure:
            if pool is None:
                self._close(token, position, tracker, self._recheck(outcome))
            else:
                inflight[pool.submit(self._recheck, outcome)] = (token, position)
        while inflight:
            self._drain(inflight, tracker, block=True)

    def _recheck(self, outcome: Outcome) -> Outcome:
        task = outcome.task
        assert task is not None
        rows = [r for r in self.store.ledger_for(self.c.name, task.record.key) if r.id == outcome.row_id]
        try:
            found = self.trail.find(rows[0]) if rows else None
        except Exception as exc:  # CoachError, or a connector bug: settled next scan
            return _failed(task, f"{outcome.error}; could not check the ticket: {exc}")
        if found is not None:
            self.store.ledger_posted(outcome.row_id, found.ref.comment_id)
            return Outcome(task.record, task.verdict, "written", task)
        self.store.ledger_discard(outcome.row_id)
        log.info("%s: the write on %s did not land (%s); writing it again", self.c.name, task.record.number, outcome.error)
        return self._write(task, last_try=True)

    def _drain(self, inflight: dict[Future, tuple[int, Any]], tracker: Watermark, *, block: bool) -> None:
        if not inflight:
            return
        done, _ = wait(list(inflight), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for future in done:
            token, position = inflight.pop(future)
            outcome: Outcome = future.result()
            self._inflight_keys.discard(outcome.record.key)
            if outcome.status == "unsure":
                # Still in hand: it keeps holding the watermark until settled.
                self._unsure.append((outcome, token, position))
                self._unsure_keys.add(outcome.record.key)
                continue
            self._close(token, position, tracker, outcome)

    def _close(self, token: int, position: Any, tracker: Watermark, outcome: Outcome) -> None:
        tracker.close(token)
        self._unsure_keys.discard(outcome.record.key)
        self._finish(outcome, position, tracker)


# The writes the history keeps (as coached / acknowledged); a thank-you for a dispute is not a fix.
_HISTORY_KINDS = {ActionKind.POST: "post", ActionKind.UPDATE: "update", ActionKind.ACKNOWLEDGE: "ack"}


def _verb(kind: ActionKind) -> str:
    return {ActionKind.POST: "coached", ActionKind.UPDATE: "updated the comment on", ActionKind.ACKNOWLEDGE: "acknowledged",
            ActionKind.ACKNOWLEDGE_DISPUTE: "acknowledged the owner's dispute on"}[kind]


def _unsure_reason(verdict: Verdict) -> str:
    """What the rules could not place: the words of the "unsure" finding."""
    for finding in verdict.findings:
        if finding.rule == "unsure":
            return " … ".join(e.text for e in finding.evidence[:2])
    return ""
