"""Which mapped fields the records of a source carry, and whether they hold anything.

A wrong field mapping must not coach anyone. ServiceNow answers an unknown name in
``sysparm_fields`` by leaving it out, and Jira answers a custom field id the site lacks
the same way, so a misspelt goal field gives every record an empty goal: the rules
then find no goal anywhere, and every owner would be coached. So each page a connector
reads is counted here (``FieldCensus.of``) before any of its records goes on:

- a mapped goal field that no record of a page carries fails the source
  (``absent_goal_error``: a ``ConfigError`` naming the field and, closest first, the
  fields the source does have);
- any other mapped field no record carries, and a goal field carried but empty on every
  record read, are warnings (``census_warnings``) for the summary and the report.

A field "carried" is a key present in the record's answer, even when its value is empty
(ServiceNow ``{"value": "", "display_value": ""}``, Jira ``null``): Jira leaves out a
field the site does not have and answers ``null`` for one it has that is not set.
Pure: no I/O, except that the error looks up the line of the key in the config file.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csi_coach.config import FieldMap
from csi_coach.errors import ConfigError
from csi_coach.tomlpos import find_line

CLOSEST = 8  # names offered in the error: enough to spot the right one, short enough to read

# FieldMap attribute -> what it fills, for messages
ROLES = {"number": "number", "title": "title", "description": "description", "goal": "goal",
         "service": "service", "owner": "owner", "state": "state", "updated": "updated", "labels": "labels",
         "group": "group"}


def mapped_fields(fields: FieldMap, *, skip: Iterable[str] = ()) -> list[tuple[str, str]]:
    """``(role, vendor field)`` for every mapped field, goal fields one by one, in FieldMap order;
    names in ``skip`` (e.g. Jira's "key", which is not a field) left out."""
    skipped = set(skip)
    out: list[tuple[str, str]] = []
    for role in ROLES:
        value = getattr(fields, role)
        for name in (value if isinstance(value, tuple) else (value,)):
            if name and name not in skipped and (role, name) not in out:
                out.append((role, name))
    return out


@dataclass(frozen=True)
class FieldCensus:
    """For each mapped field, on how many of ``records`` it was carried and on how many it held a value."""

    records: int = 0
    carried: Mapping[str, int] = field(default_factory=dict)
    filled: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Sequence[Any], names: Iterable[str], *,
           fields_of: Callable[[Any], Mapping[str, Any] | None],
           has_value: Callable[[Any], bool]) -> FieldCensus:
        """The census of one page: ``fields_of(row)`` is the row's field mapping (None: not a
        record, left out), ``has_value(value)`` whether a carried value holds anything."""
        tally = FieldTally(names, fields_of=fields_of, has_value=has_value)
        for row in rows:
            tally.add(row)
        return tally.census()

    def __add__(self, other: FieldCensus) -> FieldCensus:
        names = list(dict.fromkeys([*self.carried, *other.carried]))
        return FieldCensus(
            self.records + other.records,
            {n: self.carried.get(n, 0) + other.carried.get(n, 0) for n in names},
            {n: self.filled.get(n, 0) + other.filled.get(n, 0) for n in names},
        )

    def absent(self, name: str) -> bool:
        """No record read carries ``name`` (False when no record was read: nothing to go on)."""
        return self.records > 0 and self.carried.get(name, 0) == 0

    def empty(self, name: str) -> bool:
        """Carried, but empty on every record that carries it."""
        return self.carried.get(name, 0) > 0 and self.filled.get(name, 0) == 0

    def share_filled(self, name: str) -> str:
        """"42 of 50 (84%)": the records holding a value, of the records read."""
        n, of = self.filled.get(name, 0), self.records
        return f"{n} of {of} ({round(100 * n / of) if of else 0}%)"


