"""Wall time of a scan per system at 20 ms sandbox latency, csi-coach versus the naive script.

    .venv/bin/python bench/scan_speed.py [--records 10000] [--latency-ms 20] [--skip-naive]

Each run starts fresh sandboxes with the same seed, so both scripts see the same
records and write the same comments. csi-coach is timed on its first scan (empty
state, writes every comment) and on a re-scan with nothing changed (the nightly
case); the naive script has no memory, so every run of it costs the same.
"""

from __future__ import annotations

import argparse
import time

from benchlib import config_for, sandbox, timed_scan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    rows = []
    for system in ("servicenow", "jira"):
        with sandbox(args.records, seed=9, latency_ms=args.latency_ms) as info:
            cfg = config_for(info, max_writes_per_run=1_000_000, workers=args.workers)
            first, t_first = timed_scan(cfg, source=system)
            again, t_again = timed_scan(cfg, source=system)
            s, s2 = first.sources[0], again.sources[0]
            rows.append((system, "csi-coach first scan", t_first, s.records, s.written))
            rows.append((system, "csi-coach re-scan", t_again, s2.records, s2.written))
        if args.skip_naive:
            continue
        with sandbox(args.records, seed=9, latency_ms=args.latency_ms) as info:
            from naive_scan import naive_jira, naive_servicenow

            from csi_coach import rules
            from csi_coach.config import load_config
            from csi_coach.scan.runner import make_renderer

            config = load_config(config_for(info))
            ruleset = rules.load_ruleset(config.rules)
            renderer = make_renderer(config)
            t0 = time.perf_counter()
            if system == "jira":
                out = naive_jira(info["jira"]["url"], info["jira"]["username"], info["jira"]["token"],
                                 "project = CSI", "customfield_10050", ruleset, renderer, config.comments)
            else:
                out = naive_servicenow(info["servicenow"]["url"], info["servicenow"]["username"],
                                       info["servicenow"]["password"], "sn_cim_register", ruleset, renderer, config.comments)
            rows.append((system, "naive script", time.perf_counter() - t0, out["records"], out["written"]))
    print(f"\n{args.records} records per system, {args.latency_ms} ms latency, {args.workers} workers")
    print(f"{'system':<12}{'run':<24}{'seconds':>9}{'records':>9}{'written':>9}")
    for system, run, sec, n, w in rows:
        print(f"{system:<12}{run:<24}{sec:9.1f}{n:9d}{w:9d}")
    for system in ("servicenow", "jira"):
        t = {run: sec for sys_, run, sec, _, _ in rows if sys_ == system}
        if "naive script" in t:
            print(f"{system}: first scan {t['naive script'] / t['csi-coach first scan']:.1f}x faster than naive, "
                  f"re-scan {t['naive script'] / t['csi-coach re-scan']:.0f}x")


if __name__ == "__main__":
    main()
