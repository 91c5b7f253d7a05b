"""Charts for report.html as inline SVG text: pure functions, no I/O, no browser.

The report is one self-contained file a manager opens from a mail or a share, so a
chart cannot fetch a script or a font: each function here returns the markup of one
``<svg>`` element, to be placed in the page as it is (``writer.html_context`` marks it
safe; every piece of text in it was escaped here).

What each chart promises, so it reads in any browser, printed in black and white, or
by a screen reader:

- a ``<title>`` (and ``role="img"``, named by it) and a ``<desc>`` saying in words what
  the chart shows, including each series' latest value;
- every line and every bar labelled in text at its end (name and value), so no colour
  has to be told apart; lines also differ by dash pattern;
- axis ticks with their values; a fixed ``viewBox`` (width 100%), so the chart scales
  with the page and keeps its proportions;
- no data, one point, many points (tick labels are thinned, markers dropped), gaps
  (``None`` or NaN: the line breaks there) and long labels (cut with an ellipsis, the
  whole text kept in a hover ``<title>``) are drawn, never an error.

Values are shares (0..1, shown as percentages) unless ``percent=False``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

# One palette of distinct hues that stay distinct for the common colour blindnesses
# (Okabe-Ito), and dash patterns so lines differ in grey too.
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "12 4", "1 2", "4 4")
FONT = "font-family:system-ui,sans-serif"
LABEL_CHARS = 22  # a line's name at its end: longer text is cut with an ellipsis
X_LABEL_CHARS = 12  # an x tick's label (a date: 2026-11-04)
BAR_LABEL_CHARS = 30
MAX_X_TICKS = 6
MARKERS_UP_TO = 40  # points per series that still get a dot each
MAX_BARS = 40


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart: ``values[i]`` is the value of ``keys[i]`` (None: no data),
    ``notes[i]`` an optional text shown after it (e.g. "9 of 20")."""

    label: str
    values: tuple[float | None, ...]
    notes: tuple[str, ...] = ()


def cut(text: str, limit: int) -> str:
    """``text`` on one line, at most ``limit`` characters: a longer one ends with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: max(1, limit - 1)].rstrip() + "\u2026"


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _value(value: float | None) -> float | None:
    """A value to draw, or None for a gap (None, NaN)."""
    return None if value is None or _missing(value) else float(value)


def _fmt(value: float | None, percent: bool) -> str:
    if _missing(value):
        return "no data"
    assert value is not None
    if percent:
        return f"{100 * value:.0f}%"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12, extra: str = "") -> str:
    return (f'<text x="{_num(x)}" y="{_num(y)}" font-size="{size}" text-anchor="{anchor}"{extra}>'
            f"{escape(text)}</text>")


def _chart_id(kind: str, title: str, body: str) -> str:
    # Ids must be unique in the page; derived from the content so the function stays pure.
    return f"{kind}-{hashlib.sha256((title + body).encode()).hexdigest()[:10]}"


def _svg(kind: str, title: str, desc: str, width: int, height: int, body: str) -> str:
    cid = _chart_id(kind, title, body)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" role="img" '
        f'aria-labelledby="{cid}-t {cid}-d" style="max-width:{width}px;{FONT}">'
        f'<title id="{cid}-t">{escape(title)}</title><desc id="{cid}-d">{escape(desc)}</desc>'
        f"{body}</svg>"
    )


def _y_ticks(top: float, percent: bool) -> list[float]:
    if percent:
        return [0.0, 0.25, 0.5, 0.75, 1.0]
    if top <= 0:
        return [0.0, 1.0]
    step = 10 ** math.floor(math.log10(top))
    for factor in (1, 2, 5, 10):
        if top / (step * factor) <= 5:
            step *= factor
            break
    n = math.ceil(top / step)
    return [i * step for i in range(n + 1)]


def _x_tick_indices(n: int, room: int) -> list[int]:
    """Which of ``n`` points get a tick label, when ``room`` labels fit side by side:
    evenly spaced, the first and the last always."""
    most = max(2, min(MAX_X_TICKS, room))
    if n <= most:
        return list(range(n))
    step = math.ceil((n - 1) / (most - 1))
    picks = list(range(0, n, step))
    if picks[-1] != n - 1:
        if n - 1 - picks[-1] < step / 2 and len(picks) > 1:
            picks[-1] = n - 1  # too close to the end: the last point's label wins
        else:
            picks.append(n - 1)
    return picks


def _spread(wanted: list[tuple[float, int]], gap: float, low: float, high: float) -> dict[int, float]:
    """End labels' y positions, moved apart so no two overlap (kept within low..high)."""
    placed: dict[int, float] = {}
    order = sorted(wanted)
    ys = [y for y, _ in order]
    for i in range(1, len(ys)):
        ys[i] = max(ys[i], ys[i - 1] + gap)
    overflow = ys[-1] - high if ys else 0
    if overflow > 0:
        ys = [y - overflow for y in ys]
        for i in range(len(ys) - 2, -1, -1):
            ys[i] = min(ys[i], ys[i + 1] - gap)
    for (_, key), y in zip(order, ys, strict=True):
        placed[key] = max(y, low)
    return placed


