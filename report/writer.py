"""What a scan tells people: a terminal summary, report.json, report.csv and report.html.

The terminal summary is for the admin who just ran a scan; the JSON is for
scripts and dashboards; the CSV (report/table.py) is one row per record for
spreadsheets; the HTML (``templates/report/report.html.j2``, rendered by
``render.Renderer.report`` with autoescaping) is for managers. The coaching effect and
the trend (report/effect.py) are read from the state file's history
(``load_coaching``), as the last real scan left it.

Everything written passes through ``for_output``: text that came from a ticket or a
server (a title, a number, an error) is one line, without control characters, and
capped, so a crafted title cannot add lines to a report or the terminal; and every
string is scrubbed of secrets (redact.py), so a server that echoes a credential in
its error body does not put it in a report. Report files the bot creates are 0600
in folders it creates 0700, whatever the umask; an existing report file (or the
target of a report file that is a symbolic link, which is followed on purpose: a link
into a web root) keeps its mode.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import logging
import os
import re
import secrets
import sqlite3
import stat
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from csi_coach import redact
from csi_coach.config.paths import PRIVATE_FILE_MODE, make_private_folders
from csi_coach.errors import ConfigError, StateError
from csi_coach.render import ZWSP, clean
from csi_coach.report import charts
from csi_coach.report.effect import CoachingEffect, as_data, coaching_effect
from csi_coach.report.table import csv_text
from csi_coach.rules.document import plain_text
from csi_coach.scan.state import RecordRow, StateStore

if TYPE_CHECKING:
    from csi_coach.scan.result import ScanResult

CATEGORY_LABELS = {
    "value": "names a service-value goal",
    "linked": "process metric linked to value",
    "process_only": "process metrics only",
    "no_goal": "no goal",
    "unsure": "unsure: a consequence the rules cannot place (not coached)",
}
REPORT_TEMPLATE = "report.html.j2"
REPORT_FILES = ("report.json", "report.csv", "report.html")
FOLDER_EXPECTED = "a folder (created if missing) in which report.csv, report.json and report.html can be written"
log = logging.getLogger("csi_coach.report")
# Text from tickets and servers, per field: one line of at most this many characters.
LINE_LIMITS = {"title": 200, "number": 80, "key": 120, "error": 1000, "why": 500, "reason": 500}


def for_output(data: Any) -> Any:
    """A copy of report or summary data fit to write: the fields of ``LINE_LIMITS`` one
    capped line each, wherever they stand, and every string scrubbed of secrets."""
    return redact.scrub_data(_one_line_fields(data))


def _one_line_fields(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: clean(v, LINE_LIMITS[k]) if k in LINE_LIMITS and isinstance(v, str) else _one_line_fields(v)
                for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_one_line_fields(v) for v in data]
    return data


def _line(text: Any, field: str) -> str:
    return clean(str(text), LINE_LIMITS[field])


def summary_text(result: ScanResult, *, report_dir: str | None = None) -> str:
    lines: list[str] = []
    head = "Dry run: nothing was written" if result.dry_run else "Scan finished"
    lines.append(f"{head} ({result.status}).")
    for s in result.sources:
        mode = "full" if s.full else "incremental"
        lines.append(f"  {s.name} ({s.type or 'source'}, {mode}, {s.seconds:.1f}s)")
        if s.status == "failed":
            lines.append(f"    could not be scanned: {_line(s.error, 'error')}")
        for warning in s.warnings:  # the field mapping, from the records read (connectors.field_census)
            lines.append(f"    warning: {_line(warning, 'error')}")
        lines.append(f"    {s.records} records read, {s.flagged} flagged, {s.skipped} skipped")
        for cat, n in sorted(s.categories.items(), key=lambda kv: -kv[1]):
            lines.append(f"      {n:6d}  {CATEGORY_LABELS.get(cat, cat)}")
        verb = "would write" if result.dry_run else "wrote"
        lines.append(
            f"    {verb} {s.written} comment(s): {s.posted} new, {s.updated} edited, {s.acknowledged} acknowledgements"
        )
        if s.deferred:
            lines.append(f"    {s.deferred} write(s) deferred to the next run (max_writes_per_run)")
        if s.settled:
            lines.append(f"    {s.settled} write(s) left pending by an earlier scan were settled")
        if s.failed:
            lines.append(f"    {s.failed} record(s) failed and will be retried next scan:")
            for f in s.failures[:10]:
                lines.append(f"      {_line(f['number'] or f['key'], 'key')}: {_line(f['error'], 'error')}")
            if s.failed > 10:
                lines.append(f"      ... and {s.failed - 10} more (see the log or the report)")
        totals = result.estate.get(s.name)
        if totals is not None:
            if totals.repeated:
                lines.append(f"    {len(totals.repeated)} record(s) have failed several scans in a row:")
                for r in totals.repeated[:10]:
                    lines.append(f"      {_line(r['number'] or r['key'], 'key')}: {r['failures']} scans, "
                                 f"last error: {_line(r['error'], 'error')}")
                if len(totals.repeated) > 10:
                    lines.append(f"      ... and {len(totals.repeated) - 10} more (see the report)")
            known = "known before this dry run" if result.dry_run else "known in total"
            lines.append(f"    {known}: {totals.records} records, {totals.flagged} flagged, {totals.failing} failing")
    if not result.dry_run:
        lines.append(f"State: {result.state_path}")
    if report_dir:
        lines.append(f"Report: {Path(report_dir) / 'report.html'}")
    return redact.scrub("\n".join(lines)) + "\n"


def check_folder(folder: Path) -> None:
    """Raise ConfigError unless report.json and report.html can be written into
    ``folder``: checked before a scan so it never fails after comments were written.
    Only stats and probes (an unnamed temporary file); creates nothing."""
    from csi_coach.config.paths import probe_folder, writable_problem

    shown = str(folder)
    if folder.exists() and not folder.is_dir():
        hint = " (--report takes a folder, not a file name)" if folder.suffix.lower() in (".html", ".json", ".csv") else ""
        raise ConfigError(f"is a file, not a folder{hint}", file=shown, key="--report", expected=FOLDER_EXPECTED)
    if not folder.exists() and folder.suffix.lower() in (".html", ".json", ".csv"):
        raise ConfigError("looks like a file name, but --report takes a folder", file=shown, key="--report",
                          expected=FOLDER_EXPECTED)
    for name in REPORT_FILES:
        # A report file is replaced, not written into (write_report): what must be
        # writable is the folder holding it, or its link's target.
        try:
            target = _target(folder.absolute() / name)
        except OSError as exc:
            raise ConfigError(f"cannot write the report there: {exc}", file=shown, key="--report",
                              expected=FOLDER_EXPECTED) from None
        problem: str | None
        if target.is_dir():
            problem = f"{target} is a folder"
        elif target != folder.absolute() / name and not target.parent.is_dir():
            problem = f"the link {name} points into {target.parent}, which does not exist"
        else:
            problem = probe_folder(target.parent) if target.exists() else writable_problem(target, needs_folder=True)
        if problem:
            raise ConfigError(f"cannot write the report there: {problem}", file=shown, key="--report",
                              expected=FOLDER_EXPECTED)


@dataclass(frozen=True)
class Coaching:
    """What the state file's history says: the effect and trend, and every record."""

    effect: CoachingEffect
    records: tuple[RecordRow, ...]


