"""How good the coaching comments are, per record set: short, from the record, never contradicting it.

    .venv/bin/python bench/comments.py [FILE.jsonl ...] [--rules PATH] [--templates DIR] [--show N] [--json]

Without files: the shared dev set (/work/shared/eval/dev.jsonl, or $CSI_DEV_SET) and every
bench/records/*.jsonl. Each record (eval format) is judged by the rules and, when a first
scan would coach it, its comment is rendered for its own target (servicenow or jira; other
sources as servicenow) exactly as the bot would write it. Printed per set:

  comments    how many records get a comment
  median      median words of a comment (the marker and the opt-out line not counted)
  from-rec    mean share of a comment's distinct content words (3+ letters, not a stop
              word) that occur in the record (title, description, goal, service as read)
  clipped     share of quotes cut with an ellipsis
  generic     share of comments with a generic placeholder: <...>, "this service",
              "the people who use", "[date]"
  contra      contradictions: a "no goal" comment on a record whose goal field holds text,
              or a process claim ("measures the process", "process measures") whose
              quotes hold no process term of the shipped rules' vocabularies

Targets (issue 12), on every set: median <= 90, from-rec >= 35%, clipped <= 5%,
generic <= 15%, contra = 0. A measurement, not a gate: exit 0 whenever it ran.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEV_SET = Path(os.environ.get("CSI_DEV_SET", "/work/shared/eval/dev.jsonl"))

TARGETS = {"median": 90, "from_record": 0.35, "clipped": 0.05, "generic": 0.15, "contradictions": 0}

STOP = frozenset("""the and for are but not you your yours with this that these those from into onto than then them they
their there here what when where which who whom whose why how all any each every some many most more less few fewer
other such only own same can could will would shall should may might must has have had having was were been being does did
doing done its it's i'll i've i'm you're we're isn't aren't can't don't doesn't won't also just very too about above
below after before again once over under out off our ours she her his him one two get got let lets like say says said
use used using make made put set see seen here add label csi coach csi-coach leave alone useful hi hello note ask
admin exclude record issue goal could read found what""".split())
_WORD = re.compile(r"[a-z][a-z'-]{2,}")
_QUOTE_LINE = re.compile(r'^\s*(?:[-*]\s+|bq\.\s*)?"(.*)"(?:\s*\([a-z]+\))?\s*$')
_GENERIC = re.compile(r"<[a-z][^<>]{0,40}>|\bthis service\b|\bthe people who use\b|\[date\]", re.IGNORECASE)
_NO_GOAL = re.compile(r"\bno goal\b|\bwithout a goal\b|\bno goal is stated\b|\bbut no goal\b", re.IGNORECASE)
_PROCESS_CLAIM = re.compile(r"\bmeasures the process\b|\bprocess measures?\b", re.IGNORECASE)
_JIRA_ESCAPE = re.compile(r"\\([-#*_+?^~|%{}\[\]()!@])")
_MARKER = re.compile(r"\(?\{color:[^}]*\}csi-coach:[0-9a-f]{16}(?:-ack)?\{color\}\)?|\(?csi-coach:[0-9a-f]{16}(?:-ack)?\)?")


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def shown(body: str) -> str:
    """What a reader sees: Jira escapes resolved, invisible breaks and the marker removed."""
    body = _JIRA_ESCAPE.sub(r"\1", body).replace("\u200b", "")
    return _MARKER.sub("", body)


def body_lines(text: str) -> list[str]:
    """The comment without its opt-out line (the same words on every comment)."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("Not useful here?")]


