"""Does coaching work? The coaching effect and the estate's trend, from the state's history.

Pure: rows in (``scan.state.HistoryRow``, ``RecordRow``, ``TrendRow``, or anything with
the same attributes), frozen values out; no I/O, no clock (``as_of`` is given).

How a record's course is read from its history rows (oldest first):

- **coached**: it has a ``coached`` row. Its clock starts at the first one; the rules
  it was coached on are that row's (else those of the verdict in force then).
- **never coached** (the comparison): no ``coached`` row, but some ``verdict`` row says
  it had no value goal (``value_goal`` False: opted out, closed before coaching,
  deferred, a category not coached; or None: unsure). Its clock starts at the first
  such row; its rules are that row's.
- Records that named a value goal from their first verdict are in neither group.
- **fixed at**: the first later ``verdict`` row with a value goal (or ``acknowledged``
  row, written only when one was named). Days to fix: from the clock's start to that.

The share fixed within N days counts, out of the records *eligible* for N (fixed within
N days, or started at least N days before ``as_of``), those fixed within N days: a record
coached yesterday and not fixed yet says nothing about a 30-day window, and leaving it
in would make every new comment look like a failure.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from typing import Any, Protocol

WINDOWS: tuple[int, ...] = (7, 30, 90)
DIMENSIONS: tuple[str, ...] = ("source", "service", "group", "rule")
NONE_LABEL = "(none)"  # a record with no service or group mapped
_DAY = 86400.0


class _History(Protocol):  # read-only: frozen rows fit
    @property
    def source(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def event(self) -> str: ...
    @property
    def value_goal(self) -> bool | None: ...
    @property
    def rules(self) -> tuple[str, ...]: ...


class _Record(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def service(self) -> str: ...
    @property
    def group(self) -> str: ...


class _Trend(Protocol):
    @property
    def scan_id(self) -> int: ...
    @property
    def source(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def judged(self) -> int: ...
    @property
    def flagged(self) -> int: ...
    @property
    def value_goal(self) -> int: ...
    @property
    def unsure(self) -> int: ...
    @property
    def opted_out(self) -> int: ...


@dataclass(frozen=True)
class Course:
    """One record's way from no value goal to one (or not yet)."""

    source: str
    key: str
    coached: bool
    started: datetime  # the first coaching comment, or (never coached) the first verdict without a value goal
    fixed_at: datetime | None
    rules: tuple[str, ...]

    @property
    def days_to_fix(self) -> float | None:
        if self.fixed_at is None:
            return None
        return (self.fixed_at - self.started).total_seconds() / _DAY


@dataclass(frozen=True)
class Window:
    days: int
    eligible: int  # fixed within ``days``, or started at least ``days`` before as_of
    fixed: int  # fixed within ``days``
    share: float | None  # fixed / eligible; None when none is eligible


@dataclass(frozen=True)
class Cohort:
    records: int
    fixed: int  # fixed at all, whenever
    median_days_to_fix: float | None  # over the fixed ones
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class Effect:
    coached: Cohort
    uncoached: Cohort  # the comparison: records without a value goal that were never coached


@dataclass(frozen=True)
class Slice:
    """The effect within one value of a dimension (a source, a service, a group, a rule)."""

    name: str
    effect: Effect


@dataclass(frozen=True)
class Breakdown:
    dimension: str  # one of DIMENSIONS
    slices: tuple[Slice, ...]  # most coached records first, then by name


@dataclass(frozen=True)
class TrendPoint:
    """A source's estate when one scan ended; shares of the judged records (None: none judged)."""

    scan_id: int
    source: str
    at: datetime
    judged: int
    flagged: int
    value_goal: int
    unsure: int
    opted_out: int
    flagged_share: float | None
    value_goal_share: float | None
    unsure_share: float | None
    opted_out_share: float | None


@dataclass(frozen=True)
class CoachingEffect:
    as_of: datetime
    overall: Effect
    breakdowns: tuple[Breakdown, ...]  # in DIMENSIONS order
    courses: tuple[Course, ...]
    trend: tuple[TrendPoint, ...]

    def breakdown(self, dimension: str) -> Breakdown:
        return next(b for b in self.breakdowns if b.dimension == dimension)

    def course(self, source: str, key: str) -> Course | None:
        return next((c for c in self.courses if c.source == source and c.key == key), None)


