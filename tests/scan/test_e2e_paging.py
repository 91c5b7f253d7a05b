"""Nothing lost while the scan's own writes land between its pages (issue 10).

The sandboxes answer every page of a record listing 0.3 s late (``slow_paging_ms``), so
the scan's four writers comment on the records of one page before the next page is read:
each comment moves its record's updated time to now. The first scan must still read
every record (the paging argument in the connectors' docstrings), and a full dry run
afterwards (pages no longer slowed: it only counts) must find nothing left to write. Run
against ServiceNow and both Jira flavours (Cloud token paging, Data Center startAt paging),
as `csi-coach scan` does; ServiceNow, the same whatever Jira's flavour, with the first.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.paths import ROOT

BOT = ROOT / "bot.py"
RECORDS = 300
PAGE = 25
SLOW_PAGE_MS = 300


def write_config(folder: Path, info: dict, jira_flavor: str) -> Path:
    from csi_coach.commands.demo import EXAMPLE, demo_config_text

    text = demo_config_text(EXAMPLE.read_text(encoding="utf-8"), snow_url=info["servicenow"]["url"],
                            jira_url=info["jira"]["url"], state_file=folder / "state.sqlite")
    changes = {
        r"(?m)^page_size\s*=\s*\d+": f"page_size = {PAGE}",  # both sources
        r"(?m)^max_writes_per_run\s*=\s*\d+": "max_writes_per_run = 100000",  # writes unbounded
        r"(?m)^workers\s*=\s*\d+": "workers = 4",
        r'(?m)^flavor\s*=\s*"\w+"': f'flavor = "{jira_flavor}"',
    }
    for pattern, value in changes.items():
        text, n = re.subn(pattern, value, text)
        assert n >= 1, pattern
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def scan(config: Path, info: dict, *extra: str) -> tuple[int, dict, str]:
    proc = subprocess.run([sys.executable, str(BOT), "scan", "--config", str(config), "--json", *extra],
                          capture_output=True, text=True, env={**os.environ, **info["env"]}, timeout=300,
                          cwd=config.parent)
    lines = proc.stdout.strip().splitlines()
    return proc.returncode, json.loads(lines[-1]) if lines else {}, proc.stderr


@pytest.mark.parametrize("jira_flavor", ["cloud", "server"])
def test_the_first_scan_reads_every_record_while_its_writes_land_between_slow_pages(tmp_path, jira_flavor):
    from csi_coach.sandbox.cli import start_sandbox
    from csi_coach.sandbox.faults import Faults

    names = ("servicenow", "jira") if jira_flavor == "cloud" else ("jira",)
    only = () if len(names) == 2 else ("--source", "jira")
    with start_sandbox("127.0.0.1", 0, 0, jira_flavor, RECORDS, 21, Faults(slow_paging_ms=SLOW_PAGE_MS)) as pair:
        assert pair.jira.wait_ready(60)
        info = pair.info()
        config = write_config(tmp_path, info, jira_flavor)

        code, first, err = scan(config, info, *only)
        assert code == 0, err
        for server in (pair.servicenow, pair.jira):  # each has its own copy; the check only counts
            server.faults.slow_paging_ms = 0
        code, check, err = scan(config, info, "--full", "--dry-run", *only)
        assert code == 0, err

    assert set(first["sources"]) == set(check["sources"]) == set(names)
    for name in names:
        got, full = first["sources"][name], check["sources"][name]
        assert got["status"] == "ok" and got["failed"] == 0, got
        assert got["written"] > RECORDS // (2 * PAGE)  # writes landed between many of the pages
        # the first scan read every record the full read finds, and left nothing to write
        assert got["records"] == full["records"] == RECORDS, (name, got["records"], full["records"])
        assert full["written"] == 0 and full["deferred"] == 0, full
