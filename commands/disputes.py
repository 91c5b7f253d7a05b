"""`csi-coach disputes`: the owners' pushback the scans recorded, for admins to act on.

    csi-coach disputes [--source NAME] [--format table|json|jsonl]

One entry per disputed record and reply: source, record (key, number, url), the rules
disputed, their evidence, the kind ("wrong" or "not_applicable") and the owner's reason.
``jsonl`` is one JSON object a line in the record format ``classify --input`` and
``explain --file`` read (``commands/record_json.py``: id, title, description, goal,
service, ...), with the dispute's own keys beside it, so a dispute becomes a rule example or
a test: ``csi-coach disputes --format jsonl | csi-coach classify --input -``. ``json`` is
the same objects as one list. The table is for a terminal: each cell is one line, control
characters and markup shown as text.

Read only: the state file is read as a dry run reads it; a missing file lists nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import Any

from csi_coach.config import load_config
from csi_coach.scan import disputes as book
from csi_coach.scan.runner import state_path
from csi_coach.scan.state import StateStore

FORMATS = ("table", "json", "jsonl")
CELL = 60  # characters of a table cell


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source", metavar="NAME", help="only this source's disputes")
    p.add_argument("--format", choices=FORMATS, default="table", help="table (default), json, or jsonl for classify/explain")


def entries(rows: Iterable[book.Dispute]) -> list[dict[str, Any]]:
    """One entry per record and reply, its rules and evidence gathered, in the record format."""
    grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
    for d in rows:
        key = (d.source, d.record_key, d.reply_id)
        entry = grouped.get(key)
        if entry is None:
            text = d.record or {}
            entry = grouped[key] = {
                "id": f"{d.source}:{d.number or d.record_key}",
                "source": d.source, "key": d.record_key, "number": d.number,
                **{k: text.get(k, "") for k in ("title", "description", "goal", "service", "url", "owner", "state",
                                                "container")},
                "labels": [x for x in text.get("labels", []) if isinstance(x, str)],
                "rules": [], "evidence": [], "kind": d.kind, "reason": d.reason,
                "replied": d.replied.isoformat() if d.replied else None, "found": d.found.isoformat(),
                "acknowledged": d.acknowledged.isoformat() if d.acknowledged else None,
                "digest": d.digest,
            }
        entry["rules"].append(d.rule)
        entry["evidence"].extend(d.evidence)
    return list(grouped.values())


def _cell(value: Any) -> str:
    text = " ".join(str(value).split())  # one line: newlines and control runs become spaces
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    return text if len(text) <= CELL else text[: CELL - 1] + "\u2026"


def table(items: list[dict[str, Any]]) -> str:
    head = ("source", "record", "rules", "evidence", "kind", "reason")
    rows = [head] + [
        (i["source"], i["number"] or i["key"], ", ".join(i["rules"]),
         "; ".join(dict.fromkeys(e.get("text", "") for e in i["evidence"])), i["kind"], i["reason"])
        for i in items
    ]
    cells = [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[n]) for r in cells) for n in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + f"\n{len(items)} dispute(s)\n"


def cli(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    path = state_path(config)
    with StateStore.open_readonly_or_empty(path) as store:
        items = entries(book.disputes(store, args.source))
    out = sys.stdout
    if args.format == "jsonl":
        for item in items:
            out.write(json.dumps(item, ensure_ascii=True) + "\n")
    elif args.format == "json":
        out.write(json.dumps(items, ensure_ascii=True, indent=2) + "\n")
    else:
        out.write(table(items) if items else "no disputes\n")
    out.flush()
    return 0
