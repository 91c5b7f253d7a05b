"""What the bot wrote on each ticket: its own ledger, and the ticket's word for it.

The ledger is the fast answer; the ticket is the truth. A pending ledger row is
settled by finding its marker on the ticket, and a ticket may carry bot comments
the ledger never saw (a state file lost, or restored from a backup): one bulk
question per source (``marked_keys``) says which records to read before writing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from csi_coach.coach import History, PastComment
from csi_coach.connectors.base import Connector
from csi_coach.model import MARKER_RE, BotComment, Record, aware, marker_is_ack
from csi_coach.scan.state import LedgerRow, StateStore

log = logging.getLogger("csi_coach.scan")

# A pending write matches a comment on the ticket created no earlier than this before
# it (clock skew between bot and server); older ones with the same marker are earlier
# coaching on the same finding, at least a cooldown ago.
SETTLE_WINDOW = timedelta(hours=12)
# Bot comments newer than what the state file knows, minus this margin against
# clock skew between the bot and the server, are looked up in bulk at the start
# of a scan.
KNOWN_MARGIN = timedelta(minutes=10)


def history_from_ledger(rows: list[LedgerRow]) -> History:
    return History(
        tuple(PastComment(r.digest, r.kind, r.comment_id, r.created) for r in rows if r.state == "posted")
    )


class CommentTrail:
    """One source's bot comments, as the ledger and the tickets know them (thread-safe
    as far as the connector and the store are)."""

    def __init__(self, connector: Connector, store: StateStore, *, dry_run: bool,
                 now: Callable[[], datetime]) -> None:
        self.c = connector
        self.store = store
        self.dry_run = dry_run
        self.now = now
        # Keys of records carrying bot comments newer than this file knows (None:
        # unknown, so every record this file has no ledger rows for is checked).
        self.marked: set[str] | None = None
        self.known_since: datetime | None = None
        self.ask_failed = False  # the source could not say: read before every write

    def load_marked(self) -> None:
        """Ask the source once which records carry bot comments this file may not know."""
        ask = getattr(self.c, "marked_keys", None)
        if ask is None:
            return
        known = self.store.known_since(self.c.name)
        since = known - KNOWN_MARGIN if known is not None else None
        try:
            self.marked = set(ask(since))
        except Exception as exc:  # CoachError, or a connector bug: be careful instead
            self.ask_failed = True
            log.warning("%s: cannot list records carrying bot comments (%s); reading each record's comments "
                        "before writing on it", self.c.name, exc)
            return
        self.known_since = since
        log.debug("%s: %d record(s) carry bot comments since %s", self.c.name, len(self.marked), since)

    def find(self, row: LedgerRow) -> BotComment | None:
        """The ticket's comment that a pending row stands for, if it is there."""
        probe = Record(source=self.c.name, key=row.record_key, number=row.record_key, url="", title="")
        comments = self.c.bot_comments(probe)
        known = {r.comment_id for r in self.store.ledger_for(self.c.name, row.record_key) if r.state == "posted" and r.comment_id}
        for comment in comments:
            if comment.marker != row.marker:
                continue
            if row.kind == "update":
                if comment.ref.comment_id == row.previous_id or not row.previous_id:
                    return comment
            elif comment.ref.comment_id and comment.ref.comment_id in known:
                continue  # an earlier comment on the same finding (re-coached after cooldown)
            elif comment.created is not None and row.created - aware(comment.created) > SETTLE_WINDOW:
                continue  # far older than the pending write: not the one it stands for
            else:
                return comment
        return None

    def may_know_more(self, key: str, rows: list[LedgerRow], *, trusted: bool) -> bool:
        """Whether the ticket may hold bot comments the ledger does not know.

        A record marked since the file's horizon is read even when the ledger wrote
        there lately: that row explains one comment, not the ones a restored file lost.
        """
        if self.ask_failed:
            return True
        if self.marked is None:  # a connector without the bulk question
            return not (rows or trusted)
        return key in self.marked

    def merged(self, record: Record) -> History:
        """The ledger's history plus the bot comments on the ticket it does not know."""
        rows = self.store.ledger_for(self.c.name, record.key)
        past = list(history_from_ledger(rows).comments)
        unmatched = [r for r in rows if r.state == "posted"]
        adopted = 0
        for comment in self.c.bot_comments(record):
            m = MARKER_RE.search(comment.marker) or MARKER_RE.search(comment.body)
            if not m:
                continue
            row = _ledger_match(unmatched, comment, m.group(0))
            if row is not None:
                unmatched.remove(row)
                if not row.comment_id and comment.ref.comment_id and not self.dry_run:
                    self.store.ledger_posted(row.id, comment.ref.comment_id)  # learn its id
                continue
            kind = "ack" if marker_is_ack(m.group(0)) else "post"
            when = aware(comment.created) or self.now()
            past.append(PastComment(m.group(1), kind, comment.ref.comment_id, when))
            adopted += 1
            if not self.dry_run:
                self.store.ledger_adopt(self.c.name, record.key, m.group(1), m.group(0), kind, comment.ref.comment_id, when)
        if adopted:
            log.info("%s: %s already carries %d bot comment(s) unknown to the state file", self.c.name, record.number, adopted)
        return History(tuple(sorted(past, key=lambda p: p.at)))


def _ledger_match(rows: list[LedgerRow], comment: BotComment, marker: str) -> LedgerRow | None:
    """The ledger row standing for a comment on the ticket: the same comment id, or (a
    system that gives no id for a write, like a ServiceNow journal) the same marker
    written within SETTLE_WINDOW of the comment's time."""
    cid = comment.ref.comment_id
    for row in rows:
        if cid and row.comment_id == cid:
            return row
    created = aware(comment.created)
    for row in rows:
        if row.comment_id or row.marker != marker:
            continue
        if created is None or row.created is None or abs(aware(row.created) - created) <= SETTLE_WINDOW:
            return row
    return None
