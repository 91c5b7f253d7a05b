"""rules.document: a record read as plain text, whatever markup it arrived in."""

from __future__ import annotations

from csi_coach.model import Record
from csi_coach.rules.document import plain_text, read_record


def test_plain_text_is_returned_as_it_is():
    text = "Patients book appointments online at any hour.\nNo more calls at 8 am."
    assert plain_text(text) is text


def test_html_blocks_headings_lists_and_entities():
    html = ("<p><b>Owner:</b> Facilities&nbsp;IT</p><h3>Expected outcomes</h3>"
            "<ul><li>Tenants book a repair in one visit</li><li>Fewer call-backs &amp; no lost forms</li></ul>")
    # "Owner: ..." is ticket metadata: a name, not the author's words about the change.
    assert plain_text(html) == ("Expected outcomes:\n- Tenants book a repair in one visit\n"
                                "- Fewer call-backs & no lost forms")


def test_html_table_rows_become_one_line_of_cells():
    html = ("<table><tr><th>KPI</th><th>Baseline</th><th>Target</th></tr>"
            "<tr><td>Renewals online</td><td>41%</td><td>80%</td></tr></table>")
    assert plain_text(html) == "KPI | Baseline | Target\nRenewals online | 41% | 80%"


def test_jira_wiki_headings_tables_macros_links_and_bold():
    wiki = ("h2. Measuring success\n||Measure||Baseline||Target||\n|abandoned bookings|22%|10%|\n"
            "{quote}see [the runbook|https://wiki/x] by [~jsmith]{quote}\n* *Owner*: platform")
    assert plain_text(wiki) == ("Measuring success:\nMeasure | Baseline | Target\nabandoned bookings | 22% | 10%\n"
                                "see the runbook by jsmith\n- Owner: platform")


def test_markdown_headings_checklists_and_pipe_tables():
    md = "## Key results\n| KPI | Now | Target |\n|---|---|---|\n| NPS | 12 | 30 |\n- [ ] ship the form\n- [x] **agree** scope"
    assert plain_text(md) == "Key results:\nKPI | Now | Target\nNPS | 12 | 30\n- ship the form\n- agree scope"


def test_email_headers_signatures_and_footers_go_quoted_text_stays():
    mail = ("From: Head of Membership\nSent: 12 May 09:14\nTo: Digital\nSubject: renewals\n\n"
            "Renewal rate fell from 84% to 81%. I'd like it back to 88%.\n\nKind regards,\nAnnie\nMembership Lead\n"
            "Sent from my iPhone\n> Digital: we can add a card-expiry reminder.\n"
            "This email and any attachments are confidential and intended for the addressee only.")
    assert plain_text(mail) == ("Renewal rate fell from 84% to 81%. I'd like it back to 88%.\n\n"
                                "Digital: we can add a card-expiry reminder.")


def test_a_mails_sign_off_without_a_closing_goes_and_a_title_case_sentence_stays():
    head = "From: Box Office Manager\nTo: Service Improvement\nSubject: CSAT\n\nGoal: ticket CSAT back above 4.2.\n\n"
    assert plain_text(head + "Megan\nBox Office Manager") == "Goal: ticket CSAT back above 4.2."
    assert plain_text(head + "Ops Control Duty Manager\n") == "Goal: ticket CSAT back above 4.2."
    assert plain_text(head + "R. Singh\nVP Sales") == "Goal: ticket CSAT back above 4.2."
    # Not a sign-off: a sentence, a line of four or more words naming no job, more than
    # three lines, or the mail's only paragraph.
    for kept in ("Thanks for looking.", "Customers Wait Too Long", "A\nB\nC\nD"):
        assert plain_text(head + kept).endswith(kept)
    assert plain_text("From: A\nTo: B\n\nMegan") == "Megan"
    # Outside a mail, a name on the last line is left alone.
    assert plain_text("h3. Goal\nfewer adjourned hearings\n\nMegan") == "Goal:\nfewer adjourned hearings\n\nMegan"


def test_a_line_after_a_closing_that_states_something_is_kept():
    assert plain_text("From: A\nThanks,\nGoal: no tenant waits a week") == "Goal: no tenant waits a week"


def test_read_record_returns_the_same_record_when_nothing_is_marked_up():
    plain = Record(source="s", key="k", number="n", url="", title="Plain", description="No markup here.")
    assert read_record(plain) is plain
    marked = Record(source="s", key="k", number="n", url="", title="T", description="<p>Hi</p>", goal="h3. Goal")
    read = read_record(marked)
    assert (read.description, read.goal, read.title) == ("Hi", "Goal:", "T")


