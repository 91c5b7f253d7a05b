"""`csi-coach explain`: the verdict, its evidence, and the exact comment the bot would write.

    csi-coach explain --text "Reduce P1 incidents by 20%"
    csi-coach explain --file record.json        (a UTF-8 text file, a JSON record or a JSONL line, eval format;
                                                 binary, non-UTF-8 or empty files are refused, exit 2)
    csi-coach explain --ticket servicenow:CIM0010023
    ... [--rules PATH] [--target servicenow|jira] [--json]

Runs without a config file (shipped rules and templates); with one, it uses the
config's rules, templates and comment policy, so what it prints is what a scan
would write. It writes nothing anywhere. Exit 0; 2 for a bad config or an
unreadable --file; 1 when a --ticket cannot be fetched.

Every verdict comes with the rules that keep the record from being coached (which
[exempt] label or field, opt-out label, skip state, category) and, when unsure, what
the rules could not place. A --ticket also gets its history (commands/ticket_history.py):
when the bot coached it, with which marker and finding, from the state file and the
ticket's own comments, and what the next scan would do (write nothing, edit, add,
acknowledge) and why; the comment shown is the one that scan would write.

What it prints is scrubbed of secrets (redact.py) like everything the bot writes: a
credential-shaped text ("password=...") in a ticket shows as ``[redacted]`` here.
"""

from __future__ import annotations

import argparse
import codecs
import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from csi_coach import redact
from csi_coach.commands.record_json import record_from_json
from csi_coach.config import CommentPolicy, Config, load_config
from csi_coach.errors import CoachError, ConfigError, NotFound
from csi_coach.model import BrokenRecord, Record, Verdict, marker_for

FILE_LIMIT = 10 * 1024 * 1024  # explain reads one record, not a data set
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _scrub(text: str) -> str:
    """Lone surrogates (from odd argv bytes or JSON escapes) cannot be printed; show U+FFFD."""
    return _SURROGATE_RE.sub("\ufffd", text)


def _load_config(args: argparse.Namespace) -> Config | None:
    path = Path(args.config)
    if path.exists() or args.ticket:
        return load_config(path)
    from csi_coach.config import default_config_path

    if str(args.config) != default_config_path():
        return load_config(path)  # named explicitly: a missing file is an error
    print(f"note: no config file at {path}; using the shipped rules and templates", file=sys.stderr)
    return None


def _record_from_json(obj: dict[str, Any], origin: str, path: Path) -> Record:
    try:
        record = record_from_json(obj, default_source="file", default_key=origin)
    except ValueError as exc:
        raise ConfigError(f"the JSON record is not one csi-coach can read: {exc}", file=str(path),
                          expected=JSON_FIELDS) from None
    return replace(record, title=_scrub(record.title), description=_scrub(record.description), goal=_scrub(record.goal),
                   service=_scrub(record.service), owner=_scrub(record.owner), number=_scrub(record.number),
                   key=_scrub(record.key), labels=tuple(_scrub(x) for x in record.labels))


def record_from_file(path: Path) -> Record:
    """A JSON object, the first line of a JSONL file (eval format), or plain text as the goal."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(FILE_LIMIT + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", file=str(path), expected="a readable text or JSON file") from None
    if len(raw) > FILE_LIMIT:
        raise ConfigError(f"the file is larger than {FILE_LIMIT // (1024 * 1024)} MB", file=str(path),
                          expected="one record (use `csi-coach classify` for many)")
    text = _decode_text(raw, path)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        for candidate, _line in ((stripped, None), (stripped.splitlines()[0], 1)):
            try:
                obj = json.loads(candidate)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                record = _record_from_json(obj, path.name, path)
                if not any(t.strip() for t in (record.title, record.description, record.goal)):
                    raise ConfigError("the JSON record has no text to judge (title, description and goal are empty)",
                                      file=str(path), expected=JSON_FIELDS)
                return record
        raise ConfigError("the file starts with '{' but is not a JSON object (nor JSONL)", file=str(path),
                          expected="a JSON record such as {\"goal\": \"...\"}, one per line for JSONL, or plain text")
    return Record.from_text(text.strip(), key=path.name, source="file")


TEXT_FILE = "a UTF-8 text file holding the goal text, or one JSON record"
JSON_FIELDS = 'a JSON record with "title", "description" or "goal" text, e.g. {"goal": "..."}'


def _decode_text(raw: bytes, path: Path) -> str:
    """The file as text, or a ConfigError: binary, non-UTF-8 and empty files are mistakes.

    A judgement of garbage would look like a real verdict, so nothing is guessed:
    UTF-8 (with or without BOM) is read, and UTF-16 only when a BOM says so
    (Windows editors save "Unicode" text that way).
    """
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, body = "utf-16", raw
    else:
        encoding, body = "utf-8-sig", raw
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError as exc:
        if b"\x00" in raw:
            raise ConfigError("the file is binary (it contains NUL bytes), not text", file=str(path),
                              expected=TEXT_FILE) from None
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}, "
                          f"line {line})", file=str(path), expected=TEXT_FILE + " (save it as UTF-8)") from None
    if "\x00" in text:
        raise ConfigError("the file is binary (it contains NUL bytes), not text", file=str(path), expected=TEXT_FILE)
    if not text.strip():
        raise ConfigError("the file is empty" if not raw else "the file holds only white space", file=str(path),
                          expected=TEXT_FILE)
    return text


def record_from_ticket(config: Config, spec: str) -> tuple[Record, str]:
    """Fetch SOURCE:KEY through the source's connector; returns the record and its target."""
    with ticket_source(config, spec) as (_connector, record, target):
        return record, target


