"""coach.decide: table-driven, one row per promise the comment policy makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csi_coach.coach import ActionKind, History, PastComment, decide, in_skip_state
from csi_coach.config import CommentPolicy
from csi_coach.model import Category, CommentRef, Evidence, Finding, Record, Severity, Verdict, marker_for

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def rec(state="Open", labels=()):
    return Record(source="snow", key="k1", number="CIM1", url="", title="t", state=state, labels=labels)


def verdict(cat=Category.PROCESS_ONLY, words=("mttr",), exempt=False):
    ev = tuple(Evidence("goal", w, 0, len(w)) for w in words)
    return Verdict(cat, measurable=False, findings=(Finding("process-only", Severity.WARNING, "m", ev),), exempt=exempt)


PROC = verdict()
PROC2 = verdict(words=("fcr",))
NOGOAL = verdict(Category.NO_GOAL, words=())
VALUE = verdict(Category.VALUE, words=())


def past(v, kind="post", cid="c1", days_ago=1):
    return PastComment(v.digest(), kind, cid, NOW - timedelta(days=days_ago))


CASES = [
    # (id, record, verdict, history, policy overrides, can_edit, expected kind, reason contains)
    ("first coaching", rec(), PROC, (), {}, False, ActionKind.POST, "first"),
    ("no goal is coached", rec(), NOGOAL, (), {}, False, ActionKind.POST, "first"),
    ("value goal is left alone", rec(), VALUE, (), {}, False, ActionKind.NONE, "not coached"),
    ("same finding twice", rec(), PROC, (past(PROC),), {}, True, ActionKind.NONE, "already"),
    ("changed, jira edits in place", rec(), PROC2, (past(PROC),), {}, True, ActionKind.UPDATE, "editing"),
    ("changed, servicenow adds entry", rec(), PROC2, (past(PROC, days_ago=31),), {}, False, ActionKind.POST, "new entry"),
    ("changed within cooldown, servicenow waits", rec(), PROC2, (past(PROC, days_ago=29),), {}, False, ActionKind.NONE, "cooldown"),
    ("changed, on_change=new on jira", rec(), PROC2, (past(PROC, days_ago=31),), {"on_change": "new"}, True, ActionKind.POST, "new entry"),
    ("changed, on_change=new within cooldown", rec(), PROC2, (past(PROC, days_ago=2),), {"on_change": "new"}, True, ActionKind.NONE, "cooldown"),
    ("changed, on_change=none", rec(), PROC2, (past(PROC),), {"on_change": "none"}, True, ActionKind.NONE, "on_change"),
    ("edit needs a comment id", rec(), PROC2, (past(PROC, cid="", days_ago=31),), {}, True, ActionKind.POST, "new entry"),
    ("back to an old finding within cooldown", rec(), PROC, (past(PROC, days_ago=5), past(PROC2, days_ago=2)), {"on_change": "new"}, False, ActionKind.NONE, "cooldown"),
    ("back to an old finding after cooldown", rec(), PROC, (past(PROC, days_ago=40), past(PROC2, days_ago=35)), {"on_change": "new"}, False, ActionKind.POST, "new entry"),
    ("cooldown is configurable", rec(), PROC, (past(PROC, days_ago=5), past(PROC2, days_ago=2)), {"on_change": "new", "cooldown_days": 1}, False, ActionKind.POST, "new entry"),
    ("closed is skipped", rec(state="closed"), PROC, (), {}, False, ActionKind.SKIP, "state"),
    ("display value Closed Complete is skipped", rec(state="Closed Complete"), PROC, (), {}, False, ActionKind.SKIP, "state"),
    ("CANCELLED in capitals is skipped", rec(state="CANCELLED"), PROC, (), {}, False, ActionKind.SKIP, "state"),
    ("'Not closed' is not a closed state", rec(state="Not closed"), PROC, (), {}, False, ActionKind.POST, "first"),
    ("opt-out label, any case", rec(labels=("CSI-Coach-Skip",)), PROC, (), {}, False, ActionKind.SKIP, "opted out"),
    ("exempt verdict", rec(), verdict(exempt=True), (), {}, False, ActionKind.SKIP, "exempt"),
    ("category not in coach_categories", rec(), NOGOAL, (), {"coach_categories": ("process_only",)}, False, ActionKind.NONE, "not coached"),
    ("linked coached when configured", rec(), verdict(Category.LINKED), (), {"coach_categories": ("linked",)}, False, ActionKind.POST, "first"),
    ("fixed goal acknowledged", rec(), VALUE, (past(PROC),), {"acknowledge_fixed": True}, False, ActionKind.ACKNOWLEDGE, "value goal"),
    ("no acknowledgement when off", rec(), VALUE, (past(PROC),), {}, False, ActionKind.NONE, "not coached"),
    ("acknowledged only once", rec(), VALUE, (past(PROC, days_ago=3), past(VALUE, kind="ack", days_ago=2)), {"acknowledge_fixed": True}, False, ActionKind.NONE, "not coached"),
    ("never coached: no acknowledgement", rec(), VALUE, (), {"acknowledge_fixed": True}, False, ActionKind.NONE, "not coached"),
    ("regressed after acknowledgement, new finding", rec(), PROC2, (past(PROC, days_ago=50), past(VALUE, kind="ack", days_ago=45)), {"acknowledge_fixed": True}, True, ActionKind.POST, "new entry"),
    ("regressed to the same finding within cooldown", rec(), PROC, (past(PROC, days_ago=3), past(VALUE, kind="ack", days_ago=2)), {"acknowledge_fixed": True}, True, ActionKind.NONE, "cooldown"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_decide(case):
    _, record, v, hist, overrides, can_edit, kind, reason = case
    policy = CommentPolicy(**overrides)
    action = decide(record, v, History(tuple(hist)), policy, NOW, can_edit)
    assert action.kind is kind
    assert reason in action.reason
    if action.writes:
        assert action.marker == marker_for(v.digest(), ack=kind is ActionKind.ACKNOWLEDGE)
    else:
        assert action.marker == ""


def test_update_points_at_the_latest_comment():
    hist = History((past(PROC, cid="c7", days_ago=9), past(PROC2, kind="update", cid="c7", days_ago=3)))
    action = decide(rec(), verdict(words=("aht",)), hist, CommentPolicy(), NOW, True)
    assert action.kind is ActionKind.UPDATE
    assert action.previous == CommentRef("snow", "k1", "c7")
    assert action.ledger_kind == "update"


def test_severity_is_not_part_of_the_finding_version():
    # an admin retuning a severity must not re-coach every record
    louder = Verdict(PROC.category, measurable=False,
                     findings=tuple(Finding(f.rule, Severity.ERROR, f.message, f.evidence) for f in PROC.findings))
    assert louder.digest() == PROC.digest()
    assert decide(rec(), louder, History((past(PROC),)), CommentPolicy(), NOW, False).kind is ActionKind.NONE


def test_acknowledgement_marker_is_told_apart_from_coaching():
    from csi_coach.model import MARKER_RE, marker_is_ack

    action = decide(rec(), VALUE, History((past(PROC),)), CommentPolicy(acknowledge_fixed=True), NOW, False)
    assert action.kind is ActionKind.ACKNOWLEDGE and marker_is_ack(action.marker)
    assert MARKER_RE.fullmatch(action.marker).group(1) == VALUE.digest()
    assert not marker_is_ack(marker_for(PROC.digest()))


def test_decide_is_pure():
    hist = History((past(PROC),))
    a = decide(rec(), PROC2, hist, CommentPolicy(), NOW, True)
    b = decide(rec(), PROC2, hist, CommentPolicy(), NOW, True)
    assert a == b


@pytest.mark.parametrize(
    "state, skips, expected",
    [
        ("Closed Incomplete", ("closed",), True),
        ("closed_complete", ("closed",), True),
        ("Work in Progress", ("closed",), False),
        ("", ("closed",), False),
        ("Won't Do", ("won't do",), True),
        ("Resolved", ("closed", "resolved"), True),
        ("Unresolved", ("resolved",), False),
    ],
)
def test_skip_states(state, skips, expected):
    assert in_skip_state(state, skips) is expected
