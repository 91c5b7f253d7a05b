"""What every rule kind builds: a condition that holds or not for a record, with evidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from csi_coach.model import Evidence

if TYPE_CHECKING:
    from csi_coach.rules.engine import Context
    from csi_coach.rules.where import Origins


@dataclass(frozen=True)
class Match:
    holds: bool
    evidence: tuple[Evidence, ...] = ()


NO = Match(False)


Scope = frozenset | None  # the fields a caller needs evidence from; None = all


class Condition(Protocol):
    # Ids of the rules this condition reads; the loader checks they exist and form no cycle.
    refs: tuple[str, ...]
    # Vocabulary names it reads; the loader checks they exist.
    vocabs: tuple[str, ...]

    def evaluate(self, ctx: Context, scope: Scope = None) -> Match:
        """Holds or not, with evidence. With a scope, only evidence in those fields is
        needed: a field-scoped caller ("value named in the goal") never pays for
        matching the other fields. Conditions about the whole record ("not",
        "requires") ignore the scope."""
        ...


def narrow(own: frozenset | None, scope: Scope) -> Scope:
    """The fields both a rule's own ``fields`` and its caller's scope allow."""
    if own is None:
        return scope
    if scope is None or own <= scope:
        return own
    return scope if scope <= own else scope & own


def in_scope(fields: tuple[str, ...], scope: Scope) -> tuple[str, ...] | list[str]:
    return fields if scope is None else [f for f in fields if f in scope]


@dataclass(frozen=True)
class BuildContext:
    """What a kind may consult while building: the key prefix and origins for errors."""

    rule_id: str
    key: str  # "rule.<id>"
    origins: Origins
    params: dict[str, Any]
    # The shipped rules' regex patterns, which keep Python's re (rules.patterns).
    vetted_patterns: frozenset[str] = frozenset()


_new = object.__new__


def _make_evidence(field: str, text: str, start: int, end: int) -> Evidence:
    e = _new(Evidence)
    e.__dict__.update(field=field, text=text, start=start, end=end)
    return e


# Evidence(field, text, start, end), made without the frozen dataclass's four
# object.__setattr__ calls: a record makes dozens, and that was a third of their cost.
# The result is the same object (equal, same hash); the plain class is used if
# Evidence ever gets slots.
make_evidence = Evidence if hasattr(Evidence, "__slots__") else _make_evidence


def merge_evidence(*groups: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    """All evidence once each, first seen first (evidence objects are shared, so identity
    finds most repeats; equal spans from different rules are folded too)."""
    if len(groups) == 1:
        return tuple(dict.fromkeys(groups[0]))
    seen: dict[tuple[str, int, int], Evidence] = {}
    for group in groups:
        for e in group:
            seen.setdefault((e.field, e.start, e.end), e)
    return tuple(seen.values())
