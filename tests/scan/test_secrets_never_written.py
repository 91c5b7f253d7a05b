"""No secret reaches anything the bot writes, even from a server that echoes them (issue 13, finding 5).

A small HTTP server on 127.0.0.1 plays ServiceNow and Jira and answers every source's
requests with its credentials echoed back: in the error body (a 400, 401 or 500, in each
vendor's error shape, and as plain text) and in response headers. A real ``csi-coach
scan`` (a subprocess, with a log file, --report and --json) then runs against it, and
``explain --ticket`` after it. Every file and stream the bot wrote is searched for every
secret, in every form a server could echo it: as is, URL-encoded, and in base64 as
Basic auth sends it. None may be found.

The sources, one per way of authenticating:

- snow-basic     reads one record, then its comment write is refused (400) with the
                 request's Authorization and the decoded password in the body: a record
                 failure, kept in the state file's records.last_error
- snow-key       the listing answers 500 (retried, then the source fails) echoing x-sn-apikey
- snow-oauth     the token request (password grant) is refused (401) with the form body
                 echoed: user, password, client id and client secret
- snow-client    a client-credentials token is granted, then the listing answers 401 echoing
                 the Bearer token (which the config never held) and the token JSON
- jira-basic     every call answers 401 echoing Authorization (Basic e-mail:token)
- jira-pat       every call answers 401 in plain text echoing Authorization (Bearer PAT)
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, quote_plus, urlsplit

import pytest

from support import servicenow as sn
from support.rules import with_small_rules

SN_USER, SN_PASSWORD = "csi-bot", "Pw-S3cr3t/snow+41x"
SN_API_KEY = "now_APIKEY-S3cr3t-9931"
SN_CLIENT_ID, SN_CLIENT_SECRET = "client-id-7788", "CS-S3cr3t client&55"
JIRA_EMAIL, JIRA_TOKEN = "csi-bot@example.com", "ATATT3xFfGF0-S3cr3t-tok"
JIRA_PAT = "NjQ3MjA5-S3cr3t-PAT-Zz"
ACCESS_TOKEN = "OAUTH-ACCESS-77-Zq9x"  # granted by the server: never in the config

ENV = {
    "E2E_SN_USER": SN_USER, "E2E_SN_PASSWORD": SN_PASSWORD, "E2E_SN_API_KEY": SN_API_KEY,
    "E2E_SN_CLIENT_ID": SN_CLIENT_ID, "E2E_SN_CLIENT_SECRET": SN_CLIENT_SECRET,
    "E2E_JIRA_EMAIL": JIRA_EMAIL, "E2E_JIRA_TOKEN": JIRA_TOKEN, "E2E_JIRA_PAT": JIRA_PAT,
}
SECRETS = (SN_PASSWORD, SN_API_KEY, SN_CLIENT_SECRET, JIRA_TOKEN, JIRA_PAT, ACCESS_TOKEN)


def forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}


def basic(user: str, secret: str) -> str:
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


NEEDLES = sorted({f for s in SECRETS for f in forms(s)} | {basic(SN_USER, SN_PASSWORD), basic(JIRA_EMAIL, JIRA_TOKEN)})


class EchoServer(BaseHTTPRequestHandler):
    """Answers each source as described in the module docstring, echoing what it was sent."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _body(self) -> str:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode("utf-8", "replace") if n else ""

    def _echo(self, body: str) -> str:
        auth = self.headers.get("Authorization", "")
        text = f"request headers: Authorization: {auth}; x-sn-apikey: {self.headers.get('x-sn-apikey', '')}"
        if auth.startswith("Basic "):
            text += "; decoded credentials " + base64.b64decode(auth[6:]).decode()
        return text + (f"; body: {body}" if body else "")

    def _send(self, status: int, payload: object, *, echo: str = "", plain: bool = False, headers=None) -> None:
        data = (payload if plain else json.dumps(payload)).encode()  # type: ignore[union-attr]
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if plain else "application/json")
        self.send_header("Content-Length", str(len(data)))
        if echo:  # the credentials in headers too
            self.send_header("X-Echo-Request", echo.replace("\n", " ")[:4000])
            self.send_header("WWW-Authenticate", f'Basic realm="echo {self.headers.get("Authorization", "")}"')
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        body = self._body()
        path = urlsplit(self.path).path
        echo = self._echo(body)
        auth = self.headers.get("Authorization", "")
        if path.startswith("/rest/"):  # Jira, both flavours
            if auth.startswith("Bearer "):
                return self._send(401, f"Unauthorized. {echo}", echo=echo, plain=True)
            return self._send(401, {"errorMessages": [f"Client must be authenticated. {echo}"], "errors": {}}, echo=echo)
        if path == "/oauth_token.do":
            if "grant_type=client_credentials" in body:
                return self._send(200, {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 1800,
                                        "scope": "useraccount"})
            return self._send(401, {"error": "access_denied", "error_description": f"bad credentials: {echo}"}, echo=echo)
        if self.headers.get("x-sn-apikey"):
            return self._send(500, {"error": {"message": "Internal error", "detail": echo}, "status": "failure"}, echo=echo,
                              headers={"Retry-After": "0"})  # retried at once: the test need not wait out backoff
        if auth.startswith("Bearer "):
            detail = f'{echo}; token issued: {{"access_token": "{ACCESS_TOKEN}", "token_type": "Bearer"}}'
            return self._send(401, {"error": {"message": "User Not Authenticated", "detail": detail},
                                    "status": "failure"}, echo=echo)
        # snow-basic: reads work, the write is refused
        if self.command == "GET" and path == "/api/now/table/sn_cim_register":
            item = sn.record_item(1, "2026-03-01 10:00:00", benefit="Cut MTTR for P1 incidents by 20% this year.")
            return self._send(200, sn.page([item]))
        if self.command == "GET":
            return self._send(200, {"result": []})
        return self._send(400, {"error": {"message": "Invalid request", "detail": echo}, "status": "failure"}, echo=echo)

    do_GET = do_POST = do_PATCH = do_PUT = _handle


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), EchoServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def sn_source(name: str, url: str, auth: str) -> str:
    return f'[sources.{name}]\ntype = "servicenow"\nurl = "{url}"\ntimeout_seconds = 5\n\n[sources.{name}.auth]\n{auth}\n'


