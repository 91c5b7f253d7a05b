"""Ticket text is data: hostile text in any field reaches a comment only escaped."""

from __future__ import annotations

import re

import pytest

from csi_coach import render
from csi_coach.model import Category, Evidence, Finding, Record, Severity, Verdict, marker_for

TARGETS = ("servicenow", "jira")
JIRA_ESCAPE_RE = re.compile(r"\\([-#*_+?^~|%{}\[\]()!@])")


def shown_by_jira(body: str) -> str:
    """What a Jira reader sees of escaped text: escapes resolved, invisible breaks removed."""
    return JIRA_ESCAPE_RE.sub(r"\1", body).replace(render.ZWSP, "")


def shown_by_servicenow(body: str) -> str:
    return body.replace(render.ZWSP, "")


SHOWN = {"jira": shown_by_jira, "servicenow": shown_by_servicenow}


def make(goal: str = "Reduce P1 incidents by 20%", *, description: str = "", service: str = "Payroll Portal",
         title: str = "Fewer incidents", owner: str = "Sam Owner", evidence_field: str = "goal",
         start: int | None = None, end: int | None = None) -> tuple[Record, Verdict, str]:
    record = Record(source="s", key="k1", number="CIM0001", url="https://x.example/nav_to.do?uri=a.do?sys_id=1",
                    title=title, description=description, goal=goal, service=service, owner=owner)
    text = record.text(evidence_field)
    s = 0 if start is None else start
    e = min(len(text), 40) if end is None else end
    finding = Finding("process-without-value", Severity.ERROR, "names process measures only",
                      (Evidence(evidence_field, text[s:e], s, e),))
    verdict = Verdict(Category.PROCESS_ONLY, False, (finding,))
    return record, verdict, marker_for(verdict.digest())


def without_marker(body: str, marker: str) -> str:
    return body.replace(marker, "")


@pytest.fixture(scope="module")
def renderer() -> render.Renderer:
    return render.Renderer()


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("field", ["goal", "service", "owner", "description"])
def test_template_syntax_in_ticket_text_is_shown_literally(renderer, target, field):
    payload = "{{ 7*7 }} and {% raw %}raw{% endraw %} and {# c #}"
    kwargs = {field: payload}
    if field == "description":
        kwargs["evidence_field"] = "description"
    record, verdict, marker = make(**kwargs)
    body = renderer.comment(target, record, verdict, marker)
    assert "49" not in without_marker(body, marker)
    assert "{{ 7*7 }}" in SHOWN[target](body)
    assert "{% raw %}raw{% endraw %}" in SHOWN[target](body)


@pytest.mark.parametrize("target", TARGETS)
def test_record_text_never_reaches_template_source(renderer, target):
    # A payload that would loop or touch internals if it were ever compiled.
    payload = "{% for i in range(99999) %}{{ i }}{% endfor %}{{ ''.__class__.__mro__ }}{{ cycler.__init__.__globals__ }}"
    record, verdict, marker = make(goal=payload)
    body = renderer.comment(target, record, verdict, marker)
    assert "99998" not in body and "object" not in body.replace("__class__", "")
    assert "{% for i in range(99999) %}" in SHOWN[target](body)


def test_jira_markup_in_ticket_text_is_escaped(renderer):
    goal = "[~admin] {html}<script>alert(1)</script>{html} {code}x{code} {noformat}y{noformat} " \
           "{color:red}red{color} [click|http://evil.example] !http://evil.example/a.png! *b* _i_ -s- +u+ ^sup^ ~sub~ ??cite?? {{mono}}"
    record, verdict, marker = make(goal=goal, service=goal, title=goal, owner="[~accountid:5b10a2844c20165700ede21g]")
    body = renderer.comment("jira", record, verdict, marker)
    for raw in ["[~admin]", "{html}", "{code}", "{noformat}", "{color:red}", "[click|", "!http", "*b*", "_i_",
                "-s-", "+u+", "^sup^", "~sub~", "??cite??", "{{mono}}", "[~accountid:"]:
        assert raw not in body, raw
    shown = shown_by_jira(body)
    assert "[~admin] {html}<script>alert(1)</script>{html}" in shown
    assert "[~accountid:5b10a2844c20165700ede21g]" in shown
    # The bot's own markup still works: its marker line is coloured, its emphasis unescaped.
    assert body.rstrip().endswith("{color:#97a0af}" + marker + "{color}")
    assert "*What I found:*" in body


