"""Requests per scan against the sandbox versus the minimum.

    .venv/bin/python bench/scan_requests.py [--records 2000]

The minimum for a scan is the list pages it must read plus the comments it must
write. A first scan with an empty state file also looks on each record it is
about to coach for an earlier bot comment (the state file may be new or lost):
that is one read per coached record, reported separately. A re-scan with nothing
changed should cost the list pages of the overlap window and nothing else.
"""

from __future__ import annotations

import argparse
import math

from benchlib import config_for, delta, sandbox, stats, timed_scan


def show(label: str, per_source: dict[str, dict[str, int]], result, page_sizes: dict[str, int]) -> None:
    print(f"\n== {label}")
    for s in result.sources:
        calls = per_source[s.type]
        total = sum(calls.values())
        pages = sum(v for k, v in calls.items() if _is_list(s.type, k))
        writes = sum(v for k, v in calls.items() if k.startswith(("POST", "PATCH", "PUT")))
        reads = total - pages - writes
        minimum = max(1, math.ceil(s.records / page_sizes[s.type])) + s.written
        print(f"{s.name:>10}: {s.records} records, {s.written} written -> {total} requests "
              f"({pages} list pages, {writes} writes, {reads} other reads); "
              f"minimum (pages + writes) {minimum}; ratio {(pages + writes) / minimum:.2f}"
              f"{f' + {reads} marker checks / set-up calls' if reads else ''}")
        for k, v in sorted(calls.items(), key=lambda kv: -kv[1]):
            print(f"{'':>14}{v:6d}  {k}")


def _is_list(kind: str, key: str) -> bool:
    if kind == "servicenow":
        return key.startswith("GET /api/now/table/") and "sys_journal_field" not in key and "{" not in key.split("/api/now/table/")[1]
    return "search" in key


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
