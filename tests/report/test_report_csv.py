"""report.csv (report/table.py): its columns, quoting, one line per record, formula cells defused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from csi_coach.report.effect import Course
from csi_coach.report.table import COLUMNS, csv_text, safe_cell
from csi_coach.scan.state import RecordRow

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def row(key, title, **kw):
    base = dict(number=key.upper(), service="Payroll", group="HR", category="no_goal", flagged=True, opted_out=False,
                last_seen=T0, failures=0)
    base.update(kw)
    return RecordRow("snow", key, base.pop("number"), title, **base)


def test_columns_and_the_history_fields():
    records = [row("a", "plain"), row("b", "other", category="value", flagged=False)]
    courses = [Course("snow", "a", True, T0, T0 + timedelta(days=2, hours=12), ("r1",))]
    table = list(csv.DictReader(io.StringIO(csv_text(records, courses))))
    assert tuple(table[0]) == COLUMNS
    assert table[0] | {} == {
        "source": "snow", "key": "a", "number": "A", "title": "plain", "service": "Payroll", "group": "HR",
        "category": "no_goal", "value_goal": "no", "flagged": "yes", "opted_out": "no",
        "last_seen": T0.isoformat(), "failures": "0", "coached": "yes", "first_coached": T0.isoformat(),
        "fixed_at": (T0 + timedelta(days=2, hours=12)).isoformat(), "days_to_fix": "2.5000"}
    assert (table[1]["value_goal"], table[1]["coached"], table[1]["first_coached"], table[1]["days_to_fix"]) == ("yes", "no", "", "")


def test_commas_quotes_newlines_and_formulas_in_ticket_text():
    titles = ['Cut costs, then "grow"', "two\nlines\r\nhere", "=HYPERLINK(\"http://x\")", "+1", "-cmd", "@SUM(A1)",
              "\tTabbed"]
    records = [row(f"k{i}", t) for i, t in enumerate(titles)] + [row("s", "safe", service="=evil()", group="@grp")]
    text = csv_text(records, [])
    assert text.count("\r\n") == len(records) + 1  # a header and one line per record: no newline inside a cell
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["title"] for r in table] == ['Cut costs, then "grow"', "two lines here", "'=HYPERLINK(\"http://x\")",
                                           "'+1", "'-cmd", "'@SUM(A1)", "Tabbed", "safe"]
    assert (table[-1]["service"], table[-1]["group"]) == ("'=evil()", "'@grp")
    assert '"Cut costs, then ""grow"""' in text  # RFC 4180 quoting


def test_safe_cell_leaves_ordinary_text_alone():
    assert safe_cell("Reduce churn by 5%") == "Reduce churn by 5%"
    assert safe_cell("a = b") == "a = b"