@contextmanager
def ticket_source(config: Config, spec: str) -> Iterator[tuple[Any, Record, str]]:
    """The open connector of SOURCE, the record KEY read through it, and its target."""
    name, sep, key = spec.partition(":")
    if not sep or not name or not key:
        raise ConfigError("--ticket must be SOURCE:KEY", key="--ticket", got=spec, has_got=True,
                          expected="a configured source name and a record number or key, e.g. servicenow:CIM0010023")
    settings = config.source(name)
    try:
        from csi_coach.connectors import open_connector
        from csi_coach.connectors.base import RecordLookup
        from csi_coach.connectors.transport import Limiters
    except ImportError:
        raise CoachError(f"fetching live tickets is not available in this build (no connector for {name!r}); "
                         "use --text or --file") from None
    with open_connector(settings, limiters=Limiters()) as conn:
        if isinstance(conn, RecordLookup):
            item = conn.get(key)  # one request
        else:  # no single-record read: walk the source until the record turns up
            print(f"note: reading source {name!r} until {key!r} turns up (the connector has no single-record read)",
                  file=sys.stderr)
            item = next((r for r in conn.fetch(None) if key in (r.key, r.number)), None)
        target = getattr(conn, "target", settings.type)
        if item is None:
            raise NotFound(f"no record {key!r} in source {name!r} (looked for a matching key or number)")
        if isinstance(item, BrokenRecord):
            raise CoachError(f"{name}:{key} could not be read: {item.reason}")
        yield conn, item, target


def _decision(record: Record, verdict: Verdict, policy: CommentPolicy) -> tuple[bool, str]:
    """Would a first scan write a comment? (True, reason) or (False, why not)."""
    from csi_coach.coach import ActionKind, History, decide

    action = decide(record, verdict, History(), policy, datetime.now(UTC), False)
    if action.kind == ActionKind.POST:
        return True, action.reason
    if verdict.value_goal and action.kind == ActionKind.NONE:
        return False, f"the record names a service-value goal (category {verdict.category.value}); the bot stays silent"
    return False, action.reason


def explain(record: Record, *, config: Config | None, rules_spec: str | Path, target: str,
            connector: Any = None) -> dict[str, Any]:
    """Everything explain prints, as data. With ``connector`` (a --ticket's, open) and a
    config: the record's history, and the decision and comment of the next scan."""
    from csi_coach import rules
    from csi_coach.coach import ActionKind
    from csi_coach.commands.ticket_history import NEXT_WORDS, read_history, unsure_reason, what_applies
    from csi_coach.render import Renderer

    ruleset = rules.load_ruleset(rules_spec)
    verdict = rules.evaluate(record, ruleset)
    policy = config.comments if config else CommentPolicy()
    renderer = Renderer.from_config(config) if config else Renderer()
    history = None
    if connector is not None and config is not None:
        history = read_history(config, connector, record, verdict, datetime.now(UTC))
        action = history.action
        writes, reason, marker = action.writes, action.reason, action.marker or marker_for(verdict.digest())
    else:
        writes, reason = _decision(record, verdict, policy)
        marker = marker_for(verdict.digest())
    if not writes:
        comment = None
    elif history is not None and history.action.kind is ActionKind.ACKNOWLEDGE:
        comment = renderer.acknowledgement(target, record, verdict, marker)
    else:
        comment = renderer.comment(target, record, verdict, marker)
    extra: dict[str, Any] = {"applies": what_applies(record, verdict, ruleset, policy),
                             "unsure_reason": unsure_reason(verdict)}
    if history is not None:
        extra["history"] = history.to_dict()
        extra["next_scan"] = {"action": history.action.kind.value, "does": NEXT_WORDS[history.action.kind],
                              "reason": history.action.reason,
                              "edits": history.action.previous.comment_id if history.action.previous else None}
    return {
        "record": {"source": record.source, "key": record.key, "number": record.number, "title": record.title,
                   "goal": record.goal, "service": record.service, "state": record.state, "labels": list(record.labels),
                   # fields cut to the source's max_field_chars: the verdict saw their start only
                   "truncated": list(record.truncated)},
        "rules": {"spec": str(rules_spec), "version": ruleset.version},
        **verdict.to_dict(),
        "exempt": verdict.exempt,
        "target": target,
        "marker": marker,
        "comment": comment,
        "reason": reason,
        **extra,
    }


