"""Issue 13, findings 6, 7, 8 and 11: what a server's answer cannot do to the bot.

- 6: a slow drip (a byte at a time, each inside the read timeout) ends at the request's
  total deadline, in the headers or in the body, and is not retried;
- 7: a body that does not decode (JSON nested too deep for the parser, not UTF-8, too big
  to decode) is an error of the error tree, never a RecursionError;
- 8: a body over max_response_bytes is refused (a declared length unread, a streamed one
  as soon as it passes the limit), and record fields are cut to max_field_chars, said in
  ``Record.truncated`` and in explain's output;
- 11: a certificate that does not verify fails at once, plainly, and is not retried.

Real servers on 127.0.0.1 (tests/support/hostile_server.py) wherever timing or sockets matter.
"""

from __future__ import annotations

import http.server
import io
import json
import logging
import random
import ssl
import threading
import time
from dataclasses import replace

import pytest
import requests

from csi_coach.commands.explain import _print_text, explain
from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.connectors.servicenow.connector import ServiceNowConnector
from csi_coach.connectors.tls import pin_verify
from csi_coach.connectors.transport import CheckedResponse, Limiters, RetryPolicy, build_session, decode_json
from csi_coach.errors import (
    AmbiguousWrite,
    AnswerTooLarge,
    AuthError,
    BadRequest,
    CertificateFailed,
    CoachError,
    TransientError,
)
from csi_coach.model import Record
from support import jira as jira_support
from support import servicenow as sn
from support.hostile_server import Call, HostileServer

FAST = RetryPolicy(attempts=5, backoff_base=0.0, backoff_cap=0.0)
NESTED = ('{"result": ' + "[" * 100_000 + "]" * 100_000 + "}").encode()
TABLE = "/api/now/table/sn_cim_register"


def session(url: str, **kw):
    kw.setdefault("policy", FAST)
    return build_session(url, limiters=Limiters(), rng=random.Random(1), **kw)


def sn_connector(monkeypatch, url: str, method: str = "basic", **changes) -> ServiceNowConnector:
    for k, v in sn.ENV.items():
        monkeypatch.setenv(k, v)
    return ServiceNowConnector.open(sn.settings(method, url=url, **changes), limiters=Limiters(), policy=FAST)


def sn_item(description: str) -> dict:
    item = sn.record_item(1, "2026-01-05 10:00:00")
    item["description"] = {"display_value": description, "value": description}
    return item


# --------------------------------------------------------------------------- 6: deadline


def test_a_body_dripped_inside_the_read_timeout_ends_at_the_deadline():
    with HostileServer(lambda call: call.drip(b'{"result": []}' * 4, every=0.2)) as server:
        started = time.monotonic()
        with pytest.raises(TransientError) as exc:
            session(server.url, timeout=1.0, deadline=1.5).get(server.url + TABLE)
        elapsed = time.monotonic() - started
        assert len(server.seen) == 1  # not retried: each try would cost the whole deadline again
    assert elapsed < 3.0, elapsed  # the drip alone would take 11 s
    assert "request_deadline_seconds" in str(exc.value) and "1.5 s" in str(exc.value)
    assert not isinstance(exc.value, AmbiguousWrite)


def test_headers_dripped_inside_the_read_timeout_end_at_the_deadline_too():
    with HostileServer(lambda call: call.drip(b'{"result": []}', every=0.2, headers_too=True)) as server:
        started = time.monotonic()
        with pytest.raises(TransientError, match="request_deadline_seconds"):
            session(server.url, timeout=1.0, deadline=1.5).get(server.url + TABLE)
        assert time.monotonic() - started < 3.0
        assert len(server.seen) == 1


def test_without_a_deadline_the_read_timeout_alone_lets_a_drip_run_on():
    """What the deadline is for: each byte comes within the 1 s timeout, so 2.4 s pass."""
    with HostileServer(lambda call: call.drip(b'{"a": 12}', every=0.3)) as server:
        started = time.monotonic()
        resp = session(server.url, timeout=1.0, deadline=None).get(server.url + TABLE)
    assert resp.json() == {"a": 12} and time.monotonic() - started > 2.0


def test_a_write_cut_off_by_its_deadline_is_ambiguous():
    with HostileServer(lambda call: call.drip(b'{"result": {}}' * 4, every=0.2)) as server:
        with pytest.raises(AmbiguousWrite, match="request_deadline_seconds"):
            session(server.url, timeout=1.0, deadline=1.0).patch(server.url + TABLE + "/x", json={"work_notes": "n"})
        assert len(server.seen) == 1


def test_a_fast_answer_is_untouched_by_the_deadline_and_the_connection_is_reused():
    with HostileServer(lambda call: call.reply(200, {"result": [1]})) as server:
        s = session(server.url, timeout=1.0, deadline=0.5)
        for _ in range(3):
            assert s.get(server.url + TABLE).json() == {"result": [1]}
        time.sleep(0.7)  # past every deadline armed above: none may fire late
        assert s.get(server.url + TABLE).json() == {"result": [1]}


