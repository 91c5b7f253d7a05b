"""The records, verdicts and findings that flow through a scan.

All frozen: a value once made is never changed, so it can be hashed, cached,
compared between scans and passed between threads without care.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any, overload

# The text fields a rule may look at, in the order evidence is reported.
TEXT_FIELDS: tuple[str, ...] = ("title", "description", "goal", "service")

# Every bot comment carries "csi-coach:<verdict digest>" so the bot can find its own
# comments again (ServiceNow: valueLIKEcsi-coach:, Jira: fallback to the property).
# An acknowledgement carries "csi-coach:<digest>-ack", so a bot that lost its state
# still tells a thank-you from coaching when it reads the ticket.
MARKER_PREFIX = "csi-coach:"
ACK_SUFFIX = "-ack"
MARKER_RE = re.compile(r"csi-coach:([0-9a-f]{16})(-ack)?")


def marker_for(digest: str, *, ack: bool = False) -> str:
    return MARKER_PREFIX + digest + (ACK_SUFFIX if ack else "")


def marker_is_ack(marker: str) -> bool:
    m = MARKER_RE.search(marker)
    return bool(m and m.group(2))


@overload
def aware(value: datetime) -> datetime: ...
@overload
def aware(value: datetime | None) -> datetime | None: ...
def aware(value: datetime | None) -> datetime | None:
    """A time without a zone is UTC: the state file and the sandboxes write UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class Category(str, Enum):
    VALUE = "value"
    LINKED = "linked"
    PROCESS_ONLY = "process_only"
    NO_GOAL = "no_goal"
    # The record states a consequence or an intended change the rules cannot place:
    # never coached (a wrong comment costs more than a missed one), counted and
    # listed so admins can tune the rules.
    UNSURE = "unsure"

    @property
    def value_goal(self) -> bool | None:
        """True for value and linked, False for process_only and no_goal, None when unsure."""
        if self is Category.UNSURE:
            return None
        return self in (Category.VALUE, Category.LINKED)


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    OFF = "off"


@dataclass(frozen=True)
class Record:
    """One improvement record, whatever system it came from."""

    source: str  # the config's source name, e.g. "servicenow-prod"
    key: str  # sys_id or Jira issue key: what the API addresses
    number: str  # what people call it: CIM0010023, CSI-42
    url: str
    title: str
    description: str = ""
    goal: str = ""
    service: str = ""
    owner: str = ""
    labels: tuple[str, ...] = ()
    group: str = ""  # the owner's group or team, where the source maps one (the report's breakdown)
    state: str = ""
    updated: datetime | None = None
    container: str = ""  # ServiceNow table or Jira project key, for rule scopes
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # The fields cut to the source's max_field_chars (see ``capped``): the verdict was
    # reached on their first characters only, which explain and the scan's log say.
    truncated: tuple[str, ...] = ()

    def text(self, name: str) -> str:
        """The value of one of TEXT_FIELDS."""
        return getattr(self, name) or ""

    def capped(self, limit: int) -> Record:
        """This record with each text field cut to ``limit`` characters and the cut ones
        named in ``truncated``; itself when nothing is that long.

        A hostile or runaway field (megabytes of description) would cost the rules time
        and memory for text no person wrote for reading. Strings in ``raw`` (what the
        opt-out fields are read from) are cut the same way, two levels deep (the vendors'
        ``{"display_value", "value"}`` and ``{"name": ...}`` shapes), so the record holds
        no more than that either.
        """
        cut = [name for name in CAPPED_FIELDS if len(getattr(self, name)) > limit]
        long_label = any(len(label) > limit for label in self.labels)
        if long_label:
            cut.append("labels")
        raw, raw_cut = _clip(self.raw, limit, depth=2)
        if not cut and not raw_cut:
            return self
        changes: dict[str, Any] = {name: getattr(self, name)[:limit] for name in cut if name != "labels"}
        if long_label:
            changes["labels"] = tuple(label[:limit] for label in self.labels)
        return replace(self, **changes, raw=raw, truncated=tuple(dict.fromkeys(self.truncated + tuple(cut))))

    @classmethod
    def from_text(cls, text: str, *, key: str = "text", source: str = "cli") -> Record:
        """A record holding free text in its goal, for `explain --text`."""
        return cls(source=source, key=key, number=key, url="", title="", goal=text)


# The Record fields ``Record.capped`` cuts: the text fields and the other free text.
CAPPED_FIELDS: tuple[str, ...] = (*TEXT_FIELDS, "number", "owner", "state", "group")


def _clip(value: Any, limit: int, *, depth: int) -> tuple[Any, bool]:
    """``value`` with its strings cut to ``limit`` characters, ``depth`` levels into mappings
    and lists (deeper values are kept as they are); and whether anything was cut."""
    if isinstance(value, str):
        return (value[:limit], True) if len(value) > limit else (value, False)
    if depth < 0 or not isinstance(value, (Mapping, list)):
        return value, False
    if isinstance(value, list):
        items = [_clip(v, limit, depth=depth - 1) for v in value]
        return ([v for v, _ in items], True) if any(c for _, c in items) else (value, False)
    pairs = {k: _clip(v, limit, depth=depth - 1) for k, v in value.items()}
    if not any(c for _, c in pairs.values()):
        return value, False
    return {k: v for k, (v, _) in pairs.items()}, True


@dataclass(frozen=True)
class Evidence:
    """Where a finding was seen: the field, the words, their offsets in that field."""

    field: str
    text: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "text": self.text, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Finding:
    rule: str  # rule id, e.g. "process-without-value"
    severity: Severity
    message: str
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True)
class Verdict:
    category: Category
    measurable: bool
    findings: tuple[Finding, ...] = ()
    exempt: bool = False  # the record carries the opt-out label/field

    @property
    def value_goal(self) -> bool | None:
        return self.category.value_goal

    @property
    def flagged(self) -> bool:
        """True when the bot should coach: surely no value goal, and not opted out."""
        return self.value_goal is False and not self.exempt

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category.value,
            "value_goal": self.value_goal,
            "measurable": self.measurable,
            "findings": [f.to_dict() for f in self.findings],
        }

    def digest(self) -> str:
        """A stable hash of what the bot would say: category, rules and evidence words.

        Offsets are left out so an edit elsewhere in the text does not re-coach, and
        severities too: an admin retuning a rule's severity must not re-coach the estate.
        """
        payload = {
            "category": self.category.value,
            "measurable": self.measurable,
            "findings": sorted(
                [f.rule, sorted({e.text.lower() for e in f.evidence})]
                for f in self.findings
            ),
        }
        blob = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


@dataclass(frozen=True)
class CommentRef:
    """A comment the bot wrote: enough to find or edit it again."""

    source: str
    record_key: str
    comment_id: str  # Jira comment id, ServiceNow sys_journal_field sys_id ("" if unknown)


@dataclass(frozen=True)
class BotComment:
    """One of the bot's earlier comments on a record, found by its marker."""

    ref: CommentRef
    marker: str  # the marker text found, e.g. "csi-coach:ab12cd34ef56"
    body: str
    created: datetime | None = None
    editable: bool = False


@dataclass(frozen=True)
class BrokenRecord:
    """A fetched item that could not be turned into a Record (bad data).

    Connectors yield it instead of raising, so one odd ticket never stops a scan.
    """

    source: str
    key: str
    number: str
    reason: str
