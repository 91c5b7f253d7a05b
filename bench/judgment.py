"""How well the rules judge labelled records: flagging precision/recall/F1, accuracies, confusion.

    .venv/bin/python bench/judgment.py FILE.jsonl [FILE2.jsonl ...]
        [--rules PATH] [--split tune|holdout|all] [--show-errors N] [--json]

Each input line is a labelled record in the eval format (id, source, number, title,
description, goal, service, category, value_goal, measurable, optional note). The
rules (the shipped default unless --rules) judge every record; the script compares
the verdicts with the labels. "Flag" means the bot would coach: value_goal false.
The positive class is "flagged", so precision answers "when the bot coaches, was it
right to?" and recall "of the records that needed coaching, how many did it catch?".

--split picks a deterministic half of the records by a hash of their id, so rules can
be tuned on one half (tune) and reported honestly on the other (holdout). The split
depends on the id alone, never on the file or the line order.

This is a measurement, not a gate: it exits 0 whenever it ran, whatever the figures
(2 when the rules or an input file cannot be read).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

CATEGORIES: tuple[str, ...] = ("value", "linked", "process_only", "no_goal")
VALUE_CATEGORIES = frozenset({"value", "linked"})
SPLITS: tuple[str, ...] = ("tune", "holdout", "all")
REQUIRED_KEYS: tuple[str, ...] = (
    "id", "source", "number", "title", "description", "goal", "service",
    "category", "value_goal", "measurable",
)


# ---------------------------------------------------------------- pure scoring


def split_of(record_id: str) -> str:
    """"tune" or "holdout": sha256 of the id, even digest -> tune, odd -> holdout."""
    digest = hashlib.sha256(record_id.encode("utf-8")).digest()
    return "tune" if int.from_bytes(digest, "big") % 2 == 0 else "holdout"


def in_split(record_id: str, split: str) -> bool:
    return split == "all" or split_of(record_id) == split


FLAG_CATEGORIES = ("process_only", "no_goal")


def is_flag(category: str) -> bool:
    """The bot coaches when the record surely names no value goal (``unsure`` stays silent)."""
    return category in FLAG_CATEGORIES


def _ratio(num: int, den: int) -> float | None:
    """num/den, or None when den is 0 (undefined, not zero: nothing to judge)."""
    return num / den if den else None


@dataclass(frozen=True)
class FlagScores:
    """Counts and rates for the binary question "should the bot coach this record?"."""

    tp: int  # labelled flag, predicted flag
    fp: int  # labelled value goal, predicted flag (the bot nags a good record)
    fn: int  # labelled flag, predicted value goal (the bot misses a record)
    tn: int
    precision: float | None
    recall: float | None
    f1: float | None


def flag_scores(pairs: Iterable[tuple[bool, bool]]) -> FlagScores:
    """Scores from (label_flagged, predicted_flagged) pairs.

    Precision is None when nothing was predicted flagged, recall None when nothing
    was labelled flagged. F1 is None when either is None, 0.0 when both are 0.
    """
    tp = fp = fn = tn = 0
    for label, predicted in pairs:
        if label and predicted:
            tp += 1
        elif predicted:
            fp += 1
        elif label:
            fn += 1
        else:
            tn += 1
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    if precision is None or recall is None:
        f1 = None
    elif precision + recall == 0:
        f1 = 0.0
    else:
        f1 = 2 * precision * recall / (precision + recall)
    return FlagScores(tp, fp, fn, tn, precision, recall, f1)


def accuracy(pairs: Iterable[tuple[Any, Any]]) -> float | None:
    """Share of (label, predicted) pairs that agree; None for no pairs."""
    total = hits = 0
    for label, predicted in pairs:
        total += 1
        hits += label == predicted
    return _ratio(hits, total)


def confusion(pairs: Iterable[tuple[str, str]], categories: Sequence[str] = CATEGORIES) -> dict[str, dict[str, int]]:
    """matrix[label][predicted] = count, every category present as row and column.

    A label or prediction outside `categories` gets its own row/column rather than
    being dropped, so the matrix always sums to the number of pairs.
    """
    cats = list(categories)
    pairs = list(pairs)
    for label, predicted in pairs:
        for c in (label, predicted):
            if c not in cats:
                cats.append(c)
    matrix = {row: {col: 0 for col in cats} for row in cats}
    for label, predicted in pairs:
        matrix[label][predicted] += 1
    return matrix


@dataclass(frozen=True)
class Outcome:
    """One record's label next to the rules' verdict."""

    id: str
    label: str
    predicted: str
    label_measurable: bool
    predicted_measurable: bool
    goal: str = ""
    title: str = ""
    evidence: tuple[str, ...] = ()  # "rule: field 'words'" per finding

    @property
    def flag_error(self) -> bool:
        return is_flag(self.label) != is_flag(self.predicted)

    @property
    def category_error(self) -> bool:
        return self.label != self.predicted


@dataclass(frozen=True)
class Scores:
    records: int
    labels: dict[str, int]
    predicted: dict[str, int]
    flag: FlagScores
    category_accuracy: float | None
    measurable_accuracy: float | None
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)
    # per label category: records wrongly called measurable ("over") / not measurable ("under")
    measurable_errors: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def score(outcomes: Sequence[Outcome]) -> Scores:
    def counts(values: Iterable[str]) -> dict[str, int]:
        out = {c: 0 for c in CATEGORIES}
        for v in values:
            out[v] = out.get(v, 0) + 1
        return out

    return Scores(
        records=len(outcomes),
        labels=counts(o.label for o in outcomes),
        predicted=counts(o.predicted for o in outcomes),
        flag=flag_scores((is_flag(o.label), is_flag(o.predicted)) for o in outcomes),
        category_accuracy=accuracy((o.label, o.predicted) for o in outcomes),
        measurable_accuracy=accuracy((o.label_measurable, o.predicted_measurable) for o in outcomes),
        confusion=confusion((o.label, o.predicted) for o in outcomes),
        measurable_errors=measurable_errors(outcomes),
    )


def measurable_errors(outcomes: Sequence[Outcome]) -> dict[str, dict[str, int]]:
    """{label category: {"over": predicted measurable but is not, "under": the reverse}}."""
    out: dict[str, dict[str, int]] = {}
    for o in outcomes:
        if o.label_measurable != o.predicted_measurable:
            side = "over" if o.predicted_measurable else "under"
            out.setdefault(o.label, {"over": 0, "under": 0})[side] += 1
    return out


def errors_first(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Misclassified outcomes: flag errors (the bot would act wrongly) before
    category-only errors (value vs linked, process_only vs no_goal), in input order."""
    flag = [o for o in outcomes if o.flag_error]
    category = [o for o in outcomes if o.category_error and not o.flag_error]
    return flag + category


