"""Mentions quoted from a ticket never notify anyone (issue 13, finding 4).

A ticket editor who writes a mention into a goal must not make the bot's comment page
that person on every scan. Notifying syntax, from the vendors' documentation:

- ServiceNow journals: ``@[<sys_id>:<name>]``, the form a journal stores and the API
  turns into a live_mention; the Live Feed form ``@name``.
- Jira wiki markup (the bot writes REST v2 wiki text): ``[~username]`` (Data Center)
  and ``[~accountid:<id>]`` (Cloud). The bot writes no ADF; an ADF mention node read
  from a ticket reaches the bot as its text, "@Name".

Each syntax is tried on both targets: defused where it would notify, readable on both.
"""

from __future__ import annotations

import re

import pytest

from csi_coach import render
from csi_coach.connectors.jira.mapping import adf_text
from csi_coach.model import Category, Evidence, Finding, Record, Severity, Verdict, marker_for

TARGETS = ("servicenow", "jira")
SYS_ID = "6816f79cc0a8016401c5a33be04be441"
SN_MENTION = f"@[{SYS_ID}:Abel Tuter]"
JIRA_CLOUD_MENTION = "[~accountid:5b10a2844c20165700ede21g]"
JIRA_DC_MENTION = "[~jsmith]"
JIRA_ESCAPE_RE = re.compile(r"\\([-#*_+?^~|%{}\[\]()!@])")

# What each system would read as a mention in the text the bot writes.
SN_LIVE_MENTION_RE = re.compile(r"@\s*\[[^\]]*:[^\]]*\]")  # @[sys_id:name], spaces allowed
SN_FEED_MENTION_RE = re.compile(r"(?<![\w.+-])@\w")  # @name
JIRA_LIVE_MENTION_RE = re.compile(r"(?<!\\)\[~")  # [~ not escaped
JIRA_SPLIT_MENTION_RE = re.compile(r"\[\\?~")  # [~ or [\~ side by side: an escape is all that guards it


def shown_by(target: str, body: str) -> str:
    """What a reader sees: Jira's escapes resolved; invisible breaks are invisible."""
    if target == "jira":
        body = JIRA_ESCAPE_RE.sub(r"\1", body)
    return body.replace(render.ZWSP, "")


def notifies(target: str, body: str) -> list[str]:
    """The mentions ``body`` holds for ``target``'s renderer."""
    if target == "servicenow":
        return SN_LIVE_MENTION_RE.findall(body) + SN_FEED_MENTION_RE.findall(body)
    return JIRA_LIVE_MENTION_RE.findall(body) + JIRA_SPLIT_MENTION_RE.findall(body)


def comment(renderer: render.Renderer, target: str, goal: str, **fields: str) -> str:
    record = Record(source="s", key="k1", number="CIM0001", url="https://x.example/r/1",
                    title="Fewer incidents", description="", goal=goal, service=fields.get("service", "Payroll"),
                    owner=fields.get("owner", "Sam Owner"))
    i = goal.index("MTTR")
    finding = Finding("process-without-value", Severity.ERROR, "names process measures only",
                      (Evidence("goal", "MTTR", i, i + 4),))
    verdict = Verdict(Category.PROCESS_ONLY, False, (finding,))
    return renderer.comment(target, record, verdict, marker_for(verdict.digest()))


@pytest.fixture(scope="module")
def renderer() -> render.Renderer:
    return render.Renderer()


MENTIONS = {
    "servicenow journal": SN_MENTION,
    "servicenow journal, spaced": f"@ [{SYS_ID}:Abel Tuter]",
    "servicenow live feed": "@abel.tuter",
    "jira cloud": JIRA_CLOUD_MENTION,
    "jira cloud, capitalised": "[~accountId:5b10a2844c20165700ede21g]",
    "jira data center": JIRA_DC_MENTION,
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("syntax", list(MENTIONS))
def test_a_quoted_mention_notifies_no_one_and_reads_as_written(renderer, target, syntax):
    mention = MENTIONS[syntax]
    goal = f"Cut MTTR for payroll tickets to 4 hours, as {mention} asked in the review."
    body = comment(renderer, target, goal)
    assert notifies(target, body) == []
    assert goal in shown_by(target, body)  # the quote is the owner's words, unchanged to the eye


@pytest.mark.parametrize("target", TARGETS)
def test_mentions_in_every_quoted_field_are_defused(renderer, target):
    everything = f"{SN_MENTION} {JIRA_CLOUD_MENTION} {JIRA_DC_MENTION} @abel"
    body = comment(renderer, target, f"Cut MTTR to 4 hours. {everything}", service=f"Payroll {everything}",
                   owner=f"Sam {everything}")
    assert notifies(target, body) == []
    assert f"Hi Sam {everything}," in shown_by(target, body)  # the greeting: the owner field as written


def test_servicenow_mention_split_across_two_values_is_defused(tmp_path, renderer):
    # An admin template may print two values side by side: "...@" then "[sys_id:name]...".
    (tmp_path / "servicenow").mkdir()
    (tmp_path / "servicenow" / "comment.j2").write_text("{{ record.service }}{{ record.goal }} {{ marker }}\n")
    admin = render.Renderer(tmp_path)
    body = comment(admin, "servicenow", f"[{SYS_ID}:Abel Tuter] MTTR", service="Payroll @")
    assert notifies("servicenow", body) == []
    assert f"Payroll @[{SYS_ID}:Abel Tuter] MTTR" in shown_by("servicenow", body)


def test_email_addresses_are_left_exactly_as_written():
    text = "Mail ops@example.com or first.last+csi@example.org"
    assert render.escape_servicenow(text) == text


def test_an_adf_mention_read_from_a_ticket_is_text_on_both_targets(renderer):
    doc = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "Cut MTTR to 4 hours, as "},
        {"type": "mention", "attrs": {"id": "5b10a2844c20165700ede21g", "text": "@Abel Tuter"}},
        {"type": "text", "text": " asked."},
    ]}]}
    goal = adf_text(doc)
    assert goal == "Cut MTTR to 4 hours, as @Abel Tuter asked."
    for target in TARGETS:
        body = comment(renderer, target, goal)
        assert notifies(target, body) == [], target
        assert goal in shown_by(target, body), target


@pytest.mark.parametrize("target", TARGETS)
def test_the_templates_own_text_is_left_as_written(tmp_path, target):
    # Only values are defused: a mention the admin writes in a template is theirs to make.
    own = {"servicenow": f"Questions: {SN_MENTION}", "jira": f"Questions: {JIRA_DC_MENTION}"}[target]
    (tmp_path / target).mkdir()
    (tmp_path / target / "comment.j2").write_text(own + " {{ record.goal }} {{ marker }}\n")
    body = comment(render.Renderer(tmp_path), target, f"Cut MTTR, says {SN_MENTION} {JIRA_DC_MENTION}")
    assert body.startswith(own + " ")
    assert notifies(target, body[len(own):]) == []


def test_hostile_samples_carry_both_systems_mentions():
    # check-config renders every template against these; they must include the mentions.
    assert SN_MENTION in render.HOSTILE and JIRA_CLOUD_MENTION in render.HOSTILE