class FieldTally:
    """A census kept up row by row over a whole listing (one per ``fetch``; not thread-safe)."""

    def __init__(self, names: Iterable[str], *, fields_of: Callable[[Any], Mapping[str, Any] | None],
                 has_value: Callable[[Any], bool]) -> None:
        self.names = list(dict.fromkeys(names))
        self.fields_of, self.has_value = fields_of, has_value
        self.records = 0
        self.carried = dict.fromkeys(self.names, 0)
        self.filled = dict.fromkeys(self.names, 0)

    def add(self, row: Any) -> None:
        values = self.fields_of(row)
        if values is None:
            return
        self.records += 1
        for name in self.names:
            if name in values:
                self.carried[name] += 1
                if self.has_value(values[name]):
                    self.filled[name] += 1

    def census(self) -> FieldCensus:
        return FieldCensus(self.records, dict(self.carried), dict(self.filled))

    def census_of(self, rows: Iterable[Any]) -> FieldCensus:
        """The census of these rows alone (a page), this tally's counts left as they were."""
        page = FieldTally(self.names, fields_of=self.fields_of, has_value=self.has_value)
        for row in rows:
            page.add(row)
        return page.census()


def first_absent(census: FieldCensus, names: Iterable[str]) -> str | None:
    """The first of ``names`` that no record of the census carries, if any."""
    return next((name for name in names if census.absent(name)), None)


def closest(name: str, available: Iterable[str], limit: int = CLOSEST) -> list[str]:
    """``available``, the names most like ``name`` first (difflib's ratio, case ignored), at most
    ``limit``; for "customfield_10500" that puts "customfield_10050" ahead of "summary"."""
    names = list(dict.fromkeys(a for a in available if a))
    want = name.casefold()

    def likeness(candidate: str) -> float:
        return difflib.SequenceMatcher(None, want, candidate.casefold()).ratio()

    return sorted(names, key=lambda c: (-likeness(c), c))[:limit]


def absent_goal_error(name: str, census: FieldCensus, *, source: str, config_file: str,
                      available: Iterable[str], vendor: str) -> ConfigError:
    """The config error for a goal field that none of a page's ``census.records`` records carries.

    ``available``: the fields the source does have (label-carrying strings such as
    "customfield_10050 (Value goal)" are fine), offered closest first."""
    offered = closest(name, available)
    expected = ("a field the source has, closest first: " + ", ".join(offered) if offered
                else f"a field of the {vendor} records in scope")
    return ConfigError(
        f"the goal field {name!r} is on none of the {census.records} record(s) of a page read from {vendor} "
        f"(an unknown field, or one a read ACL hides, is left out of the answer): every goal would read as "
        f"empty and every owner be coached, so nothing of {source!r} is judged until the mapping is fixed",
        file=config_file or None, key=f"sources.{source}.fields.goal", line=config_line(config_file, source),
        got=name, has_got=True, expected=expected,
    )


def config_line(config_file: str, source: str) -> int | None:
    """The line of ``[sources.NAME.fields] goal`` in the config file, else of the source's table."""
    if not config_file:
        return None
    try:
        text = Path(config_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for key in (f"sources.{source}.fields.goal", f"sources.{source}.fields", f"sources.{source}"):
        line = find_line(text, key)
        if line is not None:
            return line
    return None


def census_warnings(census: FieldCensus, fields: FieldMap, *, source: str, skip: Iterable[str] = ()) -> list[str]:
    """Warnings for the records a fetch read: a mapped field no record carried (the goal fails
    the source instead, see ``absent_goal_error``), a goal field empty on every record."""
    out: list[str] = []
    for role, name in mapped_fields(fields, skip=skip):
        key = f"[sources.{source}.fields.{role}]"
        if census.absent(name) and role != "goal":
            out.append(f"{key} {name!r} is on none of the {census.records} record(s) read (an unknown field is "
                       f"left out of the answer): every record's {role} reads as empty; check the field name")
        elif role == "goal" and census.empty(name):
            out.append(f"{key} {name!r} is empty on all {census.records} record(s) read: no record has a goal "
                       f"there, so each is judged without one; check that it is the field owners write the goal in")
    return out
