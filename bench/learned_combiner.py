"""Would weights learned over the rules' answers flag better than the rules' own logic?

    .venv/bin/python bench/learned_combiner.py [--threshold P ...] [--iterations N]

An experiment, not what the bot ships. Every rule of the default set is asked, for every
labelled record, whether it holds; with the category the rules decide, that gives each
record a row of yes/no answers. A logistic regression (L2, plain gradient descent, no
library) learns from the rows of every set the rules may be tuned on which answers go
with "this record needs coaching". It is then scored on the frozen real-shaped sets,
which it never sees: flag when the learned probability is at least the threshold.
Printed per frozen set and for the three together, beside the rules' own verdicts:
flag precision, recall and the counts.

Why: the rules are tuned set by set, and each new writer's records show how much of a
fix was memory (see the README's judgment table). A combiner fitted on all the tuning
sets at once weighs every rule by what it is worth on text from many writers.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from judgment import is_flag, record_for  # noqa: E402

from csi_coach import rules  # noqa: E402
from csi_coach.rules.document import read_record  # noqa: E402
from csi_coach.rules.engine import Context  # noqa: E402

RECORDS = ROOT / "bench" / "records"
DEV = ROOT.parent / "shared" / "eval" / "dev.jsonl"
# The sets frozen before their first measurement (real-shaped-test2, -test3...): never trained on.
FROZEN = re.compile(r"real-shaped-test\d+")
CATEGORIES = ("value", "linked", "process_only", "no_goal", "unsure")


def rows_of(path: Path, ruleset) -> list[tuple[list[int], bool, bool]]:
    """(indices of the answers that are yes, needs coaching, the rules flag) per record."""
    ids = [r.id for r in ruleset.rules]
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        record = record_for(obj)
        ctx = Context(read_record(record), ruleset)
        category = rules.evaluate(record, ruleset).category.value
        on = [i for i, rid in enumerate(ids) if ctx.holds(rid)]
        on.append(len(ids) + CATEGORIES.index(category))
        out.append((on, is_flag(obj["category"]), is_flag(category)))
    return out


def train(rows, width: int, iterations: int, l2: float = 1e-3, rate: float = 0.5) -> list[float]:
    """Full-batch gradient descent on the log loss; weight[width] is the bias."""
    w = [0.0] * (width + 1)
    n = len(rows)
    for _ in range(iterations):
        grad = [0.0] * (width + 1)
        for on, y, _ in rows:
            z = w[width] + sum(w[i] for i in on)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            g = p - (1.0 if y else 0.0)
            grad[width] += g
            for i in on:
                grad[i] += g
        for i in range(width):
            w[i] -= rate * (grad[i] / n + l2 * w[i])
        w[width] -= rate * grad[width] / n
    return w


def probability(w: list[float], on: list[int]) -> float:
    z = w[-1] + sum(w[i] for i in on)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def scores(pairs) -> str:
    tp = sum(f and y for f, y in pairs)
    fp = sum(f and not y for f, y in pairs)
    fn = sum(y and not f for f, y in pairs)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return f"precision {p:.3f}  recall {r:.3f}  [tp {tp}  fp {fp}  fn {fn}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--threshold", type=float, nargs="+", default=[0.5, 0.7])
    parser.add_argument("--iterations", type=int, default=400)
    args = parser.parse_args(argv)
    ruleset = rules.load_ruleset(rules.DEFAULT_PATH)
    width = len(ruleset.rules) + len(CATEGORIES)
    training, frozen = [], {}
    paths = ([DEV] if DEV.exists() else []) + sorted(RECORDS.glob("*.jsonl"))
    for path in paths:
        rows = rows_of(path, ruleset)
        if FROZEN.fullmatch(path.stem):
            frozen[path.stem] = rows
        else:
            training.extend(rows)
    if not frozen:
        print("no frozen set found under bench/records", file=sys.stderr)
        return 2
    w = train(training, width, args.iterations)
    print(f"trained on {len(training)} records from {len(paths) - len(frozen)} files; "
          f"scored on the frozen sets only ({sum(len(r) for r in frozen.values())} records)")
    together = [row for rows in frozen.values() for row in rows]
    for name, rows in list(frozen.items()) + [("the frozen sets together", together)]:
        print(f"== {name}")
        print(f"   rules             {scores([(f, y) for _, y, f in rows])}")
        for t in args.threshold:
            print(f"   learned, p >= {t:.2f} {scores([(probability(w, on) >= t, y) for on, y, _ in rows])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
