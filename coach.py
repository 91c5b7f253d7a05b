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
  one with a value goal;
- owners may push back (``read_pushback``): a reply starting with one of the
  configured keywords disputes the coaching. The rules it named are never coached on
  that record again, and the owner gets one short acknowledgement.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from csi_coach.config import CommentPolicy
from csi_coach.model import CommentRef, Record, Severity, Verdict, marker_for
from csi_coach.rules.document import plain_text


class ActionKind(str, Enum):
    NONE = "none"  # nothing to write
    POST = "post"  # a new coaching comment
    UPDATE = "update"  # edit the earlier bot comment in place
    ACKNOWLEDGE = "acknowledge"  # a short thank-you: the goal is fixed
    ACKNOWLEDGE_DISPUTE = "acknowledge_dispute"  # once: the owner's pushback is noted
    SKIP = "skip"  # the record is out of scope (closed, opted out, exempt)

    @property
    def writes(self) -> bool:
        return self in (ActionKind.POST, ActionKind.UPDATE, ActionKind.ACKNOWLEDGE, ActionKind.ACKNOWLEDGE_DISPUTE)

    @property
    def acknowledges(self) -> bool:
        return self in (ActionKind.ACKNOWLEDGE, ActionKind.ACKNOWLEDGE_DISPUTE)


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
    """What the bot wrote on one record, oldest first, and what its owner disputed."""

    comments: tuple[PastComment, ...] = ()
    disputed: frozenset[str] = frozenset()  # rules the owner pushed back on: never coached here again
    dispute_unacknowledged: bool = False  # a dispute was recorded and not yet acknowledged

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
    # The verdict to write about when it is not the one judged: the owner disputed some
    # of its findings, which the comment leaves out.
    verdict: Verdict | None = None

    @property
    def writes(self) -> bool:
        return self.kind.writes

    @property
    def ledger_kind(self) -> str:
        return {ActionKind.POST: "post", ActionKind.UPDATE: "update"}.get(self.kind, "ack")


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


# --- owners' pushback ------------------------------------------------------------------


@dataclass(frozen=True)
class OwnerReply:
    """A comment or work note on a record written by anyone but the bot (read as is:
    HTML, wiki markup or text)."""

    comment_id: str
    author: str
    body: str
    created: datetime | None


@dataclass(frozen=True)
class Pushback:
    """An owner's reply that disputes the coaching: which keyword kind and why."""

    kind: str  # "wrong" | "not_applicable"
    keyword: str  # the keyword as configured
    reason: str  # the rest of the reply, as plain text
    reply: OwnerReply


# A dispute of a comment that named no rule above info: the whole coaching on the record.
ANY_RULE = "*"
# Between the keyword and the reason: spaces, dashes, colons, full stops.
_AFTER_KEYWORD = re.compile(r"^[\s:;,.\-\u2013\u2014]*")
# The bot's marker may be quoted back in a reply; it is not part of the reason.
_MARKER_TEXT = re.compile(r"csi-coach:[0-9a-f]{16}(?:-ack)?")


# Quoted text is someone else's words (most often the bot's own comment, quoted back): a
# keyword in it is no pushback. Read off the reply as written (HTML, Jira wiki markup, and
# "> " lines as mail and Markdown quote), and again off the plain text (an HTML "&gt;" line).
_QUOTED_MARKUP = re.compile(r"<blockquote\b.*?</blockquote\s*>|\{quote\}.*?\{quote\}|^[ \t]*bq\.[^\n]*$",
                            re.IGNORECASE | re.DOTALL | re.MULTILINE)
_QUOTED_LINE = re.compile(r"^[ \t]*>[^\n]*$", re.MULTILINE)
# A mention a reply may open with: Jira's [~accountid:...] or [~name], or "@" and a name whose
# length is unknown ("@Ann", "@Ann Owner"): its first word and up to three more that start
# with a capital, each a place the owner's words may start.
_JIRA_MENTION = re.compile(r"\[~[^\]\n]{1,128}\]")
_LEADING_JIRA_MENTIONS = re.compile(r"^\s*(?:\[~[^\]\n]{1,128}\][\s,:;]*)+")
_AT_MENTION = re.compile(r"@[^\s@,;:]{1,64}")
_NAME_WORD = re.compile(r"[ \t\u00a0]+([^\s@,;:]{1,64})")
_MENTION_GAP = re.compile(r"[\s,:;]*")
_MENTIONS_MAX = 5


# Invisible characters: the bot's own comment breaks tokens with them (render.ZWSP), so a
# keyword copied from it carries one.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff]")


def _owners_text(body: str) -> str:
    """The reply as plain text, without quoted text and invisible characters."""
    raw = _QUOTED_LINE.sub("", _QUOTED_MARKUP.sub("\n", _INVISIBLE.sub("", body)))
    # Jira mentions go before the markup is read: read as markup, "[~accountid:...]" loses
    # its brackets and would no longer be told from words.
    text = plain_text(_LEADING_JIRA_MENTIONS.sub("", raw, count=1))
    return _QUOTED_LINE.sub("", text).strip()