def test_the_servicenow_source_gets_its_deadline_from_the_settings(monkeypatch):
    with HostileServer(lambda call: call.drip(b'{"result": []}' * 4, every=0.2)) as server:
        conn = sn_connector(monkeypatch, server.url, timeout_seconds=1.0, request_deadline_seconds=1.0)
        with conn, pytest.raises(TransientError, match="request_deadline_seconds"):
            list(conn.fetch(None))


# --------------------------------------------------------------------------- 7: decoding


def test_json_nested_too_deep_is_a_servicenow_source_error(monkeypatch):
    with HostileServer(lambda call: call.reply(200, NESTED)) as server:
        with sn_connector(monkeypatch, server.url) as conn, pytest.raises(TransientError) as exc:
            list(conn.fetch(None))
    assert "nested too deeply" in str(exc.value)


def test_json_nested_too_deep_is_a_jira_source_error(monkeypatch):
    def answer(call: Call) -> None:
        if call.route.endswith("/myself"):
            call.reply(200, jira_support.load("myself_cloud.json"))
        else:
            call.reply(200, NESTED)

    jira_support.set_secrets(monkeypatch)
    with HostileServer(answer) as server:
        conn = JiraConnector.open(jira_support.settings("cloud", url=server.url), limiters=Limiters(), policy=FAST)
        with pytest.raises(TransientError, match="nested too deeply"):
            list(conn.fetch(None))


def test_nested_json_from_the_oauth_token_endpoint_is_an_auth_error(monkeypatch):
    with HostileServer(lambda call: call.reply(200, NESTED)) as server:
        with sn_connector(monkeypatch, server.url, "oauth_client_credentials") as conn, \
                pytest.raises(AuthError, match="without an access_token"):
            list(conn.fetch(None))


def test_a_nested_error_body_still_gives_the_status_error(monkeypatch):
    with HostileServer(lambda call: call.reply(400, NESTED)) as server:
        with sn_connector(monkeypatch, server.url) as conn, pytest.raises(BadRequest):
            list(conn.fetch(None))


def test_a_body_that_is_not_utf8_is_a_source_error(monkeypatch):
    with HostileServer(lambda call: call.reply(200, b'{"result": ["\xff\xfe\xfa"]')) as server:
        with sn_connector(monkeypatch, server.url) as conn, pytest.raises(TransientError):
            list(conn.fetch(None))


def test_json_fails_only_with_value_error(monkeypatch):
    resp = CheckedResponse()
    resp._content, resp.status_code, resp.encoding = NESTED, 200, "utf-8"
    with pytest.raises(ValueError, match="nested too deeply"):
        resp.json()

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(json, "loads", out_of_memory)
    with pytest.raises(ValueError, match="too large to decode"):
        decode_json(b"{}")


# --------------------------------------------------------------------------- 8: sizes


def big_parts(total: int):
    block = b"x" * 65536
    yield b'{"result": [{"description": "'
    sent = 0
    while sent < total:
        yield block
        sent += len(block)


def test_a_declared_length_over_the_limit_is_refused_unread():
    with HostileServer(lambda call: call.stream(big_parts(50 << 20), 50 << 20)) as server:
        with pytest.raises(AnswerTooLarge) as exc:
            session(server.url, max_response_bytes=1 << 20).get(server.url + TABLE)
        assert len(server.seen) == 1
    text = str(exc.value)
    assert "max_response_bytes" in text and "1,048,576" in text and f"{50 << 20:,}" in text


def test_a_body_without_a_length_is_cut_at_the_limit():
    with HostileServer(lambda call: call.stream(big_parts(200 << 20), None)) as server:
        started = time.monotonic()
        with pytest.raises(AnswerTooLarge, match="more than 1,048,576 bytes"):
            session(server.url, max_response_bytes=1 << 20).get(server.url + TABLE)
    assert time.monotonic() - started < 10  # stopped at the limit, not after 200 MB


def test_a_write_answered_with_too_much_is_ambiguous():
    with HostileServer(lambda call: call.stream(big_parts(4 << 20), None)) as server:
        with pytest.raises(AmbiguousWrite, match="max_response_bytes"):
            session(server.url, max_response_bytes=1 << 20).patch(server.url + TABLE + "/x", json={"a": 1})


def test_the_servicenow_source_gets_its_size_limit_from_the_settings(monkeypatch):
    with HostileServer(lambda call: call.stream(big_parts(4 << 20), None)) as server:
        conn = sn_connector(monkeypatch, server.url, max_response_bytes=1 << 20)
        with conn, pytest.raises(AnswerTooLarge, match="max_response_bytes"):
            list(conn.fetch(None))


