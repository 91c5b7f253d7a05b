"""report/charts.py: inline SVG that parses, says what it shows in text, and copes
with no data, one point, many points, gaps and long or hostile labels."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from csi_coach.report.charts import (
    Bar,
    bar_chart,
    cut,
    effect_bars,
    effect_chart,
    line_chart,
    report_charts,
    trend_charts,
    trend_series,
)
from csi_coach.report.effect import as_data, coaching_effect, trend_points
from csi_coach.scan.state import HistoryRow, RecordRow, TrendRow

NS = {"s": "http://www.w3.org/2000/svg"}
DAYS = [f"2026-11-{d:02d}" for d in range(1, 9)]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # well-formed XML, or this raises
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iterfind(".//s:text", NS)]


def polylines(root: ET.Element) -> list[list[tuple[float, float]]]:
    return [[tuple(map(float, p.split(","))) for p in line.get("points", "").split()]  # type: ignore[misc]
            for line in root.iterfind(".//s:polyline", NS)]


def test_line_chart_is_titled_scalable_and_labels_each_line_at_its_end():
    svg = line_chart({"snow": [0.1, 0.2, 0.4], "jira": [0.5, 0.5, 0.25]}, DAYS[:3], title="Value-goal share")
    root = parse(svg)
    assert root.get("viewBox") == "0 0 640 260" and root.get("width") == "100%"
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby", "").split()
    assert root.find(f".//s:title[@id='{title_id}']", NS).text == "Value-goal share"  # type: ignore[union-attr]
    desc = root.find(f".//s:desc[@id='{desc_id}']", NS).text  # type: ignore[union-attr]
    assert "snow: 40% at 2026-11-03" in desc and "jira: 25% at 2026-11-03" in desc
    labels = texts(root)
    assert "snow 40%" in labels and "jira 25%" in labels
    assert {"0%", "50%", "100%"} <= set(labels)  # y ticks
    assert {"2026-11-01", "2026-11-03"} <= set(labels)  # x ticks, the first and last always
    # Lines differ by more than colour: each has its own dash pattern.
    dashes = [p.get("stroke-dasharray") for p in root.iterfind(".//s:polyline", NS)]
    assert len(set(dashes)) == 2


def test_higher_value_is_drawn_higher_and_end_labels_do_not_overlap():
    root = parse(line_chart({"a": [0.0, 1.0], "b": [0.5, 0.51], "c": [0.49, 0.5]}, DAYS[:2], title="t"))
    a = polylines(root)[0]
    assert a[0][1] > a[1][1]  # SVG's y grows downward: 100% is above 0%
    ends = sorted(float(t.get("y", 0)) for t in root.iterfind(".//s:g[@class='end-labels']/s:text", NS))
    assert len(ends) == 3 and all(b - a >= 12 for a, b in zip(ends, ends[1:], strict=False))


def test_no_points_says_so_instead_of_drawing():
    root = parse(line_chart({}, [], title="Trend"))
    assert "No scans recorded yet." in texts(root)
    assert not polylines(root) and root.find(".//s:circle", NS) is None
    root = parse(line_chart({"snow": [None, None]}, DAYS[:2], title="Trend"))  # points, but no values
    assert "No scans recorded yet." in texts(root)


def test_one_point_is_a_labelled_dot_in_the_middle():
    root = parse(line_chart({"snow": [0.5]}, ["2026-11-01"], title="Trend"))
    dots = root.findall(".//s:circle", NS)
    assert len(dots) == 1 and not polylines(root)
    assert float(dots[0].get("cx", 0)) == pytest.approx(44 + (640 - 44 - 190) / 2)
    assert "snow 50%" in texts(root) and "2026-11-01" in texts(root)


def test_gaps_none_and_nan_break_the_line():
    root = parse(line_chart({"snow": [0.1, 0.2, None, 0.3, math.nan, 0.4, 0.5]}, DAYS[:7], title="t"))
    runs = polylines(root)
    assert [len(r) for r in runs] == [2, 2]  # 0.3 stands alone between gaps: a dot, no line
    assert len(root.findall(".//s:circle", NS)) == 5
    assert "snow 50%" in texts(root)


def test_a_series_ending_in_a_gap_is_labelled_at_its_last_value():
    root = parse(line_chart({"snow": [0.1, 0.3, None]}, DAYS[:3], title="t"))
    assert "snow 30%" in texts(root)


def test_many_points_thin_the_ticks_and_drop_the_markers():
    n = 500
    root = parse(line_chart({"snow": [i / n for i in range(n)]}, [f"scan {i}" for i in range(n)], title="t"))
    assert root.find(".//s:circle", NS) is None
    assert len(polylines(root)[0]) == n
    x_ticks = [t for t in texts(root) if t.startswith("scan ")]
    assert 2 <= len(x_ticks) <= 6 and x_ticks[0] == "scan 0" and x_ticks[-1] == "scan 499"


def test_x_tick_labels_have_room():
    root = parse(line_chart({"snow": [0.5] * 8}, DAYS, title="t"))
    xs = [float(t.get("x", 0)) for t in root.iterfind(".//s:g[@class='ticks']/s:text", NS)
          if (t.text or "").startswith("2026")]
    assert all(b - a >= 12 * 6.5 for a, b in zip(xs, xs[1:], strict=False))


def test_values_outside_the_axis_are_kept_on_the_plot():
    root = parse(line_chart({"snow": [-0.5, 1.7]}, DAYS[:2], title="t"))
    (run,) = polylines(root)
    assert all(16 <= y <= 16 + 260 - 16 - 40 for _, y in run)


def test_counts_get_their_own_ticks():
    root = parse(line_chart({"records": [0, 37, 120]}, DAYS[:3], title="t", percent=False))
    labels = texts(root)
    assert "records 120" in labels and "0" in labels and "%" not in "".join(labels)


def test_hostile_and_long_labels_are_escaped_and_cut():
    name = '<script>alert("x")</script> & a source with a very long name indeed'
    svg = line_chart({name: [0.2, 0.3]}, ['<b>"day"</b>', "2026-11-02"], title="A & <B>")
    assert "<script>" not in svg and "<b>" not in svg
    root = parse(svg)
    assert root.find(".//s:title", NS).text == "A & <B>"  # type: ignore[union-attr]
    end = [t for t in texts(root) if t.endswith("30%")][0]
    assert end == cut(name, 22) + " 30%" and "\u2026" in end
    assert root.find(".//s:g[@class='series']/s:title", NS).text == name  # type: ignore[union-attr]  # whole, on hover


def test_cut():
    assert cut("short", 10) == "short"
    assert cut("a  b\nc", 10) == "a b c"
    assert cut("abcdefghijkl", 5) == "abcd\u2026" and len(cut("x" * 100, 22)) == 22


def test_two_charts_of_one_page_have_different_ids():
    one = parse(line_chart({"a": [0.1]}, ["d"], title="Value goal"))
    two = parse(line_chart({"a": [0.1]}, ["d"], title="Flagged"))
    assert one.get("aria-labelledby") != two.get("aria-labelledby")


# ---------------------------------------------------------------------------- bars


def bar_rects(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//s:g[@class='group']/s:rect", NS)


def test_bar_chart_labels_each_bar_with_key_value_and_note():
    bars = [Bar("Service desk", (0.45, 0.2), ("9 of 20", "2 of 10")), Bar("Network", (1.0, 0.5))]
    root = parse(bar_chart(bars, keys=("coached", "not coached"), title="Fixed within 30 days"))
    labels = texts(root)
    assert "Service desk" in labels and "Network" in labels
    assert "coached 45% (9 of 20)" in labels and "not coached 20% (2 of 10)" in labels
    assert "coached 100%" in labels and "not coached 50%" in labels
    widths = [float(r.get("width", 0)) for r in bar_rects(root)]
    assert widths[2] == pytest.approx(640 - 190 - 180)  # 100% spans the plot
    assert widths[0] == pytest.approx(0.45 * widths[2]) and widths[1] == pytest.approx(0.2 * widths[2])
    desc = root.find(".//s:desc", NS).text  # type: ignore[union-attr]
    assert "Service desk: coached 45% (9 of 20), not coached 20% (2 of 10)" in desc
    assert root.get("viewBox", "").startswith("0 0 640 ")


def test_zero_is_a_hairline_and_no_data_is_said_in_words():
    root = parse(bar_chart([Bar("Team", (0.0, None))], keys=("coached", "not coached"), title="t"))
    (rect,) = bar_rects(root)
    assert 0 < float(rect.get("width", 0)) < 2
    assert "coached 0%" in texts(root) and "not coached no data" in texts(root)
    root = parse(bar_chart([Bar("Team", (math.nan,))], title="t"))
    assert not bar_rects(root) and "no data" in texts(root)


def test_no_bars_says_so():
    root = parse(bar_chart([], title="By rule"))
    assert "Nothing to show yet." in texts(root) and not bar_rects(root)


def test_many_bars_are_capped_and_the_rest_counted():
    bars = [Bar(f"rule-{i}", (i / 100,)) for i in range(100)]
    root = parse(bar_chart(bars, title="By rule", max_bars=40))
    assert len(bar_rects(root)) == 40
    assert "and 60 more, not drawn (see the table)" in texts(root)
    # The chart grows with its rows: a fixed viewBox per content, each row the same height.
    small = parse(bar_chart(bars[:4], title="By rule"))
    h_big, h_small = float(root.get("viewBox", "").split()[3]), float(small.get("viewBox", "").split()[3])
    assert h_big > h_small


def test_long_and_hostile_bar_labels():
    label = "Team </text><script>x</script> with an extraordinarily long name that goes on"
    svg = bar_chart([Bar(label, (0.3,))], title="t")
    assert "<script>" not in svg
    root = parse(svg)
    assert cut(label, 30) in texts(root)
    assert root.find(".//s:g[@class='group']/s:title", NS).text == label  # type: ignore[union-attr]


# ------------------------------------------------- from report/effect.py's values


def _trend(scan_id: int, source: str, day: int, judged: int, flagged: int, value: int) -> TrendRow:
    return TrendRow(scan_id, source, datetime(2026, 11, day, 2, 0, tzinfo=UTC), judged, flagged, value, 0, 0)


def test_trend_series_puts_each_source_on_the_scans_with_gaps_where_it_was_not_scanned():
    rows = [_trend(1, "snow", 1, 10, 8, 2), _trend(1, "jira", 1, 4, 4, 0),
            _trend(2, "snow", 2, 10, 6, 4),  # jira not scanned (scan --source snow)
            _trend(3, "snow", 3, 10, 5, 5), _trend(3, "jira", 3, 4, 2, 2)]
    series, labels = trend_series(trend_points(rows), "value_goal_share")
    assert labels == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert series == {"snow": [0.2, 0.4, 0.5], "jira": [0.0, None, 0.5]}
    # The as_data dicts give the same.
    assert trend_series(as_data(trend_points(rows)), "value_goal_share") == (series, labels)


def test_scans_on_one_day_are_told_apart_by_minute_then_by_number():
    same_day = [TrendRow(i, "snow", datetime(2026, 11, 1, 2, i, tzinfo=UTC), 1, 1, 0, 0, 0) for i in (1, 2)]
    assert trend_series(trend_points(same_day), "flagged_share")[1] == ["11-01 02:01", "11-01 02:02"]
    same_minute = [TrendRow(i, "snow", datetime(2026, 11, 1, 2, 0, i, tzinfo=UTC), 1, 1, 0, 0, 0) for i in (1, 2)]
    assert trend_series(trend_points(same_minute), "flagged_share")[1] == ["scan 1", "scan 2"]


def test_trend_charts_draw_value_goal_and_flagged_shares():
    rows = [_trend(1, "snow", 1, 10, 8, 2), _trend(2, "snow", 2, 10, 6, 4)]
    value, flagged = (parse(svg) for svg in trend_charts(trend_points(rows)))
    assert "snow 40%" in texts(value) and "snow 60%" in texts(flagged)
    assert "value goal" in value.find("s:title", NS).text  # type: ignore[union-attr]
    assert "flagged" in flagged.find("s:title", NS).text.lower()  # type: ignore[union-attr]


def _history(key: str, *events: tuple[int, str, bool | None, tuple[str, ...]]) -> list[HistoryRow]:
    return [HistoryRow("snow", key, datetime(2026, 9, 1, tzinfo=UTC) + timedelta(days=day), event,
                       "value" if goal else "no_goal", goal, goal is False, False, rules)
            for day, event, goal, rules in events]


def test_effect_chart_compares_coached_and_never_coached_per_slice():
    history = [
        *_history("a", (0, "verdict", False, ("r1",)), (1, "coached", False, ("r1",)), (6, "verdict", True, ())),
        *_history("b", (0, "verdict", False, ("r1",)), (1, "coached", False, ("r1",))),  # never fixed, 60+ days on
        *_history("c", (0, "verdict", False, ("r2",))),  # never coached, never fixed
        *_history("d", (80, "verdict", False, ("r2",)), (81, "coached", False, ("r2",))),  # too recent for 30 days
    ]
    records = [RecordRow("snow", k, k, "", "", "Team A" if k in "ab" else "Team B", "", False, False,
                         datetime(2026, 12, 1, tzinfo=UTC), 0) for k in "abcd"]
    effect = coaching_effect(history, records, [], as_of=datetime(2026, 11, 30, tzinfo=UTC))
    bars = effect_bars(effect.breakdown("group").slices, days=30)
    assert bars == [Bar("Team A", (0.5, None), ("1 of 2", "")), Bar("Team B", (None, 0.0), ("1 too recent", "0 of 1"))]
    root = parse(effect_chart(as_data(effect.breakdown("rule").slices), "rule", days=30))
    assert "per rule" in root.find("s:title", NS).text  # type: ignore[union-attr]
    assert {"r1", "r2", "coached 50% (1 of 2)", "not coached 0% (0 of 1)", "coached no data (1 too recent)"} <= set(texts(root))
    empty = parse(effect_chart([], "group"))
    assert "No record has been coached yet." in texts(empty)


def test_report_charts_from_the_report_context_shape():
    """writer.report_context's ``coaching``: windows_days, trend and by_* as as_data dicts."""
    history = _history("a", (0, "verdict", False, ("r1",)), (1, "coached", False, ("r1",)), (6, "verdict", True, ()))
    records = [RecordRow("snow", "a", "A", "", "", "Team A", "", False, False, datetime(2026, 12, 1, tzinfo=UTC), 0)]
    trend = [_trend(1, "snow", 1, 10, 8, 2), _trend(2, "snow", 2, 10, 6, 4)]
    effect = coaching_effect(history, records, trend, as_of=datetime(2026, 11, 30, tzinfo=UTC))
    coaching = {"windows_days": [7, 30, 90], "trend": as_data(effect.trend),
                **{f"by_{b.dimension}": as_data(b.slices) for b in effect.breakdowns}}
    charts = report_charts(coaching)
    assert charts["days"] == 30
    assert "snow 40%" in texts(parse(charts["trend_value_goal"])) and "snow 60%" in texts(parse(charts["trend_flagged"]))
    assert "Team A" in texts(parse(charts["by_group"])) and "r1" in texts(parse(charts["by_rule"]))
    nothing = {"days": None, "trend_value_goal": "", "trend_flagged": "", "by_group": "", "by_rule": ""}
    assert report_charts(None) == nothing and report_charts({}) == nothing
    assert report_charts({**coaching, "windows_days": [14]})["days"] == 14