def _openings(text: str, depth: int = 0) -> list[str]:
    """``text``, and ``text`` after each way of reading the mentions it opens with."""
    out = [text]
    if depth >= _MENTIONS_MAX:
        return out
    ends: list[int] = []
    if (jira := _JIRA_MENTION.match(text)) is not None:
        ends.append(jira.end())
    elif (at := _AT_MENTION.match(text)) is not None:
        ends.append(at.end())
        while len(ends) < 4 and (word := _NAME_WORD.match(text, ends[-1])) is not None and word.group(1)[:1].isupper():
            ends.append(word.end())
    for end in ends:
        rest = text[_MENTION_GAP.match(text, end).end():]  # type: ignore[union-attr]  # it matches empty
        out += _openings(rest, depth + 1)
    return out


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    """``keyword`` (casefolded) as a pattern over casefolded text: any run of spaces in it
    matches one or more, and none after punctuation ("csi-coach:wrong"); a keyword that
    ends in a letter or digit does not match the start of a longer word."""
    want = keyword.strip().casefold()
    parts = re.split(r"(\s+)", want)
    pattern = "".join(
        ("\\s*" if i and not parts[i - 1][-1:].isalnum() else "\\s+") if part.isspace() else re.escape(part)
        for i, part in enumerate(parts)
    )
    return re.compile(pattern + ("(?!\\w)" if want[-1:].isalnum() else ""))


def _keyword_end(text: str, keyword: str) -> int | None:
    """Where ``keyword`` ends in ``text`` when the text opens with it, ignoring case; None when
    it does not. Casefolding may change the length ("\u00df" folds to "ss", "\u0130" to two
    characters), so the match in the folded text is mapped back to the reply's own characters."""
    if not keyword.strip():
        return None
    folded = [ch.casefold() for ch in text]
    match = _keyword_pattern(keyword).match("".join(folded))
    if match is None:
        return None
    seen = 0
    for i, part in enumerate(folded):
        if seen >= match.end():
            return i if seen == match.end() else None  # None: it ended inside one folded letter
        seen += len(part)
    return len(text) if seen == match.end() else None


def read_pushback(reply: OwnerReply, policy: CommentPolicy) -> Pushback | None:
    """The pushback in ``reply`` when its text (markup read as plain text, quoted text and the
    mentions it opens with left out) starts with one of the configured keywords, ignoring
    case, leading space and the spaces after a colon; None otherwise. The longest keyword
    that matches wins, so "csi-coach: wrong rule" can be told from "csi-coach: wrong"."""
    choices = [(k, "wrong") for k in policy.dispute_keywords] + [(k, "not_applicable") for k in policy.not_applicable_keywords]
    for text in _openings(_owners_text(reply.body or "")):
        for keyword, kind in sorted(choices, key=lambda c: -len(c[0])):
            end = _keyword_end(text, keyword)
            if end is not None:
                reason = _MARKER_TEXT.sub("", _AFTER_KEYWORD.sub("", text[end:], count=1)).strip()
                return Pushback(kind, keyword, reason, reply)
    return None


def coached_rules(verdict: Verdict) -> tuple[str, ...]:
    """The rules a coaching comment on ``verdict`` speaks of: its findings above info."""
    shown = (Severity.ERROR, Severity.WARNING)
    return tuple(dict.fromkeys(f.rule for f in verdict.findings if f.severity in shown and f.rule != "unsure"))


def without_rules(verdict: Verdict, rules: frozenset[str]) -> Verdict:
    """``verdict`` without the findings of ``rules`` (the owner disputed them)."""
    kept = tuple(f for f in verdict.findings if f.rule not in rules)
    return verdict if len(kept) == len(verdict.findings) else replace(verdict, findings=kept)


# --- the decision ------------------------------------------------------------------------


def decide(
    record: Record,
    verdict: Verdict,
    history: History,
    policy: CommentPolicy,
    now: datetime,
    target_can_edit: bool,
) -> Action:
    shown: Verdict | None = None
    # A dispute's acknowledgement is marked by everything that fired, disputed rules too
    # (each dispute adds a rule, so no two are alike; the open findings after two disputes
    # may both be none), hashed apart from the coaching that fired the same findings.
    whole_digest = hashlib.sha256(f"dispute\x1f{verdict.digest()}".encode()).hexdigest()[:16]
    if history.disputed:
        open_verdict = without_rules(verdict, history.disputed)
        if open_verdict is not verdict:
            shown = verdict = open_verdict
    digest = verdict.digest()

    def act(kind: ActionKind, reason: str, previous: CommentRef | None = None) -> Action:
        if not kind.writes:
            return Action(kind, reason, "", digest, previous, shown)
        made_of = whole_digest if kind is ActionKind.ACKNOWLEDGE_DISPUTE else digest
        return Action(kind, reason, marker_for(made_of, ack=kind.acknowledges), made_of, previous, shown)

    if verdict.exempt:
        return act(ActionKind.SKIP, "exempt (opt-out field or label)")
    label = opted_out(record, policy.opt_out_labels)
    if label:
        return act(ActionKind.SKIP, f"opted out with label {label!r}")
    if in_skip_state(record.state, policy.skip_states):
        return act(ActionKind.SKIP, f"state {record.state!r} is not coached")

    if history.dispute_unacknowledged:
        return act(ActionKind.ACKNOWLEDGE_DISPUTE, "the owner disputed the coaching; acknowledging once")

    latest = history.latest
    coach = verdict.category.value in policy.coach_categories
    if coach and history.disputed and (ANY_RULE in history.disputed or not coached_rules(verdict)):
        named = ", ".join(sorted(history.disputed))
        return act(ActionKind.NONE, f"the owner disputed {named} on this record; not coached again")

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
