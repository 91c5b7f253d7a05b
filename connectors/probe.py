"""What ``Connector.probe`` finds out about a source without writing anything.

``check-config --connect`` (and the start of ``scan --dry-run``) asks each source:
can the bot log in, is the table or JQL valid and how many records are in scope, does
each mapped field come back (and how often the goal holds anything), may the bot read
the comments it needs to find its own, and may it write. Each answer is one ``Check``:
``ok``, ``warn`` (worth a look, not fatal) or ``fail``. A failure says whether the
config file is what to fix (``in_config``: a table, query, JQL or field name, exit 2)
or something outside it (credentials, the account's permissions, the network: exit 1).

The vendor-specific probes live beside their connectors (``servicenow/probe.py``,
``jira/probe.py``); the lines common to both are made here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from csi_coach.config import FieldMap
from csi_coach.connectors.field_census import FieldCensus, absent_goal_error, closest, mapped_fields
from csi_coach.errors import CoachError, ConfigError

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Check:
    """One line of the probe: what was checked and what came of it."""

    status: str  # ok | warn | fail
    text: str
    in_config: bool = False  # a failure the config file fixes (exit 2) rather than the server side (exit 1)


@dataclass(frozen=True)
class SourceProbe:
    """Every check made on one source, in the order made."""

    source: str
    checks: tuple[Check, ...]

    @property
    def failed(self) -> bool:
        return any(c.status == FAIL for c in self.checks)


def ok(text: str) -> Check:
    return Check(OK, text)


def warn(text: str) -> Check:
    return Check(WARN, text)


def fail(text: str, *, in_config: bool = False) -> Check:
    return Check(FAIL, text, in_config)


def failure(what: str, exc: CoachError, *, config_fixes: tuple[type[CoachError], ...] = ()) -> Check:
    """A failed check from the error a request raised. ``config_fixes``: error types that
    here mean a wrong setting (a 400 for the table or the JQL, a 404 for the table)."""
    in_config = isinstance(exc, (ConfigError, *config_fixes))
    return fail(f"{what}: {exc}", in_config=in_config)


def field_checks(census: FieldCensus, fields: FieldMap, *, source: str, config_file: str, vendor: str,
                 available: Iterable[str] | None, skip: Iterable[str] = ()) -> list[Check]:
    """The field lines for one page of records: the mapped fields the records carry (one line),
    each one they lack (the goal: fail, as a scan would; others: warn), and for each goal
    field the share of the page's records where it holds something.

    ``available``: the fields the source has, offered for a missing one (None: not known)."""
    if census.records == 0:
        return [warn("fields: not checked, the page held no record")]
    known = list(available or ())
    out: list[Check] = []
    present = [role if role == name else f"{role} ({name})" for role, name in mapped_fields(fields, skip=skip) if not census.absent(name)]
    if present:
        out.append(ok(f"fields present on the {census.records} record(s) of the page: " + ", ".join(present)))
    for role, name in mapped_fields(fields, skip=skip):
        if census.absent(name):
            if role == "goal":
                error = absent_goal_error(name, census, source=source, config_file=config_file,
                                          available=known, vendor=vendor)
                out.append(fail(f"fields: {error}", in_config=True))
            else:
                near = closest(name, known, limit=5)
                hint = f"; closest fields: {', '.join(near)}" if near else ""
                out.append(warn(f"fields: [sources.{source}.fields.{role}] {name!r} is on none of the "
                                f"{census.records} record(s) of the page (every {role} would read as empty){hint}"))
        elif role == "goal":
            share = census.share_filled(name)
            if census.empty(name):
                out.append(warn(f"goal field {name}: present but empty on every record of the page ({share}): "
                                "check that owners write the goal there"))
            else:
                out.append(ok(f"goal field {name}: holds text on {share} of the page's records"))
    if not fields.goal:
        out.append(warn(f"goal field: none mapped for {source}; only title and description are judged"))
    return out
