"""report.html shows the comments the bot wrote as their readers see them: no wiki markup."""

from __future__ import annotations

from csi_coach.render import ZWSP, escape_jira, escape_servicenow
from csi_coach.report.writer import readable_comment

TICKET_TEXT = "Cut MTTR by 20% - see [~admin] and *this*"


def test_jira_markup_is_read_as_text_and_ticket_text_comes_back_as_written():
    body = (
        "Hi Ana, a note on the goal:\n"
        "*What I found:* the goal measures the process, not what anyone gains:\n"
        f'bq. "{escape_jira(TICKET_TEXT)}"\n\n'
        f'A goal could read: _"Staff get a laptop on day one"_\n'
        "h3. Why it matters\n"
        "Not right for this record? Add the label csi\\-coach\\-skip.\n"
    )
    text = readable_comment(body, "jira")
    assert "*" not in text.replace("*this*", "") and "bq." not in text and "h3." not in text
    assert "\\" not in text and ZWSP not in text
    assert f'"{TICKET_TEXT}"' in text  # the owner's words, exactly
    assert 'What I found: the goal measures the process' in text
    assert 'A goal could read: "Staff get a laptop on day one"' in text
    assert "Add the label csi-coach-skip." in text


def test_servicenow_text_keeps_its_lines_and_loses_only_the_inert_breaks():
    quoted = escape_servicenow("[code]<b>x</b>[/code] @someone")
    body = f'The goal measures the process:\n  "{quoted}"\nOwner: keep this line\n'
    text = readable_comment(body, "servicenow")
    assert ZWSP in quoted and ZWSP not in text
    assert text == 'The goal measures the process:\n  "[code]<b>x</b>[/code] @someone"\nOwner: keep this line\n'