def jira_source(name: str, url: str, flavor: str, auth: str) -> str:
    return (f'[sources.{name}]\ntype = "jira"\nurl = "{url}"\nflavor = "{flavor}"\njql = "project = CSI"\n'
            f'timeout_seconds = 5\n\n[sources.{name}.auth]\n{auth}\n')


def write_config(tmp_path: Path, url: str) -> Path:
    text = (
        '[state]\npath = "state/csi.sqlite"\n\n[logging]\nlevel = "debug"\nfile = "logs/csi.log"\n\n'
        + sn_source("snow-basic", url, 'method = "basic"\nusername_env = "E2E_SN_USER"\npassword_env = "E2E_SN_PASSWORD"')
        + sn_source("snow-key", url, 'method = "api_key"\napi_key_env = "E2E_SN_API_KEY"')
        + sn_source("snow-oauth", url, 'method = "oauth_password"\nusername_env = "E2E_SN_USER"\n'
                    'password_env = "E2E_SN_PASSWORD"\nclient_id_env = "E2E_SN_CLIENT_ID"\n'
                    'client_secret_env = "E2E_SN_CLIENT_SECRET"')
        + sn_source("snow-client", url, 'method = "oauth_client_credentials"\nclient_id_env = "E2E_SN_CLIENT_ID"\n'
                    'client_secret_env = "E2E_SN_CLIENT_SECRET"')
        + jira_source("jira-basic", url, "server", 'method = "basic"\nusername_env = "E2E_JIRA_EMAIL"\n'
                      'token_env = "E2E_JIRA_TOKEN"')
        + jira_source("jira-pat", url, "server", 'method = "pat"\ntoken_env = "E2E_JIRA_PAT"')
    )
    path = tmp_path / "config.toml"
    path.write_text(with_small_rules(text, tmp_path))  # secrets are the subject, not the rules
    return path


