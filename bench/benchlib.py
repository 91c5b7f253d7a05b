"""Shared set-up for the scan benchmarks: a sandbox pair, a config for it, a scan."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

import requests  # noqa: E402


@contextmanager
def sandbox(records: int, *, seed: int = 1, latency_ms: int = 0) -> Iterator[dict]:
    """Both sandboxes in their own process (as real systems are): the scan being
    measured never shares a GIL with the servers."""
    import json
    import signal
    import subprocess

    cmd = [sys.executable, str(ROOT / "bot.py"), "sandbox", "--servicenow-port", "0", "--jira-port", "0",
           "--records", str(records), "--seed", str(seed)]
    if latency_ms:
        cmd += ["--latency-ms", str(latency_ms)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox did not start")
        info = json.loads(line)
        info["pid"] = proc.pid  # for benchmarks that read the servers' own memory
        os.environ.update(info["env"])
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def config_for(info: dict, folder: Path | None = None, **comments) -> Path:
    """config.example.toml pointed at the sandbox, with comment options overridden."""
    import json
    import re

    from csi_coach.commands.demo import EXAMPLE, demo_config_text

    folder = folder or Path(tempfile.mkdtemp(prefix="csi-bench-"))
    text = demo_config_text(EXAMPLE.read_text(), snow_url=info["servicenow"]["url"],
                            jira_url=info["jira"]["url"], state_file=folder / "state.sqlite")
    for key, value in comments.items():
        text = re.sub(rf"(?m)^{key}\s*=\s*\S+", f"{key} = {json.dumps(value)}", text)
    text = text.replace('level = "info"', 'level = "warning"')
    path = folder / "config.toml"
    path.write_text(text)
    return path


def stats(url: str) -> dict[str, int]:
    return requests.get(f"{url}/_sandbox/stats", timeout=10).json()["requests"]


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    out = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    return {k: v for k, v in out.items() if v and "_sandbox" not in k}


def timed_scan(config_path: Path, **kw):
    from csi_coach.config import load_config
    from csi_coach.scan.runner import run_scan, setup_logging

    config = load_config(config_path)
    setup_logging(config, interactive=True)
    t0 = time.perf_counter()
    result = run_scan(config, **kw)
    return result, time.perf_counter() - t0
