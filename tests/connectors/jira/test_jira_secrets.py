"""No secret reaches a log line or an error message, over real HTTP on 127.0.0.1.

Real sockets (not ``responses``) so urllib3's and the jira library's own DEBUG
logging run too.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from csi_coach.connectors.jira.connector import JiraConnector
from csi_coach.errors import AuthError
from csi_coach.model import Record
from support.jira import EMAIL, PAT, TOKEN, load, set_secrets, settings


class FakeJira(BaseHTTPRequestHandler):
    auth_seen: list[str] = []

    def log_message(self, *args):  # keep the server quiet
        pass

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        FakeJira.auth_seen.append(self.headers.get("Authorization", ""))
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/rest/api/2/myself":
            return self._send(200, load("myself_cloud.json"))
        if url.path == "/rest/api/2/search/jql":
            page = {None: 1, "CAEaAggD-page2": 2, "CAEaAggD-page3": 3}[q.get("nextPageToken")]
            return self._send(200, load(f"search_jql_page{page}.json"))
        if url.path == "/rest/api/2/search":
            return self._send(200, {**load("search_page3.json"), "startAt": 0, "total": 1})
        if url.path.endswith("/CSI-9/comment"):
            return self._send(401, load("error_401.json"))
        return self._send(200, {"startAt": 0, "maxResults": 100, "total": 0, "comments": []})

    def do_POST(self):
        FakeJira.auth_seen.append(self.headers.get("Authorization", ""))
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        return self._send(201, load("comment_created.json"))

    def do_PUT(self):
        FakeJira.auth_seen.append(self.headers.get("Authorization", ""))
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        return self._send(200, load("comment_created.json"))


@pytest.fixture
def server():
    FakeJira.auth_seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeJira)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("flavor,method", [("cloud", "basic"), ("server", "pat")])
def test_no_secret_in_any_log_line_or_error(server, monkeypatch, caplog, flavor, method):
    set_secrets(monkeypatch, method=method)
    for name in ("", "urllib3", "jira", "connectors", "requests"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    errors: list[str] = []
    with JiraConnector(settings(flavor, url=server, method=method), None) as jira:
        assert len(list(jira.fetch(None))) > 0
        record = Record(source="jira-test", key="CSI-1", number="CSI-1", url="", title="")
        ref = jira.post(record, "body csi-coach:0123456789abcdef", "csi-coach:0123456789abcdef")
        jira.update(ref, "body 2", "csi-coach:0123456789abcdef")
        jira.bot_comments(record)
        with pytest.raises(AuthError) as info:
            jira.bot_comments(Record(source="jira-test", key="CSI-9", number="CSI-9", url="", title=""))
        errors.append(str(info.value))
        errors.append(repr(jira.settings))

    # the secret really was sent, so the test can see it if it leaked
    secret = TOKEN if method == "basic" else PAT
    basic = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    expected_header = f"Basic {basic}" if method == "basic" else f"Bearer {PAT}"
    assert FakeJira.auth_seen and set(FakeJira.auth_seen) == {expected_header}

    lines = [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    assert any("127.0.0.1" in line for line in lines), "urllib3 DEBUG logging did not run"
    for text in lines + errors:
        for needle in (secret, basic, "Bearer ", "Authorization"):
            assert needle not in text, f"{needle!r} leaked into: {text[:200]}"