# ---------------------------------------------------------------- text output


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


_SHORT = {"value": "value", "linked": "linked", "process_only": "process", "no_goal": "no_goal"}


def format_scores(name: str, s: Scores) -> str:
    f = s.flag
    cats = list(s.confusion) or list(CATEGORIES)
    width = max(9, *(len(_SHORT.get(c, c)) for c in cats)) + 1
    lines = [
        f"== {name}: {s.records} records "
        + "(" + ", ".join(f"{c} {n}" for c, n in s.labels.items()) + ")",
        f"flag (value_goal false) precision {_pct(f.precision)}  recall {_pct(f.recall)}  F1 {_pct(f.f1)}"
        f"   [tp {f.tp}  fp {f.fp}  fn {f.fn}  tn {f.tn}]"
        f"   unsure {_pct(_ratio(s.predicted.get('unsure', 0), s.records))} ({s.predicted.get('unsure', 0)})",
        f"category accuracy {_pct(s.category_accuracy)}   measurable accuracy {_pct(s.measurable_accuracy)}"
        + ("   measurable errors by label: " + ", ".join(
            f"{c} {e['over']} over/{e['under']} under" for c, e in s.measurable_errors.items())
           if s.measurable_errors else ""),
        "confusion (rows = label, columns = predicted):",
        " " * width + "".join(f"{_SHORT.get(c, c):>{width}}" for c in cats) + f"{'recall':>{width}}",
    ]
    for row in cats:
        cells = s.confusion.get(row, {})
        total = sum(cells.values())
        lines.append(
            f"{_SHORT.get(row, row):<{width}}"
            + "".join(f"{cells.get(col, 0):>{width}}" for col in cats)
            + f"{_pct(_ratio(cells.get(row, 0), total)):>{width}}"
        )
    return "\n".join(lines)


def format_errors(outcomes: Sequence[Outcome], limit: int) -> str:
    wrong = errors_first(outcomes)
    lines = [f"-- misclassified: {len(wrong)} ({sum(o.flag_error for o in wrong)} flag errors); showing {min(limit, len(wrong))}"]
    for o in wrong[:limit]:
        kind = "FLAG" if o.flag_error else "cat "
        lines.append(f"[{kind}] {o.id}: label {o.label}, predicted {o.predicted}"
                     f"{'' if o.label_measurable == o.predicted_measurable else f' (measurable label {o.label_measurable}, predicted {o.predicted_measurable})'}")
        lines.append(f"    title: {_clip(o.title)}")
        lines.append(f"    goal:  {_clip(o.goal) or '(empty)'}")
        for e in o.evidence or ("(no findings)",):
            lines.append(f"    - {e}")
    return "\n".join(lines)


