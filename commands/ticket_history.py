"""``explain --ticket``: what the bot did on one record, and what the next scan would do.

Read only. The state file is read as a dry run reads it (``StateStore.open_readonly_or_empty``:
nothing created, nothing changed), and the one record's bot comments are listed through
its connector. The decision is ``coach.decide`` on the history the next scan would see:

- the ledger's posted rows;
- its pending rows whose comment the ticket shows (the scan settles those first: they
  count as written) — a pending row the ticket does not show is dropped and the record
  decided again, as the scan does;
- bot comments on the ticket that the state file does not know (a lost or restored
  file): the scan adopts them before deciding.

The rules that keep a record from being coached are named, all of them that apply (not
only the first ``decide`` stops at): an ``[exempt]`` label or field of the rule set, an
``opt_out_labels`` label, a ``skip_states`` state, a category outside ``coach_categories``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from csi_coach.coach import Action, ActionKind, History, PastComment, decide, in_skip_state, opted_out
from csi_coach.config import CommentPolicy, Config
from csi_coach.errors import CoachError
from csi_coach.model import MARKER_RE, BotComment, Category, Record, Verdict, aware, marker_is_ack
from csi_coach.scan.comment_trail import SETTLE_WINDOW
from csi_coach.scan.runner import state_path
from csi_coach.scan.state import LedgerRow, RecordState, StateStore

# What the next scan would do, in words (the reason follows).
NEXT_WORDS = {
    ActionKind.NONE: "write nothing",
    ActionKind.POST: "add a new coaching comment",
    ActionKind.UPDATE: "edit its earlier comment in place",
    ActionKind.ACKNOWLEDGE: "acknowledge the fix (a short thank-you)",
    ActionKind.SKIP: "skip the record",
}
KIND_WORDS = {"post": "coached", "update": "edited its comment", "ack": "acknowledged"}
EXCERPT_CHARS = 200
# The shipped templates open with a greeting line ("Hi Ana, a note on the goal for Payroll:"),
# left out of the excerpt: the finding follows it.
GREETING = re.compile(r"\s*(hi\b|a note on the goal\b)", re.IGNORECASE)


@dataclass(frozen=True)
class PastWrite:
    """One comment the bot wrote (or began to write) on the record."""

    at: datetime | None
    kind: str  # post | update | ack
    marker: str
    digest: str
    comment_id: str
    where: str  # how the state file and the ticket know it (see _where)
    finding: str = ""  # what the comment says, from the ticket: its opening words
    current: bool = False  # the verdict now has the same digest: the same finding

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat() if self.at else None, "kind": self.kind, "marker": self.marker,
                "digest": self.digest, "comment_id": self.comment_id, "where": self.where,
                "finding": self.finding, "same_finding_as_now": self.current}


@dataclass(frozen=True)
class TicketHistory:
    state_file: str
    state_exists: bool
    writes: tuple[PastWrite, ...]
    stored: RecordState | None  # what the last scan that read the record kept
    action: Action  # what the next scan would do
    comments_read: bool  # the ticket's comments could be listed
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        stored = None
        if self.stored is not None:
            s = self.stored
            stored = {"last_seen": s.last_seen.isoformat() if s.last_seen else None, "category": s.category,
                      "digest": s.digest, "failures": s.failures, "last_error": s.last_error}
        return {
            "state_file": self.state_file,
            "state_file_exists": self.state_exists,
            "comments": [w.to_dict() for w in self.writes],
            "last_judged": stored,
            "comments_read": self.comments_read,
            "notes": list(self.notes),
        }


def read_history(config: Config, connector: Any, record: Record, verdict: Verdict, now: datetime) -> TicketHistory:
    """The record's history from the state file and its ticket, and the next scan's decision."""
    path = state_path(config)
    notes: list[str] = []
    with StateStore.open_readonly_or_empty(path) as store:
        rows = store.ledger_for(record.source, record.key)
        stored = store.record(record.source, record.key)
    comments: list[BotComment] | None
    try:
        comments = list(connector.bot_comments(record))
    except (CoachError, AttributeError) as exc:  # AttributeError: a connector without bot_comments
        comments = None
        notes.append(f"the ticket's comments could not be read ({exc}): the history is the state file's alone")
    writes, past = _merge(rows, comments, verdict.digest(), now)
    if any(r.state == "pending" for r in rows):
        notes.append("a write was left pending by a scan that ended before it knew the answer: the next scan "
                     "first looks for it on the ticket (shown above as it stands)")
    if stored is not None and stored.failures:
        notes.append(f"the last {stored.failures} scan(s) failed on this record ({stored.last_error}); "
                     "the next scan reads it again by key")
    action = decide(record, verdict, History(tuple(past)), config.comments, now, bool(getattr(connector, "can_edit", False)))
    if action.writes:
        notes.append("written if max_writes_per_run (the scan's, and the source's own) leaves room; "
                     "otherwise deferred to the scan after")
    return TicketHistory(str(path), path.exists(), tuple(writes), stored, action, comments is not None, tuple(notes))


def _merge(rows: list[LedgerRow], comments: list[BotComment] | None, digest_now: str,
           now: datetime) -> tuple[list[PastWrite], list[PastComment]]:
    """The writes as the state file and the ticket know them, and the history the next
    scan decides on (see the module docstring)."""
    on_ticket = list(comments or [])
    claimed: set[int] = set()  # the ticket's comments some ledger row stands for (by position)
    writes: list[PastWrite] = []
    past: list[PastComment] = []
    for row in rows:
        found = _match(row, on_ticket, claimed)
        if found is not None:
            claimed.add(on_ticket.index(found))
        comment_id = row.comment_id or (found.ref.comment_id if found else "")
        # An edit (update) keeps the comment's id: the text on the ticket is the latest row's.
        edited = found is not None and found.marker != row.marker
        writes.append(PastWrite(
            aware(row.created), row.kind, row.marker, row.digest, comment_id,
            _where(row, found, comments is not None, edited),
            _excerpt(found.body) if found is not None and not edited else "", row.digest == digest_now,
        ))
        if row.state == "posted" or found is not None:
            past.append(PastComment(row.digest, row.kind, comment_id, aware(row.created)))
    for i, comment in enumerate(on_ticket):
        m = MARKER_RE.search(comment.marker) or MARKER_RE.search(comment.body)
        if i in claimed or not m:
            continue
        kind = "ack" if marker_is_ack(m.group(0)) else "post"
        when = aware(comment.created)
        writes.append(PastWrite(when, kind, m.group(0), m.group(1), comment.ref.comment_id,
                                "on the ticket only: the state file does not know it (the next scan adopts it)",
                                _excerpt(comment.body), m.group(1) == digest_now))
        past.append(PastComment(m.group(1), kind, comment.ref.comment_id, when or now))
    writes.sort(key=lambda w: (w.at is None, w.at or now))
    past.sort(key=lambda p: p.at)
    return writes, past


def _match(row: LedgerRow, comments: Sequence[BotComment], claimed: set[int]) -> BotComment | None:
    """The ticket's comment a ledger row stands for: the same id (an edit keeps it, so
    several rows may stand for one comment), or (a ServiceNow journal gives no id for a
    write) an unclaimed one with the same marker, written within the settle window of it."""
    for comment in comments:
        if row.comment_id and comment.ref.comment_id == row.comment_id:
            return comment
    created = aware(row.created)
    for i, comment in enumerate(comments):
        if i in claimed or comment.marker != row.marker or (row.comment_id and comment.ref.comment_id):
            continue
        when = aware(comment.created)
        if when is None or created is None or abs(when - created) <= SETTLE_WINDOW:
            return comment
    return None


def _where(row: LedgerRow, found: BotComment | None, read: bool, edited: bool = False) -> str:
    if row.state == "pending":
        if not read:
            return "pending in the state file; the ticket could not be read"
        return ("pending in the state file, and on the ticket: the next scan records it as written" if found
                else "pending in the state file, not on the ticket: the next scan drops it and decides again")
    if not read:
        return "in the state file (the ticket could not be read)"
    if found is None:
        return "in the state file, no longer on the ticket (deleted, or the bot's account changed)"
    if edited:
        return "in the state file; the comment on the ticket was edited since (below)"
    return "in the state file and on the ticket"


def _excerpt(body: str) -> str:
    """The opening words of a bot comment after its greeting, on one line, without its marker."""
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) > 1 and GREETING.match(lines[0]):
        lines = lines[1:]
    text = " ".join(MARKER_RE.sub("", " ".join(lines)).replace("()", "").split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def what_applies(record: Record, verdict: Verdict, ruleset: Any, policy: CommentPolicy) -> list[str]:
    """Every rule that keeps this record from being coached, each naming the label, field,
    state or category and the setting it comes from."""
    out: list[str] = []
    exemption = getattr(ruleset, "exemption", None)
    if exemption is not None:
        have = {label.lower(): label for label in record.labels}
        for lowered in sorted(set(have) & set(exemption.labels)):
            out.append(f"exempt: the label {have[lowered]!r} is in the rule set's [exempt] labels")
        for name, values in exemption.fields:
            value = getattr(record, name, None)
            if value is None:
                value = record.raw.get(name) if record.raw else None
            if value is not None and str(value).strip().lower() in values:
                out.append(f"exempt: the field {name} is {str(value).strip()!r}, one of the rule set's [exempt] "
                           f"fields.{name}")
    label = opted_out(record, policy.opt_out_labels)
    if label:
        carried = next((x for x in record.labels if x.strip().lower() == label.strip().lower()), label)
        out.append(f"opted out: the label {carried!r} is in [comments] opt_out_labels")
    skip = next((s for s in policy.skip_states if in_skip_state(record.state, (s,))), None)
    if skip is not None:
        out.append(f"skipped: the state {record.state!r} matches {skip!r} in [comments] skip_states")
    category = verdict.category
    if category is Category.UNSURE:
        out.append("not coached: the rules cannot place a consequence the record states (category unsure)")
    elif verdict.value_goal is False and category.value not in policy.coach_categories:
        out.append(f"not coached: the category {category.value} is not in [comments] coach_categories")
    return out


def unsure_reason(verdict: Verdict) -> str | None:
    """What the rules could not place: the words of the "unsure" finding (None: not unsure)."""
    if verdict.category is not Category.UNSURE:
        return None
    for finding in verdict.findings:
        if finding.rule == "unsure" and finding.evidence:
            words = ", ".join(repr(e.text) for e in finding.evidence[:3])
            return f"the rules cannot place {words} as value or process (not coached; tune the rules if this is a pattern)"
    return "the rules cannot place the consequence or intended change the record states as value or process"


def next_scan_words(action: Action) -> str:
    return f"{NEXT_WORDS[action.kind]}: {action.reason}"


def describe(write: PastWrite) -> str:
    return KIND_WORDS.get(write.kind, write.kind)