def run_bot(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CSI_", "E2E_"))} | ENV
    return subprocess.run([sys.executable, "-m", "csi_coach", *args], cwd=cwd, env=env, capture_output=True,
                          timeout=180, text=True)


def leaks(blob: bytes | str) -> list[str]:
    data = blob.encode("utf-8", "surrogateescape") if isinstance(blob, str) else blob
    return [n for n in NEEDLES if n.encode() in data]


def test_a_server_echoing_credentials_leaks_none_into_anything_the_bot_writes(tmp_path, server):
    config = write_config(tmp_path, server)
    scan = run_bot("scan", "--config", str(config), "--report", str(tmp_path / "report"), "--json", cwd=tmp_path)
    explain = run_bot("explain", "--config", str(config), "--ticket", "jira-basic:CSI-1", cwd=tmp_path)

    summary = json.loads(scan.stdout.strip().splitlines()[-1])
    sources = summary["sources"]
    # Each source met its echoing answer (so the texts below did carry the echoes) ...
    for name in ("snow-key", "snow-oauth", "snow-client", "jira-basic", "jira-pat"):
        assert sources[name]["status"] == "failed", (name, sources[name])
        assert "[redacted]" in sources[name]["error"], (name, sources[name]["error"])
    assert sources["snow-basic"]["failed"] == 1, sources["snow-basic"]
    assert "[redacted]" in sources["snow-basic"]["failures"][0]["error"]
    assert scan.returncode == 1 and explain.returncode == 1, (scan.stderr, explain.stderr)
    assert "HTTP 401" in explain.stderr and "[redacted]" in explain.stderr

    # ... and nothing written holds a secret: log, report, state (every file in its
    # folder: the SQLite file, and a -wal or -shm if one were left), stdout, stderr.
    written = {
        "scan stdout": scan.stdout, "scan stderr": scan.stderr,
        "explain stdout": explain.stdout, "explain stderr": explain.stderr,
    }
    files = [tmp_path / "logs" / "csi.log", tmp_path / "report" / "report.json", tmp_path / "report" / "report.html",
             *sorted((tmp_path / "state").iterdir())]
    for path in files:
        written[str(path.relative_to(tmp_path))] = path.read_bytes()  # type: ignore[assignment]
    assert (tmp_path / "state" / "csi.sqlite").stat().st_size > 0
    assert "[redacted]" in (tmp_path / "logs" / "csi.log").read_text()
    found = {where: leaks(blob) for where, blob in written.items()}
    assert {where: n for where, n in found.items() if n} == {}


def test_the_state_file_keeps_the_scrubbed_errors(tmp_path, server):
    import sqlite3

    config = write_config(tmp_path, server)
    run_bot("scan", "--config", str(config), "--source", "snow-basic", cwd=tmp_path)
    db = sqlite3.connect(tmp_path / "state" / "csi.sqlite")
    (error,), = db.execute("SELECT last_error FROM records WHERE source = 'snow-basic'").fetchall()
    db.close()
    assert "HTTP 400" in error and "[redacted]" in error and "decoded credentials" in error
    assert leaks(error) == []


# ------------------------------------------------------------------ the scrubber itself

@pytest.fixture
def scrubber():
    from csi_coach import redact

    redact.forget_all()
    yield redact
    redact.forget_all()


@pytest.mark.parametrize("text, kept", [
    ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig", "Authorization: Bearer "),
    ("authorization=Basic dXNlcjpwYXNzd29yZA==", "authorization=Basic "),
    ('{"Authorization": "Basic dXNlcjpwYXNz"}', '{"Authorization": "'),
    ("proxy said: Bearer abc123DEF456ghi", "proxy said: Bearer "),
    ("x-sn-apikey: now_Key123", "x-sn-apikey: "),
    ("X-API-Key=k3y-Value", "X-API-Key="),
    ('{"password": "two words", "user": "bob"}', '{"password": "'),
    ("grant_type=password&username=u&password=hunter22&client_id=cid", "&client_id=cid"),
    ("client_secret=abcXYZ123&x=1", "&x=1"),
    ('{"access_token":"tok-123","token_type":"Bearer"}', '"token_type":"Bearer"'),
    ('{\\"refresh_token\\":\\"r 1\\"}', '{\\"refresh_token\\":\\"'),
    ("https://svc:pw12345@jira.example.com/rest", "https://svc:"),
    ("Set-Cookie: JSESSIONID=ABC123; Path=/", "Set-Cookie: "),
])
def test_credential_shapes_are_scrubbed_whatever_their_value(scrubber, text, kept):
    out = scrubber.scrub(text)
    assert scrubber.REDACTED in out and kept in out
    assert not any(v in out for v in ("eyJhbGciOiJSUzI1NiJ9", "dXNlcjpw", "abc123DEF456ghi", "now_Key123", "k3y-Value",
                                      "two words", "hunter22", "abcXYZ123", "tok-123", "r 1", "pw12345", "ABC123"))
    assert scrubber.scrub(out) == out  # scrubbing twice changes nothing


@pytest.mark.parametrize("text", [
    "Basic authentication failed for the account", "Bearer tokens expire after an hour",
    "[sources.jira.auth.token_env] CSI_JIRA_TOKEN is not set", "method oauth_password (password grant)",
    "nextPageToken=abc starts the next page", "Check the e-mail in $CSI_JIRA_EMAIL and the API token in $CSI_JIRA_TOKEN.",
])
def test_words_that_only_name_credentials_are_left_alone(scrubber, text):
    assert scrubber.scrub(text) == text


def test_a_registered_secret_is_scrubbed_in_every_form_a_server_can_echo(scrubber):
    scrubber.register("Pw-S3cr3t/snow+41x")
    scrubber.register_pair("csi-bot", "Pw-S3cr3t/snow+41x")
    for echoed in forms("Pw-S3cr3t/snow+41x") | {basic("csi-bot", "Pw-S3cr3t/snow+41x")}:
        assert scrubber.scrub(f"you sent {echoed} here") == "you sent [redacted] here", echoed


def test_short_values_are_not_registered(scrubber):
    scrubber.register("abc")
    assert scrubber.scrub("abc abcd") == "abc abcd"


def test_reading_a_secret_registers_it_but_not_the_account_names(scrubber, monkeypatch):
    from csi_coach.config import AuthSettings

    monkeypatch.setenv("T_USER", "svc-account")
    monkeypatch.setenv("T_PASSWORD", "hunter2-Pass")
    monkeypatch.setenv("T_CLIENT", "client-id-42")
    auth = AuthSettings(method="oauth_password", username_env="T_USER", password_env="T_PASSWORD",
                        client_id_env="T_CLIENT")
    for attr in ("username", "password", "client_id"):
        auth.secret(attr)
    assert scrubber.scrub("svc-account client-id-42 hunter2-Pass") == "svc-account client-id-42 [redacted]"
    assert scrubber.scrub(basic("svc-account", "hunter2-Pass")) == "[redacted]"


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_the_log_filter_scrubs_messages_arguments_and_tracebacks(scrubber, tmp_path, fmt):
    import logging

    from csi_coach import logsetup
    from csi_coach.config import LoggingSettings

    scrubber.register("Tok-S3cr3t-991")
    log_file = tmp_path / "bot.log"
    logsetup.configure(LoggingSettings(level="debug", format=fmt), log_file=log_file, interactive=False)
    try:
        log = logging.getLogger("csi_coach.test")
        log.warning("server said %s", "Authorization: Bearer Tok-S3cr3t-991")
        try:
            raise RuntimeError("echo: x-sn-apikey: now_K3y-in-a-traceback")
        except RuntimeError:
            log.exception("failed")
    finally:
        logsetup.reset()
    text = log_file.read_text()
    assert "Tok-S3cr3t-991" not in text and "now_K3y-in-a-traceback" not in text
    assert "server said Authorization: Bearer [redacted]" in text
    assert "RuntimeError: echo: x-sn-apikey: [redacted]" in text  # the traceback's last line
