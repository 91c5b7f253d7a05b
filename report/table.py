"""report.csv: one row per record with its latest verdict and its history, for spreadsheets.

Pure: rows in, text out. Text that came from a ticket (a title, a service, a group) is
made one line (``render.clean``), scrubbed of secrets, and a cell that a spreadsheet would
read as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return)
gets a leading ``'`` so that it is shown as text, never run (CSV injection). Commas, quotes
and the rest are the ``csv`` module's business (RFC 4180 quoting).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from csi_coach import redact
from csi_coach.render import clean
from csi_coach.report.effect import Course

COLUMNS: tuple[str, ...] = (
    "source", "key", "number", "title", "service", "group", "category", "value_goal", "flagged", "opted_out",
    "last_seen", "failures", "coached", "first_coached", "fixed_at", "days_to_fix",
)
TEXT_LIMIT = 500  # characters kept of a ticket's text per cell
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_VALUE_GOAL = {"value": "yes", "linked": "yes", "process_only": "no", "no_goal": "no", "unsure": "unsure"}


def safe_cell(text: str) -> str:
    """``text`` as one line, without secrets, never read as a spreadsheet formula."""
    text = redact.scrub(clean(text, TEXT_LIMIT))
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_text(records: Iterable[Any], courses: Iterable[Course]) -> str:
    """One row per record (``scan.state.RecordRow``), with its course where it has one."""
    by_record = {(c.source, c.key): c for c in courses}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in records:
        course = by_record.get((r.source, r.key))
        days = course.days_to_fix if course is not None else None
        writer.writerow([
            safe_cell(r.source), safe_cell(r.key), safe_cell(r.number), safe_cell(r.title), safe_cell(r.service),
            safe_cell(r.group), r.category, _VALUE_GOAL.get(r.category, ""), _yes(r.flagged), _yes(r.opted_out),
            r.last_seen.isoformat() if r.last_seen else "", r.failures,
            _yes(course is not None and course.coached),
            course.started.isoformat() if course is not None and course.coached else "",
            course.fixed_at.isoformat() if course is not None and course.fixed_at else "",
            "" if days is None else f"{days:.4f}",
        ])
    return out.getvalue()


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
