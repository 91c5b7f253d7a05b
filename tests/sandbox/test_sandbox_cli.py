"""`csi-coach sandbox` as a subprocess, and start_sandbox in-process."""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading

import pytest
import requests

from support.paths import ROOT

BOT = ROOT / "bot.py"


def launch(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(BOT), "sandbox", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)


def first_line(proc: subprocess.Popen, timeout: float = 60) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        proc.kill()
        raise AssertionError("the sandbox printed nothing within the time limit: " + proc.stderr.read()) from None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_prints_one_json_line_serves_and_exits_cleanly(sig):
    proc = launch("--servicenow-port", "0", "--jira-port", "0", "--records", "25", "--seed", "3")
    try:
        info = json.loads(first_line(proc))
        assert set(info) == {"servicenow", "jira", "env"}
        snow, jira, env = info["servicenow"], info["jira"], info["env"]
        assert {"url", "username", "password"} <= set(snow)
        assert {"url", "flavor", "username", "token"} <= set(jira) and jira["flavor"] == "cloud"
        assert env["CSI_SNOW_USER"] == snow["username"] and env["CSI_SNOW_PASSWORD"] == snow["password"]
        assert env["CSI_JIRA_EMAIL"] == jira["username"] and env["CSI_JIRA_TOKEN"] == jira["token"]
        assert snow["url"].startswith("http://127.0.0.1:") and jira["url"].startswith("http://127.0.0.1:")

        resp = requests.get(snow["url"] + "/api/now/table/sn_cim_register", auth=(snow["username"], snow["password"]),
                            params={"sysparm_limit": 100}, timeout=10)
        assert resp.status_code == 200 and len(resp.json()["result"]) == 25
        me = requests.get(jira["url"] + "/rest/api/2/myself", auth=(jira["username"], jira["token"]), timeout=10)
        assert me.status_code == 200
        assert requests.get(jira["url"] + "/_sandbox/stats", timeout=10).status_code == 200

        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert out == ""  # the JSON line was the only line on stdout
        assert "Traceback" not in err
        with pytest.raises(requests.ConnectionError):
            requests.get(snow["url"] + "/_sandbox/stats", timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_fault_flags_reach_the_servers():
    proc = launch("--servicenow-port", "0", "--jira-port", "0", "--records", "5", "--error-rate", "1")
    try:
        snow = json.loads(first_line(proc))["servicenow"]
        resp = requests.get(snow["url"] + "/api/now/table/sn_cim_register", auth=(snow["username"], snow["password"]),
                            timeout=10)
        assert resp.status_code in (500, 502, 503)
        assert requests.get(snow["url"] + "/_sandbox/stats", timeout=10).json()["total"] == 1
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert proc.returncode == 0


def test_rate_limit_flag_reaches_servicenow():
    proc = launch("--servicenow-port", "0", "--jira-port", "0", "--records", "2", "--servicenow-rate-limit", "2")
    try:
        snow = json.loads(first_line(proc))["servicenow"]
        codes = [requests.get(snow["url"] + "/api/now/table/sn_cim_register", timeout=10,
                              auth=(snow["username"], snow["password"])).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
    finally:
        proc.terminate()
        proc.communicate(timeout=20)


def test_busy_port_is_one_line_and_exit_1():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, str(BOT), "sandbox", "--servicenow-port", str(port), "--jira-port", "0",
                               "--records", "3"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr and str(port) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, code", [
    (["--host", "0.0.0.0"], 1),            # loopback only
    (["--error-rate", "1.5"], 2),          # a rate is a share between 0 and 1
    (["--records", "100001"], 2),
    (["--jira-flavor", "onprem"], 2),
])
def test_bad_options(args, code):
    proc = subprocess.run([sys.executable, str(BOT), "sandbox", "--servicenow-port", "0", "--jira-port", "0", *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr


def test_start_sandbox_in_process():
    from csi_coach.sandbox.cli import start_sandbox
    from csi_coach.sandbox.faults import Faults

    with start_sandbox("127.0.0.1", 0, 0, "server", 12, 5, Faults(latency_ms=1, seed=5)) as pair:
        info = pair.info()
        assert info["servicenow"]["url"] == pair.servicenow.url and info["jira"]["url"] == pair.jira.url
        assert info["jira"]["flavor"] == "server"
        assert pair.servicenow.faults is not pair.jira.faults  # each server its own fault sequence
        resp = requests.get(pair.servicenow.url + "/api/now/table/sn_cim_register",
                            auth=(info["env"]["CSI_SNOW_USER"], info["env"]["CSI_SNOW_PASSWORD"]), timeout=10)
        assert resp.headers["X-Total-Count"] == "12"
        url = pair.servicenow.url
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_sandbox/stats", timeout=5)


def test_slow_paging_flag_is_parsed_and_reaches_both_servers():
    import argparse

    from csi_coach.sandbox.cli import add_arguments, faults_from_args, start_sandbox

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    faults = faults_from_args(parser.parse_args(["--slow-paging-ms", "300"]))
    assert faults is not None and faults.active and faults.slow_paging_ms == 300
    assert faults_from_args(parser.parse_args([])) is None
    with start_sandbox("127.0.0.1", 0, 0, "cloud", 3, 5, faults) as pair:
        assert pair.servicenow.faults.slow_paging_ms == pair.jira.faults.slow_paging_ms == 300


@pytest.mark.parametrize("server,method,path,listing", [
    ("servicenow", "GET", "/api/now/table/sn_cim_register", True),
    ("servicenow", "GET", "/api/now/table/sn_cim_register/0123456789abcdef0123456789abcdef", False),
    ("servicenow", "PATCH", "/api/now/table/sn_cim_register/0123456789abcdef0123456789abcdef", False),
    ("servicenow", "GET", "/api/now/table/sys_journal_field", False),  # comment look-ups: not the listing
    ("jira", "GET", "/rest/api/2/search", True),
    ("jira", "GET", "/rest/api/3/search/jql", True),
    ("jira", "POST", "/rest/api/2/search", True),
    ("jira", "GET", "/rest/api/2/issue/CSI-1/comment", False),
    ("jira", "POST", "/rest/api/2/issue/CSI-1/comment", False),
])
def test_slow_paging_slows_only_the_pages_of_a_record_listing(server, method, path, listing):
    from email.message import Message

    from csi_coach.sandbox.http import Request
    from csi_coach.sandbox.jira.server import JiraSandbox
    from csi_coach.sandbox.servicenow.server import ServiceNowSandbox

    sandbox = ServiceNowSandbox(records=1) if server == "servicenow" else JiraSandbox(records=1)
    req = Request(method=method, path=path, query={}, query_all={}, headers=Message(), body=b"")
    assert sandbox.is_listing(req) is listing
