"""How much the state file grows with the history (issue 15 item 1).

Simulates nightly scans of an estate through StateStore itself: night 0 judges every
record; each later night every record is remembered again (as a full scan would), a few
owners change their goal, the bot coaches the newly flagged and thanks the fixed. Prints
the file's size after the first night and after the last, the history rows, and the bytes
a night adds. Run: .venv/bin/python bench/history_growth.py [--records 5000] [--nights 30]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from csi_coach.scan.state import RecordUpdate, StateStore

CATEGORIES = ("value", "linked", "process_only", "no_goal", "unsure")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--nights", type=int, default=30)
    ap.add_argument("--change", type=float, default=0.02, help="share of records whose category changes a night")
    args = ap.parse_args()
    rng = random.Random(15)
    keys = [f"{rng.getrandbits(128):032x}" for _ in range(args.records)]
    category = {k: rng.choice(CATEGORIES) for k in keys}
    t0 = datetime(2024, 1, 1, 2, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.sqlite"
        with StateStore(path) as store:
            sizes = []
            for night in range(args.nights):
                now = t0 + timedelta(days=night)
                scan = store.begin_scan(["servicenow"], "rs", now=now)
                changed = set(rng.sample(keys, int(args.change * len(keys)))) if night else set()
                updates = []
                for i, k in enumerate(keys):
                    wrote = ""
                    if k in changed:
                        old, category[k] = category[k], rng.choice([c for c in CATEGORIES if c != category[k]])
                        if category[k] in ("process_only", "no_goal"):
                            wrote = "post"
                        elif old in ("process_only", "no_goal") and category[k] in ("value", "linked"):
                            wrote = "ack"
                    elif night == 0 and category[k] in ("process_only", "no_goal"):
                        wrote = "post"
                    c = category[k]
                    updates.append(RecordUpdate(
                        "servicenow", k, f"CIM{i:07d}", f"{rng.getrandbits(64):016x}", c, now, now,
                        content=f"{i:024x}", flagged=c in ("process_only", "no_goal"),
                        title=f"Improve the payroll process step {i}", service="Payroll", group="HR",
                        rules="process-without-value measurable" if c in ("process_only", "no_goal") else "", wrote=wrote))
                for start in range(0, len(updates), 500):  # the pipeline's checkpoints
                    store.remember(updates[start:start + 500])
                store.end_scan(scan, "ok", {"records": len(keys)}, now=now + timedelta(minutes=10))
                store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                sizes.append((_size(path), store.history_count()))
        first, last = sizes[0], sizes[-1]
        per_night = (last[0] - first[0]) / max(1, args.nights - 1)
        print(f"{args.records} records, {args.nights} nights, {args.change:.0%} change category each night")
        print(f"after night 1: {first[0] / 1e6:.2f} MB, {first[1]} history rows")
        print(f"after night {args.nights}: {last[0] / 1e6:.2f} MB, {last[1]} history rows")
        print(f"growth: {per_night / 1e3:.1f} KB a night ({(last[1] - first[1]) / max(1, args.nights - 1):.0f} rows), "
              f"{per_night * 365 / 1e6:.1f} MB a year at this rate")


if __name__ == "__main__":
    main()
