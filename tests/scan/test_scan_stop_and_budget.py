"""A scan stuck on a server that will not answer stops on the first SIGTERM within seconds,
with its summary and exit code, and a source's reads have a total time budget (issue 10)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import responses

from csi_coach.connectors.transport import Limiters, ResilientAdapter, RetryPolicy
from csi_coach.errors import TransientError
from support.paths import ROOT
from support.rules import with_small_rules

BOT = ROOT / "bot.py"


def write_config(folder: Path, info: dict) -> Path:
    from csi_coach.commands.demo import EXAMPLE, demo_config_text

    text = demo_config_text(EXAMPLE.read_text(encoding="utf-8"), snow_url=info["servicenow"]["url"],
                            jira_url=info["jira"]["url"], state_file=folder / "state.sqlite")
    path = folder / "config.toml"
    path.write_text(with_small_rules(text, folder), encoding="utf-8")  # stopping is the subject
    return path


def test_the_first_sigterm_stops_a_scan_waiting_on_a_throttling_server_within_seconds(tmp_path):
    from csi_coach.sandbox.cli import start_sandbox
    from csi_coach.sandbox.faults import Faults

    # every request is answered 429 with Retry-After: 60, so the scan sits in rate-limit waits
    with start_sandbox("127.0.0.1", 0, 0, "cloud", 5, 3, Faults(throttle_rate=1.0, retry_after=60)) as pair:
        info = pair.info()
        config = write_config(tmp_path, info)
        proc = subprocess.Popen([sys.executable, str(BOT), "scan", "--config", str(config), "--json",
                                 "--source", "servicenow"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env={**os.environ, **info["env"]}, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 30
            while pair.servicenow.stats.snapshot()["total"] == 0 and time.monotonic() < deadline:
                time.sleep(0.1)  # until the scan has asked and is waiting
            time.sleep(1.0)
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
    assert took < 10, f"stopped {took:.1f} s after SIGTERM"
    summary = json.loads(out.strip().splitlines()[-1])
    assert proc.returncode == 1, err
    assert summary["status"] == "interrupted", summary
    assert summary["sources"]["servicenow"]["status"] == "interrupted"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def session_with(adapter: ResilientAdapter) -> requests.Session:
    s = requests.Session()
    s.mount("https://", adapter)
    return s


@pytest.mark.parametrize("budget", [20.0, 60.0])
def test_reads_stop_when_the_sources_read_budget_is_used_up(budget):
    clock = Clock()
    limiters = Limiters(clock=clock.monotonic, wall=lambda: 1_772_000_000.0 + clock.now)
    policy = RetryPolicy(attempts=5, backoff_base=8.0, backoff_cap=8.0)
    adapter = ResilientAdapter(policy, limiters, sleep=clock.sleep, clock=clock.monotonic, read_budget=budget)
    session = session_with(adapter)
    with responses.RequestsMock() as rsps:
        rsps.get("https://h.example/api", status=503)
        reads = 0
        with pytest.raises(TransientError, match="read budget"):
            while reads < 100:  # page after page, each failing after its retries
                reads += 1
                assert session.get("https://h.example/api", timeout=5).status_code == 503
        assert clock.now <= budget  # never waited past the budget
        assert len(rsps.calls) < 5 * reads  # cut short, not five tries for every read


def test_writes_are_not_cut_short_by_the_read_budget():
    clock = Clock()
    limiters = Limiters(clock=clock.monotonic, wall=lambda: 1_772_000_000.0 + clock.now)
    adapter = ResilientAdapter(RetryPolicy(attempts=3, backoff_base=100.0, backoff_cap=100.0), limiters,
                               sleep=clock.sleep, clock=clock.monotonic, read_budget=10.0)
    session = session_with(adapter)
    with responses.RequestsMock() as rsps:
        rsps.post("https://h.example/api", status=503)
        assert session.post("https://h.example/api", json={}, timeout=5).status_code == 503
        assert len(rsps.calls) == 3  # its own retries, whatever the read budget