def load_coaching(state_path: str | Path | None, *, as_of: datetime | None = None) -> Coaching | None:
    """The coaching effect from the state file, read-only; None when there is no file, or it
    cannot say (a state file from before the history, one that cannot be read: logged)."""
    if not state_path or str(state_path) == ":memory:" or not Path(state_path).exists():
        return None
    try:
        with StateStore(state_path, readonly=True) as store:
            if store.schema_version() < 4:
                return None
            history, records, trend = store.history(), store.record_rows(), store.trend()
    except (StateError, sqlite3.Error) as exc:
        log.warning("the report has no history: cannot read the state file: %s", exc)
        return None
    return Coaching(coaching_effect(history, records, trend, as_of or datetime.now(UTC)), tuple(records))


def coaching_data(coaching: Coaching | None) -> dict[str, Any] | None:
    """report.json's ``coaching`` key (README "The report"); the per-record courses go to report.csv."""
    if coaching is None:
        return None
    e = coaching.effect
    data: dict[str, Any] = {
        "as_of": e.as_of.isoformat(),
        "windows_days": [w.days for w in e.overall.coached.windows],
        "overall": as_data(e.overall),
        "trend": as_data(e.trend),
    }
    for b in e.breakdowns:
        data[f"by_{b.dimension}"] = as_data(b.slices)
    return data