def line_chart(
    series: Mapping[str, Sequence[float | None]],
    x_labels: Sequence[str],
    *,
    title: str,
    percent: bool = True,
    width: int = 640,
    height: int = 260,
    empty: str = "No scans recorded yet.",
) -> str:
    """Lines over the points of ``x_labels`` (scans, oldest first): ``series`` maps each
    line's name to its values, one per x label (shorter lists are padded with gaps).
    Each line is named at its last value, with that value."""
    n = len(x_labels)
    left, right, top, bottom = 44, 190, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    values: dict[str, list[float | None]] = {
        name: [_value(v) for v in list(vals)[:n]] + [None] * max(0, n - len(vals)) for name, vals in series.items()
    }
    present = [v for vals in values.values() for v in vals if v is not None]
    y_top = 1.0 if percent else max([*present, 0.0])
    ticks = _y_ticks(y_top, percent)
    y_max = ticks[-1] or 1.0

    def px(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    def py(v: float) -> float:
        return top + plot_h * (1 - min(max(v, 0.0), y_max) / y_max)

    parts = ['<g class="axes" stroke="#c9ced6" stroke-width="1">']
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{_num(py(t))}" y2="{_num(py(t))}"/>')
    parts.append("</g><g class=\"ticks\" fill=\"#3a4452\">")
    for t in ticks:
        parts.append(_text(left - 6, py(t) + 4, _fmt(t, percent), anchor="end", size=11))
    for i in _x_tick_indices(n, int(plot_w // (X_LABEL_CHARS * 6.5 + 12))):
        anchor = "middle" if n == 1 else "start" if i == 0 else "end" if i == n - 1 else "middle"
        parts.append(f'<line x1="{_num(px(i))}" x2="{_num(px(i))}" y1="{top + plot_h}" y2="{top + plot_h + 4}" stroke="#8a93a3"/>')
        parts.append(_text(px(i), top + plot_h + 17, cut(x_labels[i], X_LABEL_CHARS), anchor=anchor, size=11))
    parts.append("</g>")

    if not present:
        parts.append(_text(left + plot_w / 2, top + plot_h / 2, empty, anchor="middle", size=14, extra=' fill="#5b6576"'))
        return _svg("line", title, f"{title}: {empty}", width, height, "".join(parts))

    ends: list[tuple[float, int]] = []
    end_text: dict[int, str] = {}
    summary: list[str] = []
    for k, (name, vals) in enumerate(values.items()):
        colour, dash = COLOURS[k % len(COLOURS)], DASHES[k % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<g class="series" stroke="{colour}" fill="{colour}"><title>{escape(name)}</title>')
        run: list[str] = []
        for i, v in enumerate([*vals, None]):  # a trailing gap ends the last run
            if v is not None:
                run.append(f"{_num(px(i))},{_num(py(v))}")
                continue
            if len(run) > 1:
                parts.append(f'<polyline fill="none" stroke-width="2.5"{dash_attr} points="{" ".join(run)}"/>')
            elif len(run) == 1 and n > MARKERS_UP_TO:  # a lone point between gaps still shows
                cx, cy = run[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3"/>')
            run = []
        if n <= MARKERS_UP_TO:
            for i, v in enumerate(vals):
                if v is not None:
                    parts.append(f'<circle cx="{_num(px(i))}" cy="{_num(py(v))}" r="3.5"/>')
        parts.append("</g>")
        last = max((i for i, v in enumerate(vals) if v is not None), default=None)
        if last is None:
            summary.append(f"{name}: no data")
            continue
        latest = vals[last]
        assert latest is not None
        ends.append((py(latest), k))
        end_text[k] = f"{cut(name, LABEL_CHARS)} {_fmt(latest, percent)}"
        summary.append(f"{name}: {_fmt(latest, percent)} at {x_labels[last]}")
    positions = _spread(ends, 14, top + 4, top + plot_h + 4)
    parts.append('<g class="end-labels" fill="#1d2430">')
    for k, y in positions.items():
        parts.append(_text(left + plot_w + 8, y + 4, end_text[k], size=12))
    parts.append("</g>")
    desc = f"{title}, {n} point{'s' if n != 1 else ''} from {x_labels[0]} to {x_labels[-1]}. Latest: " + "; ".join(summary) + "."
    return _svg("line", title, desc, width, height, "".join(parts))


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    keys: Sequence[str] = ("",),
    percent: bool = True,
    width: int = 640,
    empty: str = "Nothing to show yet.",
    max_bars: int = MAX_BARS,
) -> str:
    """Horizontal bars, one group per ``Bar`` (a team, a rule), one bar per key in each
    group (e.g. "coached" and "not coached"). Each bar is labelled at its end with its
    key, value and note. More than ``max_bars`` groups: the first are drawn and the
    chart says how many were left out."""
    shown = list(bars[:max_bars])
    left_out = len(bars) - len(shown)
    per_group = max(1, len(keys))
    bar_h, gap, group_gap = 14, 3, 10
    group_h = per_group * (bar_h + gap) - gap + group_gap
    left, right, top = 190, 180, 10
    axis_h = 24
    rows_h = max(group_h * len(shown), 40)
    height = top + rows_h + axis_h + (18 if left_out else 0)
    plot_w = width - left - right
    present = [v for b in shown for v in map(_value, b.values) if v is not None]
    ticks = _y_ticks(1.0 if percent else max([*present, 0.0]), percent)
    x_max = ticks[-1] or 1.0

    def px(v: float) -> float:
        return left + plot_w * min(max(v, 0.0), x_max) / x_max

    axis_y = top + rows_h
    parts = ['<g class="axes" stroke="#c9ced6" stroke-width="1">']
    for t in ticks:
        parts.append(f'<line x1="{_num(px(t))}" x2="{_num(px(t))}" y1="{top}" y2="{axis_y}"/>')
    parts.append('</g><g class="ticks" fill="#3a4452">')
    for t in ticks:
        parts.append(_text(px(t), axis_y + 15, _fmt(t, percent), anchor="middle", size=11))
    parts.append("</g>")
    if not shown:
        parts.append(_text(left + plot_w / 2, top + rows_h / 2 + 4, empty, anchor="middle", size=14, extra=' fill="#5b6576"'))
        return _svg("bar", title, f"{title}: {empty}", width, height, "".join(parts))

    summary: list[str] = []
    for g, bar in enumerate(shown):
        y0 = top + g * group_h + group_gap / 2
        parts.append(f'<g class="group"><title>{escape(bar.label)}</title>')
        parts.append(_text(left - 8, y0 + (group_h - group_gap) / 2 + 4, cut(bar.label, BAR_LABEL_CHARS), anchor="end",
                           size=12, extra=' fill="#1d2430"'))
        said: list[str] = []
        for k in range(per_group):
            value = _value(bar.values[k]) if k < len(bar.values) else None
            note = bar.notes[k] if k < len(bar.notes) else ""
            key = keys[k] if k < len(keys) else ""
            y = y0 + k * (bar_h + gap)
            colour = COLOURS[k % len(COLOURS)]
            words = " ".join(w for w in (key, _fmt(value, percent), f"({note})" if note else "") if w)
            end = float(left)
            if value is not None:
                end = px(value)
                # A zero still shows as a hairline, so "0%" is seen to be a value, not a gap.
                bar_w = max(end - left, 1.5)
                fade = "" if k == 0 else ' fill-opacity="0.75"'
                parts.append(f'<rect x="{left}" y="{_num(y)}" width="{_num(bar_w)}" height="{bar_h}" fill="{colour}"{fade}/>')
            parts.append(_text(end + 5, y + bar_h - 3, cut(words, 40), size=11, extra=' fill="#1d2430"'))
            said.append(words)
        parts.append("</g>")
        summary.append(f"{bar.label}: {', '.join(said)}")
    if left_out:
        parts.append(_text(left, axis_y + 34, f"and {left_out} more, not drawn (see the table)", size=11,
                           extra=' fill="#5b6576"'))
    desc = f"{title}. " + "; ".join(summary) + (f"; and {left_out} more." if left_out else ".")
    return _svg("bar", title, desc, width, height, "".join(parts))


# --- the report's charts, from report/effect.py's values -----------------------------
# Each takes the frozen values (``TrendPoint``, ``Breakdown``) or their ``as_data``
# dicts, so the template context may hold either.


def _get(item: Any, name: str) -> Any:
    return item[name] if isinstance(item, Mapping) else getattr(item, name)


def _when(at: Any) -> str:
    return at.isoformat() if isinstance(at, datetime) else str(at)


def trend_series(points: Iterable[Any], share: str) -> tuple[dict[str, list[float | None]], list[str]]:
    """``share`` (e.g. "value_goal_share") per source over the scans, for ``line_chart``:
    one x point per scan (oldest first), a gap where a source was not scanned. Scans are
    labelled by day; when two fall on one day, by day and minute; failing that, by number."""
    rows = list(points)
    scans: dict[Any, str] = {}
    for p in sorted(rows, key=lambda p: (_when(_get(p, "at")), _get(p, "scan_id"))):
        scans.setdefault(_get(p, "scan_id"), _when(_get(p, "at")))
    order = list(scans)
    column = {scan_id: i for i, scan_id in enumerate(order)}
    series: dict[str, list[float | None]] = {}
    for p in rows:
        values = series.setdefault(str(_get(p, "source")), [None] * len(order))
        values[column[_get(p, "scan_id")]] = _get(p, share)
    labels = [scans[s][:10] for s in order]
    if len(set(labels)) < len(labels):
        labels = [scans[s][5:16].replace("T", " ") for s in order]
    if len(set(labels)) < len(labels):
        labels = [f"scan {s}" for s in order]
    return series, labels


def trend_charts(points: Iterable[Any]) -> list[str]:
    """The estate over the scans, per source: the share of judged records naming a value
    goal, and the share flagged (both should move the right way if coaching works)."""
    rows = list(points)
    charts = []
    for share, title in (("value_goal_share", "Records naming a value goal, per source, over the scans"),
                         ("flagged_share", "Records flagged (no value goal), per source, over the scans")):
        series, labels = trend_series(rows, share)
        charts.append(line_chart(series, labels, title=title))
    return charts


def effect_bars(slices: Iterable[Any], days: int = 30) -> list[Bar]:
    """One bar pair per slice of a breakdown (a team, a rule: ``Slice`` values or their
    dicts, {name, effect}): the share of coached and of never-coached records that named
    a value goal within ``days`` of the start (of those old enough to tell)."""
    bars = []
    for s in slices:
        values: list[float | None] = []
        notes: list[str] = []
        for cohort_name in ("coached", "uncoached"):
            cohort = _get(_get(s, "effect"), cohort_name)
            window = next((w for w in _get(cohort, "windows") if _get(w, "days") == days), None)
            if window is None or not _get(window, "eligible"):
                values.append(None)
                records = _get(cohort, "records")
                notes.append(f"{records} too recent" if records else "")
                continue
            values.append(_get(window, "share"))
            notes.append(f"{_get(window, 'fixed')} of {_get(window, 'eligible')}")
        bars.append(Bar(str(_get(s, "name")), tuple(values), tuple(notes)))
    return bars


EFFECT_TITLES = {
    "source": "Named a value goal within {days} days, per source",
    "service": "Named a value goal within {days} days, per service",
    "group": "Named a value goal within {days} days, per team",
    "rule": "Named a value goal within {days} days, per rule coached on",
}


def effect_chart(slices: Iterable[Any], dimension: str, days: int = 30) -> str:
    """``bar_chart`` of ``effect_bars``: coached against never coached, per slice."""
    title = EFFECT_TITLES.get(dimension, "Named a value goal within {days} days").format(days=days)
    return bar_chart(effect_bars(slices, days), keys=("coached", "not coached"), title=title,
                     empty="No record has been coached yet.")


def report_charts(coaching: Mapping[str, Any] | None, days: int = 30) -> dict[str, Any]:
    """The charts report.html shows, from ``writer.report_context``'s ``coaching`` dict
    (None: the state file has no history yet: every key empty): ``days`` (the window the
    bars show), ``trend_value_goal`` and ``trend_flagged`` (line charts), ``by_group`` and
    ``by_rule`` (bar charts)."""
    if not coaching:
        return {"days": None, "trend_value_goal": "", "trend_flagged": "", "by_group": "", "by_rule": ""}
    windows = coaching.get("windows_days") or [days]
    days = days if days in windows else windows[len(windows) // 2]
    value_goal, flagged = trend_charts(coaching.get("trend") or ())
    return {
        "days": days,
        "trend_value_goal": value_goal,
        "trend_flagged": flagged,
        "by_group": effect_chart(coaching.get("by_group") or (), "group", days),
        "by_rule": effect_chart(coaching.get("by_rule") or (), "rule", days),
    }
