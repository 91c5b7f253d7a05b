"""Peak memory and time growth of large scans, each in its own process.

    .venv/bin/python bench/scan_memory.py [--sizes 10000,30000,100000]

Each size runs `csi-coach scan --source servicenow` (then jira) in a child process
against a fresh sandbox served by this process, and reads the child's peak RSS
(ru_maxrss). The write budget stays at the example's 200 per run, as in
production: a first scan reads and judges every record and defers the rest.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

from benchlib import ROOT, config_for, sandbox


def child_scan(cfg, source: str) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(cfg), "--source", source, "--json"],
        capture_output=True, text=True, env=os.environ.copy(),
    )
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kb < before:
        peak_kb = before
    last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]
    return seconds, peak_kb / 1024, last


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,30000,100000")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'records':>8} {'source':<11}{'seconds':>9}{'us/record':>10}{'peak RSS MB':>13}")
    for n in sizes:
        with sandbox(n, seed=4) as info:
            cfg = config_for(info)
            for source in ("servicenow", "jira"):
                seconds, mb, last = child_scan(cfg, source)
                print(f"{n:8d} {source:<11}{seconds:9.1f}{1e6 * seconds / n:10.0f}{mb:13.1f}", flush=True)
                if '"records"' not in last:
                    print("    scan output:", last)
    print("\n(ru_maxrss of RUSAGE_CHILDREN is the largest child so far: run sizes in rising order.)")


if __name__ == "__main__":
    main()
