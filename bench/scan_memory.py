"""Peak memory and time growth of large scans, each in its own process.

    .venv/bin/python bench/scan_memory.py [--sizes 10000,30000,100000]

Each size runs `csi-coach scan --source servicenow` (then jira) in a child process
against a fresh sandbox served by another process, and reads that child's own peak
RSS from os.wait4 (RUSAGE_CHILDREN would be the largest of all children waited
for so far, the sandboxes of the smaller sizes included). The sandbox's own peak
(VmHWM) is shown apart. The write budget stays at the example's 200 per run, as
in production: a first scan reads and judges every record and defers the rest.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from benchlib import ROOT, config_for, sandbox


def child_scan(cfg, source: str) -> tuple[float, float, float, str]:
    """(seconds, the child's CPU seconds, its own peak RSS in MB, its last line of output)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bot.py"), "scan", "--config", str(cfg), "--source", source, "--json"],
            stdout=out, stderr=err, text=True, env=os.environ.copy(),
        )
        _, status, usage = os.wait4(proc.pid, 0)  # this child's rusage alone
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().strip(), err.read()
    last = stdout.splitlines()[-1] if stdout else stderr[-300:]
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, last


def cpu_seconds(pid: int) -> float:
    """A live process's CPU time so far (user + system), 0 where /proc is not there."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def peak_mb(pid: int) -> float:
    """A live process's peak RSS (VmHWM), in MB; 0 where /proc is not there."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,30000,100000")
    ap.add_argument("--sources", default="servicenow,jira")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'records':>8} {'source':<11}{'seconds':>9}{'us/record':>10}{'scan CPU s':>11}{'sandbox CPU s':>14}"
          f"{'peak RSS MB':>13}{'sandbox MB':>12}")
    for n in sizes:
        with sandbox(n, seed=4) as info:
            cfg = config_for(info)
            for source in args.sources.split(","):
                served = cpu_seconds(info["pid"])
                seconds, cpu, mb, last = child_scan(cfg, source)
                served = cpu_seconds(info["pid"]) - served
                print(f"{n:8d} {source:<11}{seconds:9.1f}{1e6 * seconds / n:10.0f}{cpu:11.1f}{served:14.1f}"
                      f"{mb:13.1f}{peak_mb(info['pid']):12.1f}", flush=True)
                if '"records"' not in last:
                    print("    scan output:", last)
    print("\n(CPU s: user + system seconds of the scan process and of the sandbox process during that scan;\n"
          " peak RSS: the scan process's own ru_maxrss; sandbox MB: the sandbox process's VmHWM so far.)")


if __name__ == "__main__":
    main()
