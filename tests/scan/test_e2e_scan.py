"""End to end: `csi-coach scan` as a subprocess against the sandboxes over 127.0.0.1.

What is checked comes from the sandboxes themselves over HTTP (ServiceNow's
sys_journal_field, Jira's comment lists), not from the bot's state file:

- comments land on exactly the records the engine flags, one each, carrying the
  marker of the record's current verdict;
- a second scan writes nothing;
- under faults (5xx, 429 with Retry-After, connection resets) every record is
  evaluated and, within two scans, no comment is duplicated or lost;
- kill -9 at random moments in many runs, then a clean scan: every flagged record
  carries exactly one current coaching comment.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests

from support.paths import ROOT

BOT = ROOT / "bot.py"


# --- helpers ----------------------------------------------------------------------


def start(records, seed, faults=None):
    from csi_coach.sandbox.cli import start_sandbox

    return start_sandbox("127.0.0.1", 0, 0, "cloud", records, seed, faults)


def write_config(folder: Path, info: dict, **comments) -> Path:
    from csi_coach.commands.demo import EXAMPLE, demo_config_text

    text = demo_config_text(
        EXAMPLE.read_text(encoding="utf-8"),
        snow_url=info["servicenow"]["url"], jira_url=info["jira"]["url"],
        state_file=folder / "state.sqlite",
    )
    for key, value in comments.items():
        text, n = re.subn(rf"(?m)^{key}\s*=\s*\S+", f"{key} = {json.dumps(value)}", text)
        assert n == 1, key
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def scan_cli(config: Path, info: dict, *extra: str, timeout: float = 120) -> tuple[int, dict, str]:
    env = {**os.environ, **info["env"]}
    proc = subprocess.run(
        [sys.executable, str(BOT), "scan", "--config", str(config), "--json", *extra],
        capture_output=True, text=True, env=env, timeout=timeout, cwd=config.parent,
    )
    lines = proc.stdout.strip().splitlines()
    summary = json.loads(lines[-1]) if lines else {}
    return proc.returncode, summary, proc.stderr


def get_json(url: str, auth: tuple[str, str], params: dict | None = None) -> dict:
    """GET with patience: the sandbox may be injecting faults."""
    for _ in range(50):
        try:
            resp = requests.get(url, params=params, auth=auth, headers={"Accept": "application/json"}, timeout=10)
        except requests.ConnectionError:
            time.sleep(0.05)
            continue
        if resp.status_code == 429 or resp.status_code >= 500:
            time.sleep(float(resp.headers.get("Retry-After", "0.05") or 0.05))
            continue
        resp.raise_for_status()
        return resp.json()
    raise AssertionError(f"sandbox kept failing for {url}")


MARK = re.compile(r"csi-coach:([0-9a-f]{16})")


def comments_on_tickets(info: dict, jira_keys: list[str]) -> dict[tuple[str, str], list[str]]:
    """(source, record key) -> the digests of the bot comments on it, read from the sandboxes."""
    found: dict[tuple[str, str], list[str]] = {}
    snow = info["servicenow"]
    rows = get_json(
        f"{snow['url']}/api/now/table/sys_journal_field",
        (snow["username"], snow["password"]),
        {"sysparm_query": "valueLIKEcsi-coach:", "sysparm_fields": "element_id,value", "sysparm_limit": "10000"},
    )["result"]
    for row in rows:
        for digest in MARK.findall(row["value"]):
            found.setdefault(("servicenow", row["element_id"]), []).append(digest)
    jira = info["jira"]
    for key in jira_keys:
        data = get_json(f"{jira['url']}/rest/api/2/issue/{key}/comment", (jira["username"], jira["token"]), {"maxResults": "1000"})
        for comment in data["comments"]:
            body = comment["body"] if isinstance(comment["body"], str) else json.dumps(comment["body"])
            for digest in set(MARK.findall(body)):
                found.setdefault(("jira", key), []).append(digest)
    return found


def expected_coaching(config_path: Path, info: dict) -> tuple[dict[tuple[str, str], str], list[str], int]:
    """What the engine flags: (source, key) -> digest of the verdict to coach on,
    the Jira issue keys, and the number of records. Read in-process, without faults."""
    from csi_coach import connectors, rules
    from csi_coach.coach import History, decide
    from csi_coach.config import load_config
    from csi_coach.connectors.transport import Limiters

    old = dict(os.environ)
    os.environ.update(info["env"])
    try:
        config = load_config(config_path)
        ruleset = rules.load_ruleset(config.rules)
        want: dict[tuple[str, str], str] = {}
        jira_keys: list[str] = []
        total = 0
        now = datetime.now(UTC)
        for settings in config.sources:
            with connectors.open_connector(settings, limiters=Limiters()) as c:
                for record in c.fetch(None):
                    total += 1
                    if settings.type == "jira":
                        jira_keys.append(record.key)
                    verdict = rules.evaluate(record, ruleset)
                    action = decide(record, verdict, History(), config.comments, now, c.can_edit)
                    if action.writes:
                        want[(settings.name, record.key)] = verdict.digest()
        return want, jira_keys, total
    finally:
        os.environ.clear()
        os.environ.update(old)


def assert_exactly_once(info, want, jira_keys):
    have = comments_on_tickets(info, jira_keys)
    duplicated = {k: v for k, v in have.items() if len(v) != 1}
    assert duplicated == {}, f"records with more than one bot comment: {duplicated}"
    assert set(have) == set(want), (
        f"missing on {sorted(set(want) - set(have))[:5]}, unexpected on {sorted(set(have) - set(want))[:5]}"
    )
    stale = {k for k in want if have[k] != [want[k]]}
    assert stale == set(), f"comments not matching the current verdict: {sorted(stale)[:5]}"


# --- tests ------------------------------------------------------------------------


def test_scan_coaches_exactly_the_flagged_records_and_a_rescan_writes_nothing(tmp_path):
    pair = start(30, seed=11)
    try:
        info = pair.info()
        config = write_config(tmp_path, info)
        want, jira_keys, total = expected_coaching(config, info)
        assert want, "the seeded data should contain records to coach"

        code, summary, err = scan_cli(config, info)
        assert code == 0, err
        assert summary["records"] == total and summary["failed"] == 0
        assert summary["written"] == len(want)
        assert set(summary["sources"]) == {"servicenow", "jira"}
        assert_exactly_once(info, want, jira_keys)

        code, again, err = scan_cli(config, info)
        assert code == 0, err
        assert again["written"] == 0 and again["failed"] == 0
        assert_exactly_once(info, want, jira_keys)

        # the state file lost: the tickets are the truth, still nothing written twice
        for p in tmp_path.glob("state.sqlite*"):
            p.unlink()
        code, lost, err = scan_cli(config, info)
        assert code == 0, err
        assert lost["written"] == 0
        assert_exactly_once(info, want, jira_keys)
    finally:
        pair.stop()


def test_faults_never_duplicate_or_lose_a_comment_within_two_scans(tmp_path):
    from csi_coach.sandbox.faults import Faults

    faults = Faults(error_rate=0.10, throttle_rate=0.05, reset_rate=0.02, seed=5, retry_after=1)
    pair = start(30, seed=12, faults=faults)
    try:
        info = pair.info()
        # the sandbox's faults never save late: a short wait before looking will do
        config = write_config(tmp_path, info, settle_after_seconds=2)
        first_code, first, err1 = scan_cli(config, info)
        second_code, second, err2 = scan_cli(config, info)
        assert first.get("records", 0) > 0, err1
        assert second_code == 0, err2
        evaluated = first["records"] + second["records"]
        for server in (pair.servicenow, pair.jira):  # each server has its own copy
            server.faults.error_rate = server.faults.throttle_rate = server.faults.reset_rate = 0.0
        want, jira_keys, total = expected_coaching(config, info)
        # every record was read and judged (by the first scan, or the second where it failed)
        assert first["records"] == total or evaluated >= total
        # a write whose answer was lost is settled (not counted) by the second scan
        assert first["written"] + second["written"] <= len(want)
        assert_exactly_once(info, want, jira_keys)
    finally:
        pair.stop()


# The crash test runs the scan many times. Python start-up and compiling the rules
# take longer than a small scan, so a warm parent process (imports done, rule set
# compiled) forks one child per run; the child runs `csi-coach scan` through
# bot.main, exactly as the command does, and is killed with SIGKILL at a random
# moment while it talks to the sandboxes and writes its state.
FORK_SERVER = r"""
import json, os, signal, sys, time, urllib.request
from csi_coach import bot, render, rules
import csi_coach.connectors.jira.connector, csi_coach.connectors.servicenow.connector, csi_coach.scan.pipeline, csi_coach.scan.runner
_load, _cache = rules.load_ruleset, {}
def _cached(spec="default"):
    key = str(spec)
    if key not in _cache:
        _cache[key] = _load(spec)
    return _cache[key]
