"""bench/command_start.py: prints the rule load and check-config times it measured."""

from __future__ import annotations

import re
import subprocess
import sys

from support.paths import ROOT


def test_it_prints_both_times_in_milliseconds():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "command_start.py"), "--rounds", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["load", "check"]
    assert all(int(re.search(r"(\d+) ms", line).group(1)) > 0 for line in lines)


def test_a_check_config_that_cannot_run_is_reported_not_timed(tmp_path):
    broken = tmp_path / "config.toml"
    broken.write_text("[sources\n", encoding="utf-8")  # a syntax error: check-config exits 2
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "command_start.py"), "--rounds", "1",
                           "--config", str(broken)], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "exited 2" in done.stderr
