"""`csi-coach classify --input FILE.jsonl`: one JSON verdict line per record, in order.

    csi-coach classify --input records.jsonl [--rules PATH]
    cat records.jsonl | csi-coach classify --input -

Each input line is a JSON object in the eval format (id, source, number, title,
description, goal, service; labels, state, container optional). Each output line
holds ``id``, ``category``, ``value_goal``, ``measurable`` and ``findings``. A line
that is not a JSON object gets ``{"id": ..., "line": N, "error": "..."}`` instead and
the command exits 1 after the last line; blank lines are skipped. Rules: --rules,
else the config's ``rules`` when the config file exists, else the shipped default.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from csi_coach import rules
from csi_coach.commands.record_json import record_from_json
from csi_coach.errors import ConfigError


def rules_spec_for(args: argparse.Namespace) -> str | Path:
    """--rules, else the config file's rules (when the file exists), else "default"."""
    if getattr(args, "rules", None):
        return "default" if args.rules == "default" else Path(args.rules).absolute()
    config_path = Path(args.config) if getattr(args, "config", None) else None
    if config_path is not None and config_path.exists():
        from csi_coach.config import load_config

        return load_config(config_path).rules_spec()
    return "default"


def classify_lines(lines: Iterator[bytes], ruleset: rules.RuleSet) -> Iterator[dict[str, Any]]:
    """One result dict per non-blank line: the verdict, or an ``error`` entry."""
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        obj: Any = None
        try:
            text = raw.decode("utf-8")
            obj = json.loads(text)
            record = record_from_json(obj, default_source="classify")
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            ident = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), (str, int)) else None
            reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc).splitlines()[0][:200]
            yield {"id": ident, "line": n, "error": reason}
            continue
        verdict = rules.evaluate(record, ruleset)
        out: dict[str, Any] = {"id": obj.get("id", record.key)}
        out.update(verdict.to_dict())
        if verdict.exempt:
            out["exempt"] = True
        yield out


def _json_line(result: dict[str, Any]) -> str:
    """One output line: UTF-8 text as is, but a lone surrogate (valid JSON, not valid
    UTF-8) is written as a \\u escape instead of failing the write and every later line."""
    line = json.dumps(result, ensure_ascii=False)
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = json.dumps(result, ensure_ascii=True)
    return line + "\n"


def _open_input(spec: str) -> IO[bytes]:
    if spec == "-":
        return sys.stdin.buffer
    try:
        return open(spec, "rb")
    except FileNotFoundError:
        raise ConfigError("input file not found", file=spec, expected="a JSONL file, one record per line, or '-' for stdin") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the input file: {exc.strerror}", file=spec) from None


def cli(args: argparse.Namespace) -> int:
    ruleset = rules.load_ruleset(rules_spec_for(args))
    failed = 0
    stream = _open_input(args.input)
    out = sys.stdout
    try:
        for result in classify_lines(iter(stream.readline, b""), ruleset):
            failed += "error" in result
            out.write(_json_line(result))
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    out.flush()
    if failed:
        print(f"csi-coach: {failed} line(s) could not be classified (see their \"error\")", file=sys.stderr)
        return 1
    return 0