rules.load_ruleset = _cached
_cached("default")
print("ready", flush=True)
for line in sys.stdin:
    job = json.loads(line)
    os.environ.update(job["env"])
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1); os.dup2(null, 2)
        os._exit(bot.main(job["argv"]))
    killed = False
    if job.get("kill_on_write"):
        # Kill just after a write reached a sandbox: the moment between the ledger's
        # "pending" and "posted", where a crash is hardest to get right.
        def writes():
            total = 0
            for url in job["kill_on_write"]:
                stats = json.load(urllib.request.urlopen(url + "/_sandbox/stats"))["requests"]
                total += sum(n for k, n in stats.items() if k.split()[0] in ("POST", "PATCH", "PUT"))
            return total
        base = writes()
        end = started + job["kill_after"]
        reaped = False
        while time.monotonic() < end:
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                reaped = True
                break
            if writes() > base:
                time.sleep(job["delay"])
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.002)
        if not reaped:
            if not killed:
                os.kill(pid, signal.SIGKILL)
                killed = True
            os.waitpid(pid, 0)
    elif job["kill_after"] is not None:
        end = started + job["kill_after"]
        while time.monotonic() < end:
            if os.waitpid(pid, os.WNOHANG) != (0, 0):
                break
            time.sleep(0.005)
        else:
            os.kill(pid, signal.SIGKILL)
            killed = True
            os.waitpid(pid, 0)
    else:
        os.waitpid(pid, 0)
    print(json.dumps({"killed": killed, "seconds": time.monotonic() - started}), flush=True)
