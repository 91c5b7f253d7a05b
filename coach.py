"""Whether to write on a record, and what kind of write: the one place that decides.

``decide`` is pure: the record, its verdict, what the bot wrote on it before
(``History``), the comment policy, the time and whether the target can edit
comments in place. No I/O, no clock, no globals; the scan does the writing.

The promises it keeps:

- one bot comment per record per finding version: the same verdict digest is never
  coached twice in a row;
- when the verdict changes, the earlier comment is edited in place where the system
  allows it (Jira) or a new entry is added (ServiceNow journal), per ``on_change``;
- a finding already coached is not coached again within ``cooldown_days``
  (an owner flipping a goal back and forth is not nagged for each flip), and where
  a changed finding means a new entry rather than an edit, a record gets at most one
  new coaching entry per ``cooldown_days`` (an owner rewording a goal twice a week,
  or an admin retuning the rules, does not pile entries up on the ticket);
- closed or cancelled records (also display values like "Closed Complete"),
  records carrying an opt-out label and exempt verdicts are skipped;
- only categories in ``coach_categories`` are coached;
- optionally, one short acknowledgement when an owner turns a flagged record into
  one with a value goal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from csi_coach.config import CommentPolicy
from csi_coach.model import CommentRef, Record, Verdict, marker_for


class ActionKind(str, Enum):
    NONE = "none"  # nothing to write
    POST = "post"  # a new coaching comment
    UPDATE = "update"  # edit the earlier bot comment in place
    ACKNOWLEDGE = "acknowledge"  # a short thank-you: the goal is fixed
    SKIP = "skip"  # the record is out of scope (closed, opted out, exempt)

    @property
    def writes(self) -> bool:
        return self in (ActionKind.POST, ActionKind.UPDATE, ActionKind.ACKNOWLEDGE)


@dataclass(frozen=True)
class PastComment:
    """One comment the bot wrote on the record (from the ledger or found on the ticket)."""

    digest: str
    kind: str  # "post" | "update" | "ack"
    comment_id: str
    at: datetime

    @property
    def coaching(self) -> bool:
        return self.kind in ("post", "update")


@dataclass(frozen=True)
class History:
    """What the bot wrote on one record, oldest first."""

    comments: tuple[PastComment, ...] = ()

    @property
    def latest(self) -> PastComment | None:
        return self.comments[-1] if self.comments else None

    def last_coached(self, digest: str) -> datetime | None:
        times = [c.at for c in self.comments if c.coaching and c.digest == digest]
        return max(times) if times else None


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    reason: str
    marker: str = ""
    digest: str = ""
    previous: CommentRef | None = None  # the comment an UPDATE edits

    @property
    def writes(self) -> bool:
        return self.kind.writes

    @property
    def ledger_kind(self) -> str:
        return {ActionKind.POST: "post", ActionKind.UPDATE: "update", ActionKind.ACKNOWLEDGE: "ack"}[self.kind]


ON_CHANGE = ("edit", "new", "none")

_WORD = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def in_skip_state(state: str, skip_states: tuple[str, ...]) -> bool:
    """True when the record's state is one of ``skip_states``, ignoring case.

    A skip state also matches a display value that starts with its words, so
    "closed" covers "Closed Complete" and "Closed Skipped", but not "Not closed".
    """
    have = _words(state)
    if not have:
        return False
    for skip in skip_states:
        want = _words(skip)
        if want and have[: len(want)] == want:
            return True
    return False


def opted_out(record: Record, opt_out_labels: tuple[str, ...]) -> str | None:
    """The opt-out label the record carries, if any (case-insensitive)."""
    labels = {label.strip().lower() for label in record.labels}
    for label in opt_out_labels:
        if label.strip().lower() in labels:
            return label
    return None


def decide(
    record: Record,
    verdict: Verdict,
    history: History,
    policy: CommentPolicy,
    now: datetime,
    target_can_edit: bool,
) -> Action:
    digest = verdict.digest()

    def act(kind: ActionKind, reason: str, previous: CommentRef | None = None) -> Action:
        if not kind.writes:
            return Action(kind, reason, "", digest, previous)
        return Action(kind, reason, marker_for(digest, ack=kind is ActionKind.ACKNOWLEDGE), digest, previous)

    if verdict.exempt:
        return act(ActionKind.SKIP, "exempt (opt-out field or label)")
    label = opted_out(record, policy.opt_out_labels)
    if label:
        return act(ActionKind.SKIP, f"opted out with label {label!r}")
    if in_skip_state(record.state, policy.skip_states):
        return act(ActionKind.SKIP, f"state {record.state!r} is not coached")

    latest = history.latest
    coach = verdict.category.value in policy.coach_categories

    if not coach:
        if (
            policy.acknowledge_fixed
            and verdict.value_goal
            and latest is not None
            and latest.coaching
        ):
            return act(ActionKind.ACKNOWLEDGE, "the owner added a value goal after coaching")
        return act(ActionKind.NONE, f"category {verdict.category.value} is not coached")

    if latest is None:
        return act(ActionKind.POST, "first coaching for this record")
    if latest.coaching and latest.digest == digest:
        return act(ActionKind.NONE, "already coached on this finding")

    # The finding changed since the bot last wrote (or the owner fixed it and then
    # regressed after an acknowledgement).
    if policy.on_change == "none" and latest.coaching:
        return act(ActionKind.NONE, "finding changed; on_change = none keeps the earlier comment")
    if policy.on_change == "edit" and target_can_edit and latest.coaching and latest.comment_id:
        ref = CommentRef(record.source, record.key, latest.comment_id)
        return act(ActionKind.UPDATE, "finding changed; editing the earlier comment in place", ref)
    cooldown = timedelta(days=policy.cooldown_days)
    coached_at = history.last_coached(digest)
    if coached_at is not None and now - coached_at < cooldown:
        return act(ActionKind.NONE, f"this finding was coached {(now - coached_at).days} day(s) ago (cooldown)")
    if latest.coaching and now - latest.at < cooldown:
        return act(
            ActionKind.NONE,
            f"finding changed, but the record was coached {(now - latest.at).days} day(s) ago (cooldown)",
        )
    return act(ActionKind.POST, "finding changed; adding a new entry")