def _print_text(result: dict[str, Any], out: Any = None) -> None:
    out = out if out is not None else sys.stdout  # looked up per call: a redirect made later holds
    rec = result["record"]
    yes = lambda b: "unsure (not coached)" if b is None else "yes" if b else "no"  # noqa: E731
    if rec["source"] == "cli":
        label = "(text given with --text)"
    elif rec["source"] == "file" and rec["number"] == rec["key"]:
        label = rec["number"]
    else:
        label = f"{rec['source']}:{rec['number']}"
    print(f"Record      {label}" + (f"  ({rec['service']})" if rec["service"] else ""), file=out)
    print(f"Category    {result['category']}", file=out)
    print(f"Value goal  {yes(result['value_goal'])}", file=out)
    print(f"Measurable  {yes(result['measurable'])}", file=out)
    if result["exempt"]:
        why = [a.partition(": ")[2] for a in result.get("applies", []) if a.startswith("exempt:")]
        print(f"Exempt      yes: {'; '.join(why) or 'an [exempt] label or field of the rule set'}", file=out)
    if rec.get("truncated"):
        print(f"Truncated   {', '.join(rec['truncated'])} (judged on the first max_field_chars characters only)",
              file=out)
    print(f"Rules       {result['rules']['spec']} (version {result['rules']['version']})", file=out)
    findings = result["findings"]
    print(f"Findings    {len(findings) or 'none'}", file=out)
    for f in findings:
        print(f"  [{f['severity']}] {f['rule']}: {f['message']}", file=out)
        for e in f["evidence"]:
            words = e["text"] if len(e["text"]) <= 100 else e["text"][:99] + "…"
            print(f"      {e['field']}[{e['start']}:{e['end']}] {words!r}", file=out)
    if result.get("unsure_reason"):
        print(f"Unsure      {result['unsure_reason']}", file=out)
    for i, rule in enumerate(result.get("applies", [])):
        print(f"{'Applies' if i == 0 else '':<12}{rule}", file=out)
    if "history" in result:
        _print_history(result, out)
    print(file=out)
    if result["comment"] is None:
        print(f"No comment: {result['reason']}.", file=out)
        return
    when = "the next scan would write" if "history" in result else "that would be written"
    edits = (result.get("next_scan") or {}).get("edits")
    print(f"Comment {when} ({result['target']}{f', replacing comment {edits}' if edits else ''}):", file=out)
    print("-" * 72, file=out)
    print(result["comment"], file=out)
    print("-" * 72, file=out)


def _print_history(result: dict[str, Any], out) -> None:
    from csi_coach.commands.ticket_history import KIND_WORDS

    history, next_scan = result["history"], result["next_scan"]
    state = history["state_file"] + ("" if history["state_file_exists"] else " (no such file: no scan has run yet)")
    print(f"History     state file {state}", file=out)
    if not history["comments"]:
        ticket = "nor" if history["comments_read"] else "and the ticket's comments could not be read to see"
        print(f"            never coached: the state file knows no bot comment on it, {ticket} the ticket", file=out)
    for c in history["comments"]:
        when = c["at"][:16].replace("T", " ") + " UTC" if c["at"] else "(time unknown)"
        comment_id = f", comment {c['comment_id']}" if c["comment_id"] else ""
        print(f"  {when}  {KIND_WORDS.get(c['kind'], c['kind'])} with {c['marker']}{comment_id}", file=out)
        print(f"{'':20}{c['where']}", file=out)
        same = "the same finding as now" if c["same_finding_as_now"] else "a finding other than now's"
        print(f"{'':20}{same}" + (f": \"{c['finding']}\"" if c["finding"] else ""), file=out)
    judged = history["last_judged"]
    if judged is not None and judged["last_seen"]:
        print(f"  last judged {judged['last_seen'][:16].replace('T', ' ')} UTC: {judged['category'] or '(failed)'}"
              + (f", failing {judged['failures']} scan(s) in a row" if judged["failures"] else ""), file=out)
    print(f"Next scan   {next_scan['does']}: {next_scan['reason']}", file=out)
    for note in history["notes"]:
        print(f"            ({note})", file=out)


def cli(args: argparse.Namespace) -> int:
    config = _load_config(args)
    if config is not None:
        config.register_secrets()
    if args.rules:
        rules_spec: str | Path = "default" if args.rules == "default" else Path(args.rules).absolute()
    else:
        rules_spec = config.rules_spec() if config else "default"
    if args.ticket:
        assert config is not None  # a --ticket always loads the config (_load_config)
        with ticket_source(config, args.ticket) as (connector, record, ticket_target):
            data = explain(record, config=config, rules_spec=rules_spec, target=args.target or ticket_target,
                           connector=connector)
    else:
        record = record_from_file(Path(args.file)) if args.file else replace(Record.from_text(_scrub(args.text)),
                                                                           number="this record")
        target = args.target or (record.source if record.source in ("servicenow", "jira") else "servicenow")
        data = explain(record, config=config, rules_spec=rules_spec, target=target)
    result = redact.scrub_data(data)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        _print_text(result)
    return 0

