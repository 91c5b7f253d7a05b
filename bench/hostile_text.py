"""How the rule engine's time grows with hostile ticket text: linear, or worse?

    .venv/bin/python bench/hostile_text.py [--chars N] [--rules PATH] [--only SHAPE] [--no-gc]

A ticket can hold anything: a pasted log, a goal field of figures, one line
repeated for pages. The nightly scan judges tickets one after another, so one
record whose judgment grows with the square of its length stalls the whole scan
(a 200 KB goal of figures once took nine minutes). This script builds, for each
shape below and each text field, a record of about N characters and one of 4N,
and prints the time to judge each and the growth factor: about 4 is linear, 16
is quadratic. Shapes: the terms of each vocabulary repeated; figures; headings;
"who" clauses; negations followed by matches; one negation followed by figures
with no space; a consumer named far before a blocker; money; separators; link
words; one run of digits before a currency code; one hyphenated chain before "who".
The best of two runs is kept.

Lines with a growth over 6 are marked; the last lines give the worst growth and
the slowest time per kilobyte. Python's garbage collector adds time that grows with
the number of objects alive, so the growth is a little over 4 even for linear work;
--no-gc switches it off while timing, to see the engine's own growth.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from csi_coach import rules  # noqa: E402
from csi_coach.model import Record  # noqa: E402

FIELDS = ("goal", "description", "title")


def shapes(ruleset: rules.RuleSet) -> dict[str, str]:
    """Name -> a unit of text that is repeated to the wanted length."""
    units = {}
    for name, terms in sorted(ruleset.vocabs.items()):
        plain = [t for t in terms if not t.startswith("*")][:12] or ["managers", "drivers"]
        units[f"vocab {name}"] = " ".join(plain) + " "
    units.update({
        "figures": "1 2 3 ",
        "figures, no spaces": "1,2.3;",
        "headings": "Goal:\n",
        "heading with a value statement": "Why it matters: customers get faster refunds.\n",
        "who clauses": "the people who ",
        "negation then matches": "not about cost savings for customers $10 ",
        "mixed terms": "customers reduce costs so 10% because staff MTTR incidents not about users who ",
        "no punctuation": "users get faster ",
        "money": "$10 saved ",
        "separators": "- customers - ",
        "link words": "so so because which ",
        # Markup, read by rules/document.py before the rules look.
        "html paragraphs": "<p><b>Goal:</b> customers get refunds&nbsp;so that staff</p>",
        "html table rows": "<tr><td>MTTR</td><td>4 h</td><td>1 h</td></tr>",
        "wiki headings and rows": "h3. Key results\n||KPI||Now||Target||\n|MTTR|4h|1h|\n",
        "emphasis and links": "*a* [b|http://x] `c` {{d}} ",
        "unclosed markup": "*a [b <c {d ",
        "quoted mail": "> > From: x\n> so that users get refunds\n",
        "consequence clauses": "MTTR under 5 min so the night orders reach the ovens, ",
        "hypotheses": "if we cut the batch then ",
    })
    return units


def far_blocker(n: int) -> str:
    """Consumers named all through the field, one blocker at its very end."""
    unit = "customers get faster refunds and "
    return unit * max(1, n // len(unit)) + "service desk"


def cue_then_run(n: int) -> str:
    """One negation cue, then money figures with no space between them."""
    return "not about " + "$1" * max(1, n // 2)


def digits_then_code(n: int) -> str:
    """One run of digits, then a currency code it is not next to: a number pattern that
    is tried from each digit reads the run to its end each time (43 s at 20,000 under
    Python's re, before the shipped patterns RE2 can run moved to it)."""
    return "1" * max(1, n - 6) + " x USD"


def hyphen_chain_then_who(n: int) -> str:
    """One hyphenated chain of letters before "who": each letter starts a word (11 s at
    20,000 before person-who bounded its words to 61 characters)."""
    return "a-" * max(1, (n - 6) // 2) + "s who"


def judge_time(ruleset: rules.RuleSet, text: str, field: str) -> float:
    values = {"title": "", "description": "", "goal": "", "service": "svc", field: text}
    record = Record(source="bench", key="k", number="n", url="", **values)
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        rules.evaluate(record, ruleset)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chars", type=int, default=20_000, help="the smaller size (default 20000); the larger is 4x")
    p.add_argument("--rules", default="default")
    p.add_argument("--only", default=None, help="run the shapes whose name contains this")
    p.add_argument("--no-gc", action="store_true", help="switch the garbage collector off while timing")
    args = p.parse_args(argv)
    if args.no_gc:
        import gc

        gc.disable()
    ruleset = rules.load_ruleset(args.rules)
    n = args.chars
    cases = [(name, lambda size, u=unit: u * max(1, size // len(u))) for name, unit in shapes(ruleset).items()]
    cases.append(("consumers, one blocker at the end", far_blocker))
    cases.append(("one negation, then figures, no spaces", cue_then_run))
    cases.append(("a run of digits, then a currency code", digits_then_code))
    cases.append(("a hyphenated chain, then who", hyphen_chain_then_who))
    if args.only:
        cases = [c for c in cases if args.only in c[0]]
    print(f"rules {args.rules} (version {ruleset.version}); each record judged twice, the best kept; "
          f"garbage collector {'off' if args.no_gc else 'on'}")
    print(f"{'shape':40s} {'field':11s} {'chars':>7s} {'ms':>8s} {'chars':>7s} {'ms':>8s}  growth")
    worst = (0.0, "")
    slowest = (0.0, "")
    for name, make in cases:
        for field in FIELDS:
            small, large = make(n), make(4 * n)
            t_small, t_large = judge_time(ruleset, small, field), judge_time(ruleset, large, field)
            growth = t_large / t_small if t_small > 0 else 0.0
            per_kb = t_large / len(large) * 1000 * 1e6
            mark = "  <-- more than linear" if growth > 6 else ""
            print(f"{name:40s} {field:11s} {len(small):7d} {t_small * 1e3:8.1f} {len(large):7d} {t_large * 1e3:8.1f}  "
                  f"x{growth:4.1f}{mark}", flush=True)
            worst = max(worst, (growth, f"{name} in {field}"))
            slowest = max(slowest, (per_kb, f"{name} in {field}"))
    print(f"worst growth for 4x the text: x{worst[0]:.1f} ({worst[1]}); 4 is linear, 16 quadratic")
    print(f"slowest: {slowest[0]:,.0f} us per KB at {4 * n:,} chars ({slowest[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
