"""A broken answer is not an empty answer (issue 10): a 200 whose body is empty, an HTML page or
JSON cut off is a source error on every ServiceNow read path, never "no records" and never
"gone"; only a well-formed empty result for a sys_id says a record is gone. A write answered
so may not have landed: it is ambiguous, settled by its marker, never taken as written."""

from __future__ import annotations

import pytest
import responses

from csi_coach.errors import AmbiguousWrite, TransientError
from csi_coach.model import Record
from support.servicenow import JOURNAL_URL, TABLE_URL, connector, page

SYS_ID = "0123456789abcdef0123456789abcdef"
HTML = "<!DOCTYPE html><html><head><title>Log in | ServiceNow</title></head><body>Single sign-on</body></html>"
BROKEN = {
    "empty": {"body": "", "content_type": "application/json"},
    "html": {"body": HTML, "content_type": "text/html;charset=UTF-8"},
    "html-as-json": {"body": HTML, "content_type": "application/json"},
    "truncated": {"body": '{"result": [{"sys_id": {"value": "01', "content_type": "application/json"},
}
RECORD = Record(source="snow", key=SYS_ID, number="CIM0010001", url="", title="")


def check_message(message: str, kind: str) -> None:
    if kind.startswith("html"):
        assert "the server answered with an HTML page, probably a login or proxy page, not the Table API" in message
    elif kind == "empty":
        assert "an empty body" in message
    else:
        assert "not complete JSON" in message


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_listing_page_fails_the_read(rsps, monkeypatch, kind):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, TABLE_URL, status=200, **BROKEN[kind])
    with pytest.raises(TransientError) as info:
        list(c.fetch(None))
    check_message(str(info.value), kind)


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_answer_to_a_look_up_is_not_gone(rsps, monkeypatch, kind):
    c, _ = connector(monkeypatch, query="active=true")
    rsps.add(responses.GET, TABLE_URL, status=200, **BROKEN[kind])
    with pytest.raises(TransientError):
        c.get_in_scope(SYS_ID)
    with pytest.raises(TransientError):
        c.get(SYS_ID)


def test_only_a_well_formed_empty_result_says_gone(rsps, monkeypatch):
    c, _ = connector(monkeypatch, query="active=true")
    rsps.add(responses.GET, TABLE_URL, json=page([]))
    assert c.get_in_scope(SYS_ID) is None


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_answer_to_a_comment_look_up_is_an_error_not_no_comments(rsps, monkeypatch, kind):
    c, _ = connector(monkeypatch)
    rsps.add(responses.GET, JOURNAL_URL, status=200, **BROKEN[kind])
    with pytest.raises(TransientError) as info:
        c.bot_comments(RECORD)
    check_message(str(info.value), kind)
    with pytest.raises(TransientError):
        c.marked_keys(None)


@pytest.mark.parametrize("kind", ["empty", "html"])
def test_a_write_answered_with_a_broken_body_may_not_have_landed(rsps, monkeypatch, kind):
    c, _ = connector(monkeypatch)
    rsps.add(responses.PATCH, f"{TABLE_URL}/{SYS_ID}", status=200, **BROKEN[kind])
    with pytest.raises(AmbiguousWrite):
        c.post(RECORD, "Coaching", "csi-coach:0123456789abcdef")
    assert len(rsps.calls) == 1  # never written twice
