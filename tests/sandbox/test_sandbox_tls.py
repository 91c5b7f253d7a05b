"""The HTTPS sandbox (`csi-coach sandbox --tls`): a throwaway CA, both systems over TLS,
the jira library unpatched against it, and a client that refuses the certificate costs
the server nothing but a count."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from jira import JIRA

from csi_coach.errors import CoachError
from csi_coach.sandbox.cli import start_sandbox
from csi_coach.sandbox.servicenow.server import ServiceNowSandbox
from csi_coach.sandbox.tls import SandboxCA, tls_available
from support.paths import BOT, ROOT
from support.sandbox_jira import BASIC

SNOW_AUTH = ("csi-coach", "sandbox-snow-password")


@pytest.fixture(scope="module")
def pair():
    with start_sandbox("127.0.0.1", 0, 0, "cloud", 30, 2, None, tls=True) as started:
        assert started.jira.wait_ready(60)
        yield started


def test_both_systems_speak_https_and_the_json_line_names_the_ca(pair):
    info = pair.info()
    assert info["servicenow"]["url"].startswith("https://127.0.0.1:")
    assert info["jira"]["url"].startswith("https://127.0.0.1:")
    ca = Path(info["ca_bundle"])
    assert ca == pair.ca_file and ca.is_file()
    assert ca.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in ca.read_text()  # the CA's key never leaves memory
    resp = requests.get(info["servicenow"]["url"] + "/api/now/table/sn_cim_register", auth=SNOW_AUTH,
                        params={"sysparm_limit": 5}, verify=str(ca), timeout=10)
    assert resp.status_code == 200 and len(resp.json()["result"]) == 5
    assert resp.headers["Link"].startswith("<https://127.0.0.1:")  # its own links are https too
    me = requests.get(info["jira"]["url"] + "/rest/api/2/myself", auth=BASIC, verify=str(ca), timeout=10)
    assert me.status_code == 200


def test_a_client_without_the_ca_is_refused_and_counted(pair):
    url = pair.servicenow.url + "/_sandbox/stats"
    before = pair.servicenow.tls_refused
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(url, verify=True, timeout=10)  # the system's CAs do not know this one
    stats = requests.get(url, verify=str(pair.ca_file), timeout=10).json()
    assert pair.servicenow.tls_refused == before + 1 == stats["tls_refused"]


def test_plain_http_to_the_https_port_gets_no_answer(pair):
    with pytest.raises(requests.ConnectionError):
        requests.get(pair.servicenow.url.replace("https://", "http://") + "/_sandbox/stats", timeout=10)


def test_the_certificate_names_every_loopback_spelling(pair):
    context = ssl.create_default_context(cafile=str(pair.ca_file))
    for name in ("127.0.0.1", "localhost"):
        with socket.create_connection(("127.0.0.1", pair.servicenow.port), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_a_stalled_handshake_holds_up_nobody(pair):
    with socket.create_connection(("127.0.0.1", pair.jira.port), timeout=10):  # connects, says nothing
        resp = requests.get(pair.jira.url + "/_sandbox/stats", verify=str(pair.ca_file), timeout=10)
        assert resp.status_code == 200


@pytest.mark.parametrize("flavor", ["cloud", "server"])
def test_the_jira_library_works_unpatched_over_tls(tmp_path, flavor):
    with start_sandbox("127.0.0.1", 0, 0, flavor, 12, 3, None, tls=True) as site:
        assert site.jira.wait_ready(60)
        client = JIRA(server=site.jira.url, basic_auth=BASIC, options={"verify": str(site.ca_file), "check_update": False})
        try:
            assert client.myself()["displayName"] == "CSI Coach"
            if flavor == "cloud":
                found = client.enhanced_search_issues("project = CSI ORDER BY key ASC", maxResults=0)
            else:
                found = client.search_issues("project = CSI ORDER BY key ASC", maxResults=False)
            assert len(list(found)) == 12
            comment = client.add_comment("CSI-1", "over TLS")
            assert [c.body for c in client.comments("CSI-1") if c.id == comment.id] == ["over TLS"]
        finally:
            client.close()
        assert site.jira.tls_refused == 0


def test_the_ca_file_is_removed_on_stop_unless_asked_for(tmp_path):
    pair = start_sandbox("127.0.0.1", 0, 0, "cloud", 0, 1, None, tls=True)
    temporary = pair.ca_file
    assert temporary is not None and temporary.is_file()
    pair.stop()
    assert not temporary.exists() and not temporary.parent.exists()

    asked = tmp_path / "new" / "ca.pem"
    with start_sandbox("127.0.0.1", 0, 0, "cloud", 0, 1, None, tls=True, ca_file=asked) as kept:
        assert kept.ca_file == asked and asked.is_file()
    assert asked.is_file()  # the user chose where it goes: it stays


def test_each_start_makes_a_new_ca():
    first, second = SandboxCA.create(), SandboxCA.create()
    try:
        assert first.ca_file.read_bytes() != second.ca_file.read_bytes()
    finally:
        first.close()
        second.close()


def test_without_trustme_the_https_sandbox_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "trustme", None)  # as if not installed
    assert not tls_available()
    with pytest.raises(CoachError, match=r"pip install 'csi-coach\[sandbox\]'"):
        SandboxCA.create()


def test_tls_cannot_be_switched_on_once_serving():
    with pytest.raises(RuntimeError, match="use_tls"):
        with ServiceNowSandbox(records=0) as snow:
            snow.use_tls(ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))


def launch(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(BOT), "sandbox", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def test_the_command_prints_the_ca_bundle_and_removes_it_on_exit():
    proc = launch("--tls", "--servicenow-port", "0", "--jira-port", "0", "--records", "5")
    try:
        info = json.loads(proc.stdout.readline())
        assert set(info) == {"servicenow", "jira", "env", "ca_bundle"}
        ca = Path(info["ca_bundle"])
        snow = info["servicenow"]
        assert snow["url"].startswith("https://")
        resp = requests.get(snow["url"] + "/api/now/table/sn_cim_register", auth=(snow["username"], snow["password"]),
                            verify=str(ca), timeout=10)
        assert resp.status_code == 200 and len(resp.json()["result"]) == 5
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(snow["url"] + "/_sandbox/stats", verify=True, timeout=10)
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out == "" and "Traceback" not in err  # a refused handshake prints nothing
    assert f"trust the CA in {ca}" in err
    assert not ca.exists()


def test_ca_file_without_tls_is_refused():
    proc = subprocess.run([sys.executable, str(BOT), "sandbox", "--ca-file", "x.pem"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode != 0 and "--ca-file" in proc.stderr and "--tls" in proc.stderr
    assert "Traceback" not in proc.stderr