def _clip(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# ---------------------------------------------------------------- I/O edges


class InputError(Exception):
    pass


def read_labelled(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The usable labelled records of one file, and a warning per unusable line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    records: list[dict[str, Any]] = []
    warnings: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            warnings.append(f"{path}:{n}: not JSON ({exc.msg}); skipped")
            continue
        if not isinstance(obj, dict):
            warnings.append(f"{path}:{n}: not a JSON object; skipped")
            continue
        missing = [k for k in ("id", "category", "measurable") if k not in obj]
        if missing:
            warnings.append(f"{path}:{n}: missing {', '.join(missing)}; skipped")
            continue
        if obj["category"] not in CATEGORIES:
            warnings.append(f"{path}:{n}: category {obj['category']!r} is not one of {', '.join(CATEGORIES)}; skipped")
            continue
        records.append(obj)
    return records, warnings


def record_for(obj: dict[str, Any]):
    from csi_coach.model import Record

    def s(key: str) -> str:
        v = obj.get(key)
        return v if isinstance(v, str) else ("" if v is None else str(v))

    return Record(source=s("source"), key=s("id"), number=s("number") or s("id"), url="",
                  title=s("title"), description=s("description"), goal=s("goal"), service=s("service"))


def judge(objs: Sequence[dict[str, Any]], ruleset) -> list[Outcome]:
    from csi_coach import rules

    out = []
    for obj in objs:
        verdict = rules.evaluate(record_for(obj), ruleset)
        evidence = tuple(
            f"{f.rule} [{f.severity.value}]: "
            + ("; ".join(f"{e.field} {e.text!r}" for e in f.evidence) or f.message)
            for f in verdict.findings
        )
        out.append(Outcome(
            id=str(obj["id"]), label=obj["category"], predicted=verdict.category.value,
            label_measurable=bool(obj["measurable"]), predicted_measurable=bool(verdict.measurable),
            goal=str(obj.get("goal") or ""), title=str(obj.get("title") or ""), evidence=evidence,
        ))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/judgment.py",
        description="Score the rules against labelled JSONL records (flag P/R/F1, accuracies, confusion).",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE.jsonl", help="labelled records (eval format)")
    p.add_argument("--rules", default="default", help='rules file, or "default" (the shipped set)')
    p.add_argument("--split", choices=SPLITS, default="all",
                   help="tune / holdout: the half of the records whose sha256(id) is even / odd; all: every record")
    p.add_argument("--show-errors", type=int, default=0, metavar="N", help="list the first N misclassified records per file")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object instead of text")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from csi_coach import rules
    from csi_coach.errors import ConfigError

    try:
        ruleset = rules.load_ruleset("default" if args.rules == "default" else Path(args.rules).absolute())
    except ConfigError as exc:
        print(f"bench/judgment.py: rules: {exc}", file=sys.stderr)
        return 2

    per_file: dict[str, list[Outcome]] = {}
    for path in args.files:
        try:
            objs, warnings = read_labelled(path)
        except InputError as exc:
            print(f"bench/judgment.py: {exc}", file=sys.stderr)
            return 2
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
        chosen = [o for o in objs if in_split(str(o["id"]), args.split)]
        per_file[str(path)] = judge(chosen, ruleset)

    everything = [o for outs in per_file.values() for o in outs]
    blocks = [(name, outs) for name, outs in per_file.items()]
    if len(per_file) > 1:
        blocks.append(("all files", everything))

    if args.json:
        payload = {
            "rules": args.rules, "rules_version": ruleset.version, "split": args.split,
            "files": {name: score(outs).to_dict() for name, outs in per_file.items()},
            "total": score(everything).to_dict(),
        }
        if args.show_errors:
            payload["errors"] = [
                {"id": o.id, "label": o.label, "predicted": o.predicted, "flag_error": o.flag_error,
                 "goal": o.goal, "evidence": list(o.evidence)}
                for o in errors_first(everything)[: args.show_errors]
            ]
        print(json.dumps(payload, sort_keys=True))
        return 0

    split_note = {"all": "all records", "tune": "tune half (sha256(id) even)",
                  "holdout": "holdout half (sha256(id) odd)"}[args.split]
    print(f"rules {args.rules} (version {ruleset.version}); split: {args.split} = {split_note}")
    for name, outs in blocks:
        print()
        print(format_scores(name, score(outs)))
        if args.show_errors and name != "all files":
            print(format_errors(outs, args.show_errors))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into head: stop quietly
        sys.stderr.close()
        sys.exit(0)
