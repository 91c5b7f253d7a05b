"""Requests per scan against the sandbox versus the minimum.

    .venv/bin/python bench/scan_requests.py [--records 2000]

The minimum for a scan is the list pages it must read plus the comments it must
write. On top of that every scan asks each source once which records carry bot
comments the state file may not know (one bulk query, a page per 500 such
records on ServiceNow, per 100 issues on Jira), and reads the comments of exactly
those records before writing. Set-up calls (Jira's serverInfo, myself, field) are
counted apart. A re-scan with nothing changed should cost the list pages of the
overlap window, the bulk query, and nothing else.
"""

from __future__ import annotations

import argparse
import math

from benchlib import config_for, delta, sandbox, stats, timed_scan

SETUP = ("/myself", "/serverInfo", "/field")


def show(label: str, per_source: dict[str, dict[str, int]], result, page_sizes: dict[str, int]) -> None:
    print(f"\n== {label}")
    for s in result.sources:
        calls = per_source[s.type]
        total = sum(calls.values())
        writes = sum(v for k, v in calls.items() if k.split()[0] in ("POST", "PATCH", "PUT"))
        setup = sum(v for k, v in calls.items() if k.endswith(SETUP))
        reads = total - writes - setup
        minimum = max(1, math.ceil(s.records / page_sizes[s.type])) + s.written
        print(f"{s.name:>10}: {s.records} records read, {s.written} written: {total} requests = "
              f"{reads} reads (list pages, bulk marker query, comment reads) + {writes} writes + {setup} set-up")
        print(f"{'':>12}minimum (pages for the records read + writes) {minimum}; "
              f"(reads + writes) / minimum = {(reads + writes) / minimum:.2f}; all requests / minimum = {total / minimum:.2f}")
        for k, v in sorted(calls.items(), key=lambda kv: -kv[1]):
            print(f"{'':>14}{v:6d}  {k}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    args = ap.parse_args()
    with sandbox(args.records, seed=3) as info:
        cfg = config_for(info, max_writes_per_run=1_000_000, workers=4)
        urls = {"servicenow": info["servicenow"]["url"], "jira": info["jira"]["url"]}
        page_sizes = {"servicenow": 500, "jira": 100}
        for label, kw in (("first scan, empty state file", {}), ("re-scan, nothing changed", {}), ("full re-scan (--full), nothing changed", {"full": True})):
            before = {k: stats(u) for k, u in urls.items()}
            result, seconds = timed_scan(cfg, **kw)
            after = {k: stats(u) for k, u in urls.items()}
            show(f"{label} ({seconds:.1f}s)", {k: delta(before[k], after[k]) for k in urls}, result, page_sizes)


if __name__ == "__main__":
    main()