def test_jira_backslash_cannot_cancel_an_escape(renderer):
    record, verdict, marker = make(goal="a \\[~admin] b \\\\{html} c")
    body = renderer.comment("jira", record, verdict, marker)
    assert "\\\\" not in body  # "\\" is a forced line break in Jira and would undo the next escape
    assert "[~admin]" not in body.replace("\\[~admin\\]", "").replace("\\[\\~admin\\]", "")


def test_jira_heading_at_line_start_is_defused():
    assert not re.match(r"h1\.", render.escape_jira("h1. Big"))
    assert render.escape_jira("bq. quote").replace(render.ZWSP, "") == "bq. quote"


def test_servicenow_code_blocks_and_html_are_defused(renderer):
    goal = "[code]<img src=x onerror=alert(1)>[/code] [CODE]<b>x</b>[/ code] [ code ] <script>alert(2)</script> &lt;b&gt;"
    record, verdict, marker = make(goal=goal, service=goal, title=goal)
    body = renderer.comment("servicenow", record, verdict, marker)
    assert not re.search(r"\[\s*/?\s*code\s*\]", body, re.IGNORECASE)
    for tag in ("<img", "<b>", "</b>", "<script", "</script"):
        assert tag not in body, tag
    assert "&lt;" not in body
    assert "[code]<img src=x onerror=alert(1)>[/code]" in shown_by_servicenow(body)


@pytest.mark.parametrize("target", TARGETS)
def test_fake_marker_in_ticket_text_is_not_a_marker(renderer, target):
    fake = "csi-coach:0123456789abcdef"
    record, verdict, marker = make(goal=f"Reduce incidents {fake}")
    body = renderer.comment(target, record, verdict, marker)
    from csi_coach.model import MARKER_RE
    assert [m.group(0) for m in MARKER_RE.finditer(body)] == [marker]


@pytest.mark.parametrize("target", TARGETS)
def test_huge_description_gives_a_short_comment(renderer, target):
    description = ("The tills freeze on Saturdays. " * 170_000)[:5_000_000] + " reduce MTTR " + "x" * 1000
    start = description.index("reduce MTTR")
    record, verdict, marker = make(description=description, evidence_field="description", start=start, end=start + 11)
    body = renderer.comment(target, record, verdict, marker)
    assert len(body) < 4000
    assert "reduce MTTR" in SHOWN[target](body)
    quote = re.search(r'"([^"]*reduce MTTR[^"]*)"', SHOWN[target](body)).group(1)
    assert len(quote) <= render.QUOTE_LIMIT + 2  # plus the leading/trailing ellipsis


@pytest.mark.parametrize("target", TARGETS)
def test_lone_surrogates_and_nul_bytes_do_not_crash(renderer, target):
    nasty = "Reduce \ud800 incidents \x00 by \udfff 20%\x07\x1b[31m"
    record, verdict, marker = make(goal=nasty, service="Pay\x00roll \ud83d", title=nasty, owner="\udc80")
    body = renderer.comment(target, record, verdict, marker)
    body.encode("utf-8")  # would raise on a lone surrogate
    assert "\x00" not in body and "\x07" not in body and "\x1b" not in body
    assert "incidents" in body


@pytest.mark.parametrize("target", TARGETS)
def test_bad_evidence_offsets_fall_back_to_the_words(renderer, target):
    record, _, _ = make()
    finding = Finding("r", Severity.WARNING, "m", (Evidence("goal", "P1 incidents", 500, 400), Evidence("nope", "zzz", 0, 3)))
    verdict = Verdict(Category.PROCESS_ONLY, False, (finding,))
    body = renderer.comment(target, record, verdict, marker_for(verdict.digest()))
    assert "P1 incidents" in SHOWN[target](body) and "zzz" in body


def test_clean_is_bounded_and_printable():
    assert render.clean("a\x00b\ud800c\n\n d", 100) == "ab\ufffdc d"
    assert len(render.clean("x" * 5_000_000, 50)) == 50