def words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9][\w'’.%-]*", text)


def quotes_of(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        m = _QUOTE_LINE.match(line)
        if m:
            out.append(m.group(1))
    return out


def process_terms() -> re.Pattern[str]:
    """The shipped rules' process vocabulary (process_metric, provider_effort, desk_interaction), inflected."""
    from csi_coach.rules import load_ruleset

    vocabs = load_ruleset("default").vocabs
    terms = {t.lower() for name in ("process_metric", "provider_effort", "desk_interaction") for t in vocabs.get(name, ())}
    stems = set()
    for t in terms:  # singular forms: "crashes" -> "crash", "incidents" -> "incident" (the plural is matched below)
        if re.search(r"(?:ss|sh|ch|x)es$", t):
            t = t[:-2]
        elif t.endswith("s") and not t.endswith("ss") and len(t) > 3:
            t = t[:-1]
        stems.add(t)
    body = "|".join(re.escape(t).replace(r"\ ", r"[\s-]+") for t in sorted(stems, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{body})(?:s|es)?(?![\w-])", re.IGNORECASE)


def record_text(obj: dict[str, Any]) -> str:
    from csi_coach.model import Record
    from csi_coach.rules.document import read_record

    rec = read_record(Record(source="x", key="x", number="x", url="", title=obj.get("title") or "",
                             description=obj.get("description") or "", goal=obj.get("goal") or "",
                             service=obj.get("service") or ""))
    return " ".join((rec.title, rec.description, rec.goal, rec.service))


def content_words(text: str) -> set[str]:
    return {w.strip("'-") for w in _WORD.findall(text.lower()) if w.strip("'-") not in STOP and len(w.strip("'-")) >= 3}


def stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def measure(records: Iterable[dict[str, Any]], *, rules_spec: Any = "default", templates: Path | None = None,
            process: re.Pattern[str] | None = None) -> dict[str, Any]:
    from datetime import UTC, datetime

    from csi_coach import rules
    from csi_coach.coach import ActionKind, History, decide
    from csi_coach.config import CommentPolicy
    from csi_coach.model import Record, marker_for
    from csi_coach.render import Renderer

    ruleset = rules.load_ruleset(rules_spec)
    renderer = Renderer(templates)
    policy = CommentPolicy()
    process = process or process_terms()
    rows = []
    now = datetime.now(UTC)
    for obj in records:
        record = Record(source=obj.get("source") or "file", key=obj["id"], number=obj.get("number") or obj["id"], url="",
                        title=obj.get("title") or "", description=obj.get("description") or "", goal=obj.get("goal") or "",
                        service=obj.get("service") or "", owner=obj.get("owner") or "", state=obj.get("state") or "")
        verdict = rules.evaluate(record, ruleset)
        if decide(record, verdict, History(), policy, now, False).kind is not ActionKind.POST:
            continue
        target = record.source if record.source in ("servicenow", "jira") else "servicenow"
        body = renderer.comment(target, record, verdict, marker_for(verdict.digest()))
        text = shown(body)
        kept = "\n".join(body_lines(text))
        n_words = len(words(kept))
        own = record_text(obj).lower()
        own_stems = {stem(w) for w in content_words(own)}
        mine = content_words(kept)
        share = (sum(1 for w in mine if stem(w) in own_stems) / len(mine)) if mine else 0.0
        quotes = quotes_of(text)
        clipped = sum(1 for q in quotes if q.startswith("…") or q.endswith("…") or q.startswith("...") or q.endswith("..."))
        generic = bool(_GENERIC.search(text))
        contra = []
        goal_read = record_text({"goal": obj.get("goal") or ""}).strip()
        if _NO_GOAL.search(text) and len(goal_read) >= 3:
            contra.append("no goal, but the goal field holds text")
        if _PROCESS_CLAIM.search(text) and not any(process.search(q) for q in quotes):
            contra.append("process claim, but no process term quoted")
        rows.append({"id": obj["id"], "target": target, "category": verdict.category.value, "words": n_words,
                     "from_record": share, "quotes": len(quotes), "clipped": clipped, "generic": generic,
                     "contradictions": contra, "comment": body})
    n = len(rows)
    n_quotes = sum(r["quotes"] for r in rows)
    return {
        "records": n,
        "median": statistics.median([r["words"] for r in rows]) if rows else 0,
        "from_record": statistics.fmean([r["from_record"] for r in rows]) if rows else 0.0,
        "clipped": (sum(r["clipped"] for r in rows) / n_quotes) if n_quotes else 0.0,
        "generic": (sum(r["generic"] for r in rows) / n) if n else 0.0,
        "contradictions": sum(len(r["contradictions"]) for r in rows),
        "rows": rows,
    }


def meets(result: dict[str, Any]) -> bool:
    return (result["median"] <= TARGETS["median"] and result["from_record"] >= TARGETS["from_record"]
            and result["clipped"] <= TARGETS["clipped"] and result["generic"] <= TARGETS["generic"]
            and result["contradictions"] <= TARGETS["contradictions"])


def default_sets() -> list[Path]:
    sets = [DEV_SET] if DEV_SET.is_file() else []
    return sets + sorted((ROOT / "bench" / "records").glob("*.jsonl"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", type=Path)
    p.add_argument("--rules", default="default")
    p.add_argument("--templates", type=Path, default=None, help="an admin templates folder to measure instead")
    p.add_argument("--show", type=int, default=0, help="print N comments per set (and every contradiction)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    files = args.files or default_sets()
    if not files:
        print("no record sets found", file=sys.stderr)
        return 2
    process = process_terms()
    rules_spec: Any = args.rules if args.rules == "default" else Path(args.rules)
    results = {}
    if not args.json:
        print(f"{'set':<28} {'comments':>8} {'median':>6} {'from-rec':>8} {'clipped':>7} {'generic':>7} {'contra':>6}  targets")
    for path in files:
        res = measure(load(path), rules_spec=rules_spec, templates=args.templates, process=process)
        results[path.name] = res
        if args.json:
            continue
        print(f"{path.stem:<28} {res['records']:>8} {res['median']:>6g} {res['from_record']:>8.0%} {res['clipped']:>7.1%} "
              f"{res['generic']:>7.0%} {res['contradictions']:>6}  {'met' if meets(res) else 'MISSED'}")
        for row in res["rows"]:
            for why in row["contradictions"]:
                print(f"    contradiction {row['id']}: {why}")
        for row in res["rows"][: args.show]:
            print(f"--- {row['id']} ({row['target']}, {row['category']}, {row['words']} words)\n{row['comment']}")
    if args.json:
        print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "rows"} for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
