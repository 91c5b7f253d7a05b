"""The one-line rule the engine must beat: flag a record when no value word appears anywhere.

    .venv/bin/python bench/trivial_baseline.py FILE.jsonl [FILE2.jsonl ...]

Issue 11 measured it on real improvement items: more precise than the engine then (0.83
against 0.64, at recall 0.60). It reads title, description and goal as plain words (no
rules, no markup handling) and flags when none of VALUE_WORDS (a consumer, a cost, a
risk, money) is there. Prints flag precision and recall per file, as bench/judgment.py
does, so the two can be set side by side.
"""

from __future__ import annotations

import json
import re
import sys

VALUE_WORDS = re.compile(
    r"\b(?:customers?|users?|clients?|consumers?|members?|patients?|students?|staff|employees?|citizens?|"
    r"residents?|tenants?|passengers?|guests?|visitors?|people|public|families|parents?|pupils?|learners?|"
    r"cost|costs|revenue|sales|profit|spend|money|savings?|risks?|fines?|penalt(?:y|ies)|compliance|"
    r"safety|harm|complaints?|satisfaction|experience)\b|[£$€]\s?\d",
    re.IGNORECASE,
)
FLAGS = ("process_only", "no_goal")


def score(path: str) -> tuple[int, int, int, int]:
    tp = fp = fn = tn = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            text = " ".join(str(r.get(k) or "") for k in ("title", "description", "goal"))
            flagged = VALUE_WORDS.search(text) is None
            should = r["category"] in FLAGS
            tp += flagged and should
            fp += flagged and not should
            fn += (not flagged) and should
            tn += (not flagged) and not should
    return tp, fp, fn, tn


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for path in argv:
        tp, fp, fn, tn = score(path)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        print(f"{path}: trivial rule  precision {p:.3f}  recall {r:.3f}   [tp {tp}  fp {fp}  fn {fn}  tn {tn}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