def report_data(result: ScanResult, coaching: Coaching | None = None) -> dict[str, Any]:
    data = result.summary()
    data["details"] = {
        s.name: {"writes": s.writes, "failures": s.failures, "unsure": s.unsure} for s in result.sources
    }
    data["disputes_by_rule"] = disputes_by_rule(result)
    data["coaching"] = coaching_data(coaching)
    return for_output(data)


def disputes_by_rule(result: ScanResult) -> list[dict[str, Any]]:
    """Owners' pushback per rule (issue 15 item 3): records coached on the rule, records
    whose owner disputed it, and the rate; the rules with disputes first."""
    return [dict(d) for d in result.disputes_by_rule]


def _categories(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"name": c, "label": CATEGORY_LABELS.get(c, c), "count": n}
        for c, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def report_context(result: ScanResult, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything report.html.j2 shows, in one dict (charts may be drawn from it too):

    - ``scan``: report.json's data (``report_data``): the scan's summary, ``details``,
      ``disputes_by_rule`` and ``coaching``;
    - ``coaching`` (the same as ``scan.coaching``): None when the state file has no history,
      else {``as_of``, ``windows_days``: [7, 30, 90], ``overall``: effect,
      ``by_source`` / ``by_service`` / ``by_group`` / ``by_rule``: [{``name``, ``effect``}]
      (most coached first), ``trend``: [{``scan_id``, ``source``, ``at``, ``judged``,
      ``flagged``, ``value_goal``, ``unsure``, ``opted_out`` and each ``*_share``}]}, where an
      effect is {``coached``, ``uncoached``}, each a cohort {``records``, ``fixed``,
      ``median_days_to_fix``, ``windows``: [{``days``, ``eligible``, ``fixed``, ``share``}]};
      shares are 0..1 or None, times ISO 8601 text;
    - ``sources``: per source scanned, its counts, ``categories`` [{name, label, count}],
      ``writes``, ``failures``, ``unsure_records``, ``estate`` (totals from the state file);
    - ``category_labels``: category name -> what it means; ``disputes_by_rule``;
    - ``charts`` (report/charts.py ``report_charts``, inline SVG; empty without history):
      ``days`` (the window drawn), ``trend_value_goal``, ``trend_flagged``, ``by_group``, ``by_rule``.
    Written comments (``sources[].writes[].body``) are readable text (``readable_comment``).
    """
    data = data if data is not None else report_data(result)
    sources = []
    for s in result.sources:
        totals = result.estate.get(s.name)
        estate = None
        if totals is not None:
            estate = {
                **totals.as_dict(),
                "failing_in_a_row": list(totals.repeated),
                "categories": _categories(totals.categories),
                "judged": sum(totals.categories.values()),
            }
        sources.append({
            **s.counts(),
            "name": s.name,
            "categories": _categories(dict(s.categories)),
            "writes": [{**w, "body": readable_comment(w.get("body", ""), s.type)} for w in s.writes],
            "failures": s.failures,
            "unsure_records": s.unsure,
            "estate": estate,
        })
    return {"scan": data, "sources": for_output(sources), "category_labels": CATEGORY_LABELS,
            "disputes_by_rule": for_output(disputes_by_rule(result)), "coaching": data.get("coaching"),
            "charts": _placed(charts.report_charts(data.get("coaching")))}


def _placed(drawn: Any) -> Any:
    """report/charts.py's SVG marked safe for the autoescaping template: every text in it
    was escaped where it was drawn."""
    if isinstance(drawn, str):
        return Markup(drawn)
    if isinstance(drawn, dict):
        return {k: _placed(v) for k, v in drawn.items()}
    if isinstance(drawn, list):
        return [_placed(v) for v in drawn]
    return drawn


_JIRA_ESCAPED = "-#*_+?^~|%{}[]()!@"  # what render.escape_jira puts a backslash before
_JIRA_ESCAPE = re.compile(r"\\([-#*_+?^~|%{}\[\]()!@])")
_JIRA_QUOTE_LINE = re.compile(r"(?m)^(?:bq|h[1-6])\.[ \t]*")
_JIRA_EMPHASIS = re.compile(r"(?<!\w)([*_])(\S(?:[^\n]*?\S)?)\1(?!\w)")
_HELD = 0xE000  # escaped characters wait in the private-use area while the markup is read


def readable_comment(body: str, target: str) -> str:
    """A comment the bot wrote, as its reader sees it on the ticket: Jira's wiki markup
    (quotes, headings, emphasis) read as plain text (rules/document.py) and its escapes
    undone, so ticket text quoted in it reads as the owner wrote it; the zero-width spaces
    that keep ticket text inert are dropped. The report shows it escaped, in a <pre>."""
    text = body.replace(ZWSP, "")
    if target == "jira":
        text = _JIRA_ESCAPE.sub(lambda m: chr(_HELD + _JIRA_ESCAPED.index(m.group(1))), text)
        text = plain_text(_JIRA_QUOTE_LINE.sub("", text))
        text = _JIRA_EMPHASIS.sub(r"\2", text)
        text = "".join(_JIRA_ESCAPED[ord(ch) - _HELD] if _HELD <= ord(ch) < _HELD + len(_JIRA_ESCAPED) else ch
                       for ch in text)
    return text


html_context = report_context  # its name before the coaching effect


def render_html(result: ScanResult, renderer: Any, data: dict[str, Any] | None = None) -> str:
    return renderer.report(REPORT_TEMPLATE, report_context(result, data))


def write_report(folder: Path, result: ScanResult, renderer: Any, *, as_of: datetime | None = None) -> list[Path]:
    """Write report.json, report.csv and report.html into ``folder`` (created if missing).

    The HTML is rendered before anything is written, and each file is written beside
    its target under a temporary name, flushed to disk, and only then moved into
    place: a dashboard reading the report mid-write sees a whole file, never a
    truncated one, and a write that fails (a full disk) leaves each file either as it
    was or wholly new. A report file that is a symbolic link (into a web root, say)
    has its target replaced, and the link kept; an existing file keeps its mode, a new
    one is 0600 (and a folder made for it 0700), whatever the umask."""
    coaching = load_coaching(result.state_path, as_of=as_of)
    data = report_data(result, coaching)
    html = render_html(result, renderer, data)
    make_private_folders(folder)
    texts = {
        "report.json": json.dumps(data, indent=2, sort_keys=True, default=str) + "\n",
        "report.csv": csv_text(coaching.records if coaching else (), coaching.effect.courses if coaching else ()),
        "report.html": html,
    }
    staged: list[tuple[Path, Path]] = []
    try:
        for name, text in texts.items():
            target = _target(folder / name)
            _sweep_stale(target)
            tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
            # Made 0600, or with the mode of the file it replaces, so a web server that
            # could read the old report reads the new.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
            staged.append((tmp, target))
            os.fchmod(fd, PRIVATE_FILE_MODE)  # the umask may have cut it further
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            if target.exists():
                # Its permission bits (not set-id bits) and, where allowed, its group.
                st = target.stat()
                os.chmod(tmp, stat.S_IMODE(st.st_mode) & 0o777)
                with contextlib.suppress(OSError):
                    os.chown(tmp, -1, st.st_gid)
        for tmp, target in staged:
            os.replace(tmp, target)
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):  # never hide the error that got us here
                tmp.unlink(missing_ok=True)
    return [folder / name for name in texts]


_STALE_SECONDS = 3600


def _target(path: Path) -> Path:
    """The file a report path stands for: itself, or where its symbolic link leads.
    A link loop is an OSError, on every Python: 3.11 and 3.12 raise RuntimeError for
    it, 3.13 returns the looping path unresolved, which stat() then refuses."""
    if not path.is_symlink():
        return path
    loop = OSError(errno.ELOOP, "symbolic link loop", str(path))
    try:
        target = path.resolve()
    except RuntimeError:
        raise loop from None
    try:
        target.stat()
    except OSError as exc:
        # Only a loop: a link to a file not written yet is a place to write the report.
        if exc.errno == errno.ELOOP:
            raise loop from None
    return target


def _sweep_stale(target: Path) -> None:
    """Remove temporary copies of ``target`` left by a scan that was killed mid-write
    (older than an hour, so a scan writing right now is never disturbed)."""
    cutoff = time.time() - _STALE_SECONDS
    for old in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if old.stat().st_mtime < cutoff:
                old.unlink()