def courses(history: Iterable[_History]) -> tuple[Course, ...]:
    """Each record's course, from its history rows in the order given (oldest first)."""
    by_record: dict[tuple[str, str], list[_History]] = defaultdict(list)
    for row in history:
        by_record[(row.source, row.key)].append(row)
    out = []
    for (source, key), rows in by_record.items():
        course = _course(source, key, rows)
        if course is not None:
            out.append(course)
    return tuple(sorted(out, key=lambda c: (c.source, c.key)))


def _course(source: str, key: str, rows: Sequence[_History]) -> Course | None:
    start = next((i for i, r in enumerate(rows) if r.event == "coached"), None)
    coached = start is not None
    if start is None:
        start = next((i for i, r in enumerate(rows) if r.event == "verdict" and r.value_goal is not True), None)
        if start is None:
            return None
    first = rows[start]
    rules = first.rules
    if not rules:  # a comment carried over from an older state file: the verdict in force then
        rules = next((r.rules for r in reversed(rows[:start]) if r.event == "verdict"), ())
    fixed_at = next(
        (r.at for r in rows[start + 1:]
         if (r.event == "verdict" and r.value_goal is True) or r.event == "acknowledged"),
        None,
    )
    return Course(source, key, coached, first.at, fixed_at, tuple(rules))


def cohort(members: Sequence[Course], as_of: datetime, windows: Sequence[int] = WINDOWS) -> Cohort:
    days = [c.days_to_fix for c in members if c.days_to_fix is not None]
    out = []
    for n in windows:
        fixed = sum(1 for d in days if d <= n)
        waited = sum(1 for c in members
                     if not (c.days_to_fix is not None and c.days_to_fix <= n)
                     and (as_of - c.started).total_seconds() >= n * _DAY)
        eligible = fixed + waited
        out.append(Window(n, eligible, fixed, fixed / eligible if eligible else None))
    return Cohort(len(members), len(days), statistics.median(days) if days else None, tuple(out))


def effect_of(members: Sequence[Course], as_of: datetime, windows: Sequence[int] = WINDOWS) -> Effect:
    return Effect(cohort([c for c in members if c.coached], as_of, windows),
                  cohort([c for c in members if not c.coached], as_of, windows))


def _names(course: Course, dimension: str, records: dict[tuple[str, str], _Record]) -> tuple[str, ...]:
    if dimension == "source":
        return (course.source,)
    if dimension == "rule":
        return course.rules or (NONE_LABEL,)
    record = records.get((course.source, course.key))
    value = getattr(record, dimension, "") if record is not None else ""
    return (value or NONE_LABEL,)


def breakdown(dimension: str, all_courses: Sequence[Course], records: Iterable[_Record], as_of: datetime,
              windows: Sequence[int] = WINDOWS) -> Breakdown:
    """The effect per value of ``dimension``; a record coached on two rules counts under each."""
    index = {(r.source, r.key): r for r in records}
    groups: dict[str, list[Course]] = defaultdict(list)
    for c in all_courses:
        for name in _names(c, dimension, index):
            groups[name].append(c)
    slices = [Slice(name, effect_of(members, as_of, windows)) for name, members in groups.items()]
    slices.sort(key=lambda s: (-s.effect.coached.records, -s.effect.uncoached.records, s.name))
    return Breakdown(dimension, tuple(slices))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def trend_points(rows: Iterable[_Trend]) -> tuple[TrendPoint, ...]:
    return tuple(
        TrendPoint(r.scan_id, r.source, r.at, r.judged, r.flagged, r.value_goal, r.unsure, r.opted_out,
                   _share(r.flagged, r.judged), _share(r.value_goal, r.judged), _share(r.unsure, r.judged),
                   _share(r.opted_out, r.judged))
        for r in rows
    )


def coaching_effect(history: Iterable[_History], records: Iterable[_Record], trend: Iterable[_Trend],
                    as_of: datetime, windows: Sequence[int] = WINDOWS) -> CoachingEffect:
    """Everything the report says about the coaching effect and the trend."""
    all_courses = courses(history)
    record_list = list(records)
    return CoachingEffect(
        as_of=as_of,
        overall=effect_of(all_courses, as_of, windows),
        breakdowns=tuple(breakdown(d, all_courses, record_list, as_of, windows) for d in DIMENSIONS),
        courses=all_courses,
        trend=trend_points(trend),
    )


def as_data(value: Any) -> Any:
    """Frozen values as JSON-ready data: times in ISO 8601, shares and days rounded to 4 places."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: as_data(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [as_data(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    return value