def test_a_servicenow_field_over_max_field_chars_is_cut_and_said(monkeypatch, caplog):
    page = {"result": [sn_item("word " * 60_000)]}
    with HostileServer(lambda call: call.reply(200, page, headers={"X-Total-Count": "1"})) as server:
        with sn_connector(monkeypatch, server.url, max_field_chars=100_000) as conn:
            caplog.set_level(logging.WARNING)
            [record] = list(conn.fetch(None))
    assert isinstance(record, Record)
    assert len(record.description) == 100_000 and record.truncated == ("description",)
    assert len(record.raw["description"]["display_value"]) == 100_000  # the raw copy too
    assert any("description cut to 100000 characters (max_field_chars)" in r.getMessage() for r in caplog.records)


def test_a_jira_field_over_max_field_chars_is_cut(monkeypatch):
    page = jira_support.load("search_jql_page3.json")
    issue = page["issues"][0]
    page = {**page, "issues": [{**issue, "fields": {**issue["fields"], "summary": "s" * 5000}}]}
    page.pop("nextPageToken", None)

    def answer(call: Call) -> None:
        if call.route.endswith("/myself"):
            call.reply(200, jira_support.load("myself_cloud.json"))
        else:
            call.reply(200, page)

    jira_support.set_secrets(monkeypatch)
    with HostileServer(answer) as server:
        settings = jira_support.settings("cloud", url=server.url, max_field_chars=1000)
        conn = JiraConnector.open(settings, limiters=Limiters(), policy=FAST)
        records = [r for r in conn.fetch(None) if isinstance(r, Record)]
    assert records and records[0].title == "s" * 1000 and "title" in records[0].truncated


def test_capped_names_each_cut_field_and_leaves_short_records_alone():
    short = Record(source="s", key="k", number="N1", url="", title="a title", description="short")
    assert short.capped(1000) is short
    long = replace(short, goal="g" * 1500, labels=("l" * 1200, "ok"), raw={"u_x": {"value": "v" * 2000}})
    cut = long.capped(1000)
    assert cut.truncated == ("goal", "labels")
    assert len(cut.goal) == 1000 and cut.labels == ("l" * 1000, "ok")
    assert cut.raw == {"u_x": {"value": "v" * 1000}} and long.raw["u_x"]["value"] == "v" * 2000


def test_explain_says_which_fields_were_cut():
    record = Record(source="snow", key="k", number="CIM1", url="", title="t",
                    goal="Customers order online without calling us. " * 10).capped(100)
    result = explain(record, config=None, rules_spec="default", target="servicenow")
    assert result["record"]["truncated"] == ["goal"]
    out = io.StringIO()
    _print_text(result, out)
    assert "Truncated   goal" in out.getvalue()


# --------------------------------------------------------------------------- 11: TLS


class CountingTlsServer(http.server.ThreadingHTTPServer):
    """HTTPS on 127.0.0.1 with a certificate from a throwaway CA; counts connection attempts."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                body = b'{"result": []}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        super().__init__(("127.0.0.1", 0), Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.attempts = 0

    def get_request(self):
        self.attempts += 1
        return super().get_request()


@pytest.fixture
def tls_server():
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = CountingTlsServer(context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with ca.cert_pem.tempfile() as bundle:
        yield server, f"https://127.0.0.1:{server.server_address[1]}", bundle
    server.shutdown()
    server.server_close()


def test_a_certificate_that_does_not_verify_fails_plainly_and_is_not_retried(tls_server):
    server, url, _bundle = tls_server
    with pytest.raises(CertificateFailed) as exc:
        session(url).get(url + TABLE)  # the system's CAs do not know the throwaway one
    text = str(exc.value)
    assert text.count("certificate verify failed for 127.0.0.1:") == 1, text
    assert "ca_bundle" in text
    assert server.attempts == 1  # policy allows 5 tries; a certificate does not fix itself


def test_verify_takes_a_ca_bundle_path(tls_server):
    _server, url, bundle = tls_server
    pinned = pin_verify(session(url, verify=bundle), bundle)  # as the connectors open it (REQUESTS_CA_BUNDLE)
    assert pinned.get(url + TABLE).json() == {"result": []}


def test_other_failures_to_connect_are_still_retried():
    with HostileServer(lambda call: None) as server:  # answers nothing: the connection just closes
        s = session(server.url, policy=RetryPolicy(attempts=3, backoff_base=0.0, backoff_cap=0.0))
        with pytest.raises(TransientError, match="after 3 tries") as exc:
            s.get(server.url + TABLE)
        assert not isinstance(exc.value, CertificateFailed) and len(server.seen) == 3
    assert isinstance(exc.value, CoachError)


def test_requests_alone_would_read_the_whole_stream():
    """The limit is the adapter's: a plain session reads past 1 MB (so the tests above can fail)."""
    with HostileServer(lambda call: call.stream(big_parts(2 << 20), None)) as server:
        assert len(requests.get(server.url + TABLE, timeout=5).content) > 2 << 20