def test_a_user_story_written_a_part_a_line_is_read_as_one_sentence():
    record = Record(source="jira", key="K-1", number="K-1", url="", title="Stream start",
                    description="As a listener opening the app in the car\nI want the stream to start in under 2 s\n"
                                "so that I don't switch to another station.\n\nNotes:\nso far two complaints")
    read = read_record(record)
    assert read.description == ("As a listener opening the app in the car I want the stream to start in under 2 s "
                                "so that I don't switch to another station.\n\nNotes:\nso far two complaints")
    # A record with no story part at the start of a line is left as it came.
    plain = Record(source="jira", key="K-2", number="K-2", url="", title="t", description="Cut MTTR.\nSo what?")
    assert read_record(plain) is plain


def test_a_consumer_story_split_over_lines_names_value_and_a_providers_does_not():
    from csi_coach import rules

    ruleset = rules.load_ruleset("default")

    def category(description: str) -> str:
        record = Record(source="jira", key="K-3", number="K-3", url="", title="Garden waste renewals",
                        description=description)
        return rules.evaluate(record, ruleset).category.value

    assert category("As a resident who pays for garden waste collection\nI want to renew online with my saved card\n"
                    "so that I don't miss collections in spring.") == "value"
    assert category("As a support analyst\nI want renewals auto-assigned\nso that I close tickets faster.") != "value"


def test_a_mail_address_in_angle_brackets_is_not_html_and_the_mail_keeps_its_text():
    # Read as an <a> tag, the address made the whole mail HTML: its line breaks went,
    # the one long line opened with "From:" and was dropped as a header, text and all.
    mail = ("From: Aoife Brennan <a.brennan@example.org>\nSent: 12 May 09:14\nTo: Account Mgmt\n\n"
            "Hi Tom,\nIf we can't get that below 1% by renewal we'll move the volume.\n")
    assert plain_text(mail) == "Hi Tom,\nIf we can't get that below 1% by renewal we'll move the volume."
    assert plain_text("<p>Hello<br/>world</p><a href='x'>link</a>") == "Hello\nworld\nlink"


def test_html_that_runs_a_pasted_mail_into_one_line_keeps_its_text():
    html = "<p>From: Ops Desk Sent: Monday To: IT Subject: tills " + "the tills froze again at lunchtime " * 6 + "</p>"
    assert "tills froze again" in plain_text(html)


def test_a_record_read_again_is_not_parsed_again():
    # The engine, the comment's evidence and the advice each read the same record.
    from dataclasses import replace

    from csi_coach.rules import document

    rec = Record(source="s", key="k", number="n", url="", title="T", description="<p>Goal: <b>patients</b> wait less</p>")
    first = document.read_record(rec)
    assert first.description == "Goal: patients wait less"
    calls = []
    real = document._read
    document._read = lambda r: calls.append(r) or real(r)
    try:
        assert document.read_record(rec) is first and calls == []
        other = replace(rec, description="<p>Goal: staff wait less</p>")  # another object: read afresh
        assert document.read_record(other).description == "Goal: staff wait less" and calls == [other]
    finally:
        document._read = real


def test_a_form_laid_out_as_a_table_reads_its_labels_as_headings():
    html = ("<table><tr><th>Field</th><th>Value</th></tr>"
            "<tr><td>Target state</td><td>99.5% completeness</td></tr>"
            "<tr><td>Expected outcome</td><td>Energy team keeps the levy discount</td></tr>"
            "<tr><td>Abandonment</td><td>71%</td><td>60%</td></tr></table>")
    assert plain_text(html).splitlines() == [
        "Field | Value", "Target state | 99.5% completeness", "Expected outcome: Energy team keeps the levy discount",
        "Abandonment | 71% | 60%"]
    wiki = "||Item||Detail||\n|Why|each missed month triggers a service credit|\n|Measure 2|4 h|"
    assert plain_text(wiki).splitlines() == [
        "Item | Detail", "Why: each missed month triggers a service credit", "Measure 2 | 4 h"]


def test_a_wiki_panels_title_heads_what_is_in_it():
    text = ("h2. Problem\nOverruns reach the feeds late.\n{panel:title=Benefit}Freight operators re-route instead of "
            "queueing.{panel}\n{info:title=Impact|icon=false}\nStores lose sales{info}\n{panel}no title{panel}")
    assert plain_text(text).splitlines() == [
        "Problem:", "Overruns reach the feeds late.", "Benefit: Freight operators re-route instead of queueing.",
        "Impact:", "Stores lose sales", "no title"]


def test_a_table_row_whose_label_reads_as_a_header_keeps_its_text():
    # "To: ..." or "Status: ..." is dropped as a mail header or ticket metadata: such a
    # row stays a row of cells, never lost.
    html = ("<table><tr><td>To</td><td>cut failed claims for members by 20%</td></tr>"
            "<tr><td>Status</td><td>waiting on the vendor for a fix</td></tr></table>")
    assert plain_text(html).splitlines() == ["To | cut failed claims for members by 20%",
                                             "Status | waiting on the vendor for a fix"]
