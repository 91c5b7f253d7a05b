"""Owners' pushback: which replies count (coach.read_pushback) and what decide does after one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from csi_coach.coach import (
    ActionKind,
    History,
    OwnerReply,
    PastComment,
    coached_rules,
    decide,
    read_pushback,
)
from csi_coach.config import CommentPolicy
from csi_coach.model import Category, Evidence, Finding, Record, Severity, Verdict

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POLICY = CommentPolicy()
RECORD = Record(source="snow", key="k1", number="CIM1", url="", title="t", state="Open")


def finding(rule, word, severity=Severity.WARNING):
    return Finding(rule, severity, "m", (Evidence("goal", word, 0, len(word)),))


PROC = Verdict(Category.PROCESS_ONLY, False, (finding("process-only", "mttr"), finding("measurable", "x", Severity.INFO)))
TWO = Verdict(Category.PROCESS_ONLY, False, (finding("process-only", "mttr"), finding("no-consumer", "team")))


def reply(body):
    return OwnerReply("r1", "Ann Owner", body, NOW)


@pytest.mark.parametrize("body, kind, reason", [
    ("csi-coach: wrong \u2013 the goal is the members' payout time", "wrong", "the goal is the members' payout time"),
    ("CSI-Coach: Wrong: metric is the outcome", "wrong", "metric is the outcome"),
    ("  csi-coach: not applicable - an audit finding", "not_applicable", "an audit finding"),
    ("<p><b>csi-coach: wrong</b> because &amp; reasons</p>", "wrong", "because & reasons"),
    ("*csi-coach: wrong* it is fine", "wrong", "it is fine"),
    ("csi-coach: wrong", "wrong", ""),
    ("csi-coach: wrong csi-coach:0123456789abcdef quoted", "wrong", "quoted"),
], ids=["dash", "case", "not applicable", "html", "wiki bold", "no reason", "marker quoted"])
def test_a_reply_starting_with_a_keyword_is_pushback(body, kind, reason):
    got = read_pushback(reply(body), POLICY)
    assert got is not None and got.kind == kind and got.reason == reason


@pytest.mark.parametrize("body", [
    "Thanks, I will fix the goal",
    "I think csi-coach: wrong is what I should write",
    "csi-coach: wrongly placed comment?",
    "",
])
def test_other_replies_are_not_pushback(body):
    assert read_pushback(reply(body), POLICY) is None


@pytest.mark.parametrize("body, kind, reason", [
    ("[~accountid:5b10a2844c20165700ede21g] csi-coach: wrong - payout time", "wrong", "payout time"),
    ("[~ann.owner], csi-coach: not applicable", "not_applicable", ""),
    ("[~accountid:5b10a28] [~accountid:77aa01] csi-coach: wrong it is", "wrong", "it is"),
    ("@Ann Owner csi-coach: wrong - payout time", "wrong", "payout time"),
    ('<p><a class="at-mention">@Ann Owner</a> csi-coach: wrong</p>', "wrong", ""),
    ("{quote}csi-coach:0123456789abcdef The goal names a process metric{quote}\ncsi-coach: wrong x", "wrong", "x"),
    ("bq. The goal names a process metric\ncsi-coach: not applicable", "not_applicable", ""),
    ("> The goal names a process metric\n> only\n\ncsi-coach: wrong x", "wrong", "x"),
    ("<blockquote><p>The goal names a process metric</p></blockquote><p>csi-coach: wrong x</p>", "wrong", "x"),
    ("[~accountid:5b10a28]\n{quote}earlier{quote}\ncsi-coach: wrong x", "wrong", "x"),
    ("[~accountid:712020:5c1c0ac4-c0ac] {quote}csi-coach: wrong csi-coach:0123456789abcdef{quote}\n*csi-coach: wrong* x",
     "wrong", "x"),
], ids=["jira mention", "jira server mention", "two mentions", "at name", "html mention", "wiki quote",
        "bq quote", "mail quote", "html quote", "mention then quote", "mention, quote and markup"])
def test_a_reply_opening_with_mentions_or_quotes_is_read_after_them(body, kind, reason):
    got = read_pushback(reply(body), POLICY)
    assert got is not None and (got.kind, got.reason) == (kind, reason)


@pytest.mark.parametrize("body", [
    "@Ann I think csi-coach: wrong is what I should write",
    "{quote}csi-coach: wrong{quote} is what you wrote, I will fix the goal",
    "> csi-coach: wrong\nno, I will fix it",
], ids=["mention then prose", "keyword only in a quote", "keyword only in a mail quote"])
def test_a_keyword_behind_prose_or_only_in_a_quote_is_not_pushback(body):
    assert read_pushback(reply(body), POLICY) is None


@pytest.mark.parametrize("body, reason", [
    ("csi-coach:wrong it is fine", "it is fine"),
    ("csi-coach:  wrong it is fine", "it is fine"),
    ("CSI-COACH: WRONG STRASSE", "STRASSE"),
], ids=["no space", "two spaces", "upper case"])
def test_spacing_after_the_colon_does_not_matter(body, reason):
    got = read_pushback(reply(body), POLICY)
    assert got is not None and got.reason == reason


@pytest.mark.parametrize("keyword, body, reason", [
    # casefold makes "ß" two letters: the reason starts after the keyword in the reply's own text
    ("stra\u00dfe:", "STRASSE:the reason", "the reason"),
    ("strasse:", "Stra\u00dfe:the reason", "the reason"),
    ("\u0130ptal:", "\u0130ptal:the reason", "the reason"),  # İ folds to i + a combining dot
    ("\u0130ptal:", "\u0130PTAL:\u00dfe gro\u00df", "\u00dfe gro\u00df"),
], ids=["keyword sharp s", "reply sharp s", "dotted I", "dotted I then sharp s"])
def test_a_keyword_whose_folding_changes_length_leaves_the_reason_whole(keyword, body, reason):
    policy = CommentPolicy(dispute_keywords=(keyword,), not_applicable_keywords=())
    got = read_pushback(reply(body), policy)
    assert got is not None and got.reason == reason


def test_keywords_come_from_the_policy():
    policy = CommentPolicy(dispute_keywords=("#dispute",), not_applicable_keywords=())
    assert read_pushback(reply("#dispute it is a value goal"), policy).reason == "it is a value goal"
    assert read_pushback(reply("csi-coach: wrong x"), policy) is None
    assert read_pushback(reply("csi-coach: not applicable x"), policy) is None


def test_coached_rules_are_the_findings_above_info():
    assert coached_rules(PROC) == ("process-only",)


def past(v, kind="post", days_ago=1):
    return PastComment(v.digest(), kind, "c1", NOW - timedelta(days=days_ago))


def test_an_unacknowledged_dispute_is_acknowledged_once():
    h = History((past(PROC),), disputed=frozenset({"process-only"}), dispute_unacknowledged=True)
    action = decide(RECORD, PROC, h, POLICY, NOW, True)
    assert action.kind is ActionKind.ACKNOWLEDGE_DISPUTE and action.writes
    assert action.marker.endswith("-ack") and action.ledger_kind == "ack"


def test_a_disputed_finding_is_never_coached_again():
    for comments in [(past(PROC),), (past(PROC), past(PROC, "ack")), (past(PROC, days_ago=400), past(PROC, "ack", 399))]:
        h = History(comments, disputed=frozenset({"process-only"}))
        action = decide(RECORD, PROC, h, POLICY, NOW, True)
        assert action.kind is ActionKind.NONE and "disputed" in action.reason


def test_a_dispute_of_the_whole_comment_stops_coaching():
    h = History((past(PROC), past(PROC, "ack")), disputed=frozenset({"*"}))
    assert decide(RECORD, TWO, h, POLICY, NOW, True).kind is ActionKind.NONE


def test_a_new_finding_is_coached_without_the_disputed_one():
    h = History((past(PROC, days_ago=60), past(PROC, "ack", 59)), disputed=frozenset({"process-only"}))
    action = decide(RECORD, TWO, h, POLICY, NOW, False)
    assert action.kind is ActionKind.POST
    assert action.verdict is not None
    assert [f.rule for f in action.verdict.findings] == ["no-consumer"]
    assert action.digest == action.verdict.digest() != TWO.digest()


def test_skips_still_come_first():
    closed = Record(source="snow", key="k1", number="CIM1", url="", title="t", state="Closed")
    h = History((past(PROC),), disputed=frozenset({"process-only"}), dispute_unacknowledged=True)
    assert decide(closed, PROC, h, POLICY, NOW, True).kind is ActionKind.SKIP


def test_without_disputes_nothing_changes():
    assert decide(RECORD, PROC, History((past(PROC),)), POLICY, NOW, True).kind is ActionKind.NONE
    assert decide(RECORD, PROC, History(), POLICY, NOW, True).kind is ActionKind.POST


@pytest.mark.parametrize("target", ["servicenow", "jira"])
def test_the_keywords_a_comment_offers_are_read_back_when_an_owner_copies_them(target):
    import re

    from csi_coach import render
    from csi_coach.model import marker_for

    policy = CommentPolicy(dispute_keywords=("csi-coach: wrong", "#wrong"), not_applicable_keywords=("n/a-please",))
    renderer = render.Renderer(dispute_keywords=policy.dispute_keywords,
                               not_applicable_keywords=policy.not_applicable_keywords)
    body = renderer.comment(target, RECORD, PROC, marker_for(PROC.digest()))
    line = next(ln for ln in body.splitlines() if ln.startswith("Not useful here?"))
    shown = re.sub(r"\\(.)", r"\1", line)  # as Jira shows its escapes; the invisible breaks stay
    offered = re.findall(r'"([^"]+)"', shown)[:2]
    assert [o.replace("\u200b", "") for o in offered] == ["csi-coach: wrong", "n/a-please"]
    got = [read_pushback(reply(f"{o} it is an audit"), policy) for o in offered]
    assert [(p.kind, p.reason) for p in got if p] == [("wrong", "it is an audit"), ("not_applicable", "it is an audit")]


def test_a_comment_offers_no_reply_when_no_keyword_is_configured():
    from csi_coach import render
    from csi_coach.model import marker_for

    body = render.Renderer(dispute_keywords=(), not_applicable_keywords=()).comment(
        "servicenow", RECORD, PROC, marker_for(PROC.digest()))
    assert "Reply" not in body and 'Add the label "csi-coach-skip"' in body