"""


def pending_rows(path: Path) -> int:
    import sqlite3

    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute("SELECT COUNT(*) FROM ledger WHERE state = 'pending'").fetchone()[0]
    except sqlite3.OperationalError:  # killed before the schema was made
        return 0
    finally:
        db.close()


def test_kill_9_at_random_moments_never_duplicates_or_loses_a_comment(tmp_path):
    from csi_coach.sandbox.faults import Faults

    rng = random.Random(20261125)
    # Slow enough that kills land in the middle of reading and writing.
    pair = start(24, seed=13, faults=Faults(latency_ms=15, seed=1))
    server = subprocess.Popen([sys.executable, "-c", FORK_SERVER, str(ROOT)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        info = pair.info()

        def run(argv, kill_after=None, on_write=False):
            job = {"argv": argv, "env": info["env"], "kill_after": kill_after, "delay": rng.uniform(0.0, 0.03),
                   "kill_on_write": [info["servicenow"]["url"], info["jira"]["url"]] if on_write else None}
            server.stdin.write(json.dumps(job) + "\n")
            server.stdin.flush()
            return json.loads(server.stdout.readline())

        config = write_config(tmp_path, info, max_writes_per_run=2)
        argv = ["scan", "--config", str(config)]
        span = max(0.2, run(argv + ["--dry-run"])["seconds"])  # one whole scan, here and now
        kills = left_pending = runs = 0
        # 24 runs, and up to 24 more while fewer than 10 were killed mid-scan: on a busy
        # machine more scans finish before their kill, and the test needs the kills.
        while runs < 24 or (kills < 10 and runs < 48):
            if runs % 2:  # anywhere in the scan
                kills += run(argv, kill_after=rng.uniform(0.0, span))["killed"]
            else:  # just after a write went out
                kills += run(argv, kill_after=3 * span, on_write=True)["killed"]
            left_pending += pending_rows(tmp_path / "state.sqlite") > 0  # killed between "pending" and "posted"
            runs += 1
        assert kills >= 10, f"only {kills} of {runs} runs were killed mid-scan; the test needs slower scans"

        config = write_config(tmp_path, info, max_writes_per_run=1000)
        code, summary, err = scan_cli(config, info)
        assert code == 0, err
        want, jira_keys, _ = expected_coaching(config, info)
        assert_exactly_once(info, want, jira_keys)
        print(f"{kills} of {runs} runs killed mid-scan, {left_pending} of them between a ledger row and its write")
        code, again, err = scan_cli(config, info)
        assert code == 0 and again["written"] == 0, err
    finally:
        server.stdin.close()
        server.wait(30)
        pair.stop()


def test_sigterm_finishes_the_record_in_hand_and_records_state(tmp_path):
    import signal

    from csi_coach.sandbox.faults import Faults

    pair = start(40, seed=14, faults=Faults(latency_ms=40, seed=1))
    try:
        info = pair.info()
        config = write_config(tmp_path, info)
        proc = subprocess.Popen(
            [sys.executable, str(BOT), "scan", "--config", str(config), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **info["env"]}, cwd=tmp_path,
        )
        for line in proc.stderr:  # wait until it is scanning
            if "scan started" in line:
                break
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1, err
        summary = json.loads(out.strip().splitlines()[-1])
        assert summary["status"] == "interrupted"
        assert summary["records"] < 80  # it stopped early
        import sqlite3

        db = sqlite3.connect(tmp_path / "state.sqlite")
        assert db.execute("SELECT status FROM scans ORDER BY id DESC LIMIT 1").fetchone() == ("interrupted",)
        assert db.execute("SELECT COUNT(*) FROM ledger WHERE state = 'pending'").fetchone() == (0,)
        db.close()
        # the next scan picks up where it stopped, and every flagged record ends with one comment
        code, rest, err = scan_cli(config, info)
        assert code == 0, err
        want, jira_keys, _ = expected_coaching(config, info)
        assert_exactly_once(info, want, jira_keys)
    finally:
        pair.stop()
