"""What every rule kind builds: a condition that holds or not for a record, with evidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from model import Evidence

if TYPE_CHECKING:
    from rules.engine import Context
    from rules.where import Origins


@dataclass(frozen=True)
class Match:
    holds: bool
    evidence: tuple[Evidence, ...] = ()


NO = Match(False)


class Condition(Protocol):
    # Ids of the rules this condition reads; the loader checks they exist and form no cycle.
    refs: tuple[str, ...]
    # Vocabulary names it reads; the loader checks they exist.
    vocabs: tuple[str, ...]

    def evaluate(self, ctx: "Context") -> Match: ...


@dataclass(frozen=True)
class BuildContext:
    """What a kind may consult while building: the key prefix and origins for errors."""

    rule_id: str
    key: str  # "rule.<id>"
    origins: "Origins"
    params: dict[str, Any]


def merge_evidence(*groups: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    seen: dict[tuple[str, int, int], Evidence] = {}
    for group in groups:
        for e in group:
            seen.setdefault((e.field, e.start, e.end), e)
    return tuple(seen.values())
