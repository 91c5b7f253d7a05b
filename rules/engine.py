"""Judge one record with a compiled rule set: pure, deterministic, no I/O.

Evaluation is lazy and field-scoped: only the rules that report a finding or
decide the category are asked for, each asks its sub-rules only for the fields it
needs (a rule about the goal field never matches the description), and every
answer is memoised in the per-call Context. Every field is scanned for vocabulary
terms at most once. The compiled RuleSet holds the only caches (stems, confirmed
candidates); they never change an answer, only its cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from csi_coach.model import TEXT_FIELDS, Category, Evidence, Finding, Record, Severity, Verdict
from csi_coach.rules.document import read_record
from csi_coach.rules.kinds.base import NO, Condition, Match, make_evidence
from csi_coach.rules.negation import FieldCues
from csi_coach.rules.scanner import Scanner, Token


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str
    enabled: bool
    severity: Severity
    message: str
    sources: frozenset[str]
    containers: frozenset[str]
    condition: Condition
    examples_flag: tuple[Any, ...] = ()  # str (goal text) or dict of fields
    examples_pass: tuple[Any, ...] = ()
    description: str = ""
    # Where each example is written (file, line), flag examples then pass examples, so a
    # failing one is named by its line (rules.examples); not part of what the rule judges.
    example_lines: tuple[tuple[str, int | None], ...] = field(default=(), compare=False)

    def applies_to(self, record: Record) -> bool:
        if self.sources and record.source not in self.sources:
            return False
        if self.containers and record.container not in self.containers:
            return False
        return True


@dataclass(frozen=True)
class Classification:
    """Which rules decide the category: value goal named, process metric named, measurable;
    and, optionally, what makes a verdict ``unsure`` instead of a flag:

    - ``consequence``: a stated consequence the value rules cannot place ("restore in
      20 min so the night orders still reach the ovens"); a record with process
      measures and such a consequence is unsure, not process_only;
    - ``intent``: an intended change stated without value or process words ("no case
      adjourned for want of evidence"); a record with neither is unsure, not no_goal.
    """

    value: str
    process: str
    measurable: str
    consequence: str | None = None
    intent: str | None = None


@dataclass(frozen=True)
class Exemption:
    labels: frozenset[str] = frozenset()
    fields: tuple[tuple[str, frozenset[str]], ...] = ()  # (record attribute, values)

    def matches(self, record: Record) -> bool:
        if self.labels and any(l.lower() in self.labels for l in record.labels):
            return True
        for name, values in self.fields:
            v = getattr(record, name, None)
            if v is None:
                v = record.raw.get(name) if record.raw else None
            if v is not None and str(v).strip().lower() in values:
                return True
        return False


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]  # in file order: the order findings are reported
    order: tuple[str, ...]  # evaluation order: every rule after the rules it reads
    vocabs: dict[str, tuple[str, ...]]
    scanner: Scanner = field(compare=False, repr=False)
    classification: Classification = field(default=None)  # type: ignore[assignment]
    exemption: Exemption = field(default_factory=Exemption)
    version: str = ""
    files: tuple[str, ...] = ()  # the files it was built from, most derived first
    effective: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {r.id: r for r in self.rules})
        # id -> (condition, rule) for evaluation: condition None when disabled, rule only
        # when it has a source/container scope to check.
        plan = {
            r.id: (r.condition if r.enabled else None, r if (r.sources or r.containers) else None)
            for r in self.rules
        }
        object.__setattr__(self, "_plan", plan)
        # The evaluate method of each enabled rule without a source/container scope: one
        # dict lookup and a call, the path nearly every question takes.
        object.__setattr__(self, "_direct", {r.id: r.condition.evaluate for r in self.rules
                                            if r.enabled and not (r.sources or r.containers)})
        # The rules reported as findings, in file order.
        object.__setattr__(self, "_reported", tuple(r for r in self.rules if r.severity is not Severity.OFF))
        # Rules worth asking for a window of a field (see rules.window): those whose
        # work grows with the evidence checked (near, leads, and "any" over them).
        narrow: set[str] = set()
        for rid in self.order:
            r = self._by_id.get(rid)  # type: ignore[attr-defined]
            if r is None or not hasattr(r.condition, "evaluate_window"):
                continue
            if r.kind in ("near", "leads") or (r.kind == "any" and any(x in narrow for x in r.condition.refs)):
                narrow.add(rid)
        object.__setattr__(self, "windowed", frozenset(narrow))
        # Rules whose answer for a field scope holds exactly when it has evidence in those
        # fields ("not", "requires" and "all" can hold without any).
        tied = {r.id for r in self.rules if r.kind in ("vocab", "regex", "near", "leads", "field", "any")}
        object.__setattr__(self, "tied", frozenset(tied))

    def rule(self, rule_id: str) -> Rule:
        return self._by_id[rule_id]  # type: ignore[attr-defined]

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)


class Context:
    """One evaluation of one record: field tokens and rule results, computed once."""

    __slots__ = ("record", "ruleset", "_tokens", "_results", "_texts", "_index", "_evidence", "_plan", "_reversed", "_whole", "vocab_cache", "_by_field", "pieces", "_windowed", "_holds", "_direct", "_empty", "_cues")

    def __init__(self, record: Record, ruleset: RuleSet) -> None:
        self.record = record
        self.ruleset = ruleset
        self._tokens: dict[str, tuple[Token, ...]] = {}
        self._whole: dict[str, Match] = {}  # rule id -> its match over the whole record
        self._results: dict[tuple[str, frozenset], Match] = {}  # (rule id, field scope) -> match
        self._texts: dict[str, str] = {}
        self._index: dict[str, dict[str, list[Token]]] = {}
        self._evidence: dict[tuple[str, int], Evidence] = {}
        self._plan = ruleset._plan  # type: ignore[attr-defined]
        self._direct = ruleset._direct  # type: ignore[attr-defined]
        self._empty: frozenset | None = None  # see blank()
        self._cues: dict[str, FieldCues] = {}  # see negated_at()
        self._reversed: dict[str, str] = {}
        self._by_field: dict[int, tuple[Match, dict]] = {}
        # Vocabulary evidence by (vocab, field, negation): public because the vocab kind
        # reads it directly on its hot path, before asking vocab_evidence() to make it.
        self.vocab_cache: dict[tuple[str, str, bool], tuple[Evidence, ...]] = {}
        # What a kind finds in one field, kept by the kind under its own key, so a rule
        # asked for several field scopes does that field's work once.
        self.pieces: dict = {}
        self._windowed: dict[tuple, Match] = {}  # (rule id, field scope, window) -> match
        self._holds: dict[tuple, bool] = {}  # (rule id, field scope) -> holds, when asked alone

    def text(self, name: str) -> str:
        t = self._texts.get(name)
        if t is None:
            t = self.record.text(name) if name in TEXT_FIELDS else ""
            if not isinstance(t, str):
                t = str(t)
            self._texts[name] = t
        return t

    def tokens(self, name: str) -> tuple[Token, ...]:
        t = self._tokens.get(name)
        if t is None:
            t = self.ruleset.scanner.scan(self.text(name))
            self._tokens[name] = t
        return t

    def vocab_tokens(self, name: str) -> dict[str, list[Token]]:
        """One field's terms by vocabulary name (a term may be in several vocabularies)."""
        idx = self._index.get(name)
        if idx is None:
            idx = {}
            for t in self.tokens(name):
                for v in t.vocabs:
                    lst = idx.get(v)
                    if lst is None:
                        idx[v] = [t]
                    else:
                        lst.append(t)
            self._index[name] = idx
        return idx

    def vocab_evidence(self, name: str, vocab: str, negation: bool) -> tuple[Evidence, ...]:
        """One vocabulary's terms in one field as evidence, in order (without the negated
        ones when ``negation``): made once per record, shared by every rule reading it."""
        key = (name, vocab, negation)
        ev = self.vocab_cache.get(key)
        if ev is None:
            idx = self._index.get(name)
            hits = (idx if idx is not None else self.vocab_tokens(name)).get(vocab, ())
            evidence = self.evidence
            if negation:
                ev = tuple([evidence(name, t) for t in hits if not t.negated])
            else:
                ev = tuple([evidence(name, t) for t in hits])
            self.vocab_cache[key] = ev
        return ev

    def by_field(self, m: Match) -> dict[str, tuple[list[int], list[Evidence], int]]:
        """A match's evidence per field, sorted by start, with the starts and the longest
        span: "near" and "leads" bisect it for the blockers around one piece of evidence
        instead of trying every blocker. Made once per match object."""
        got = self._by_field.get(id(m))
        if got is None:
            groups: dict[str, list[Evidence]] = {}
            for e in m.evidence:
                lst = groups.get(e.field)
                if lst is None:
                    groups[e.field] = [e]
                else:
                    lst.append(e)
            table = {}
            for f, lst in groups.items():
                lst.sort(key=_start)
                table[f] = ([e.start for e in lst], lst, max([e.end - e.start for e in lst]))
            # The match is kept beside its table: its id stays its own while the context lives.
            got = self._by_field[id(m)] = (m, table)
        return got[1]

    def blank(self, scope: frozenset) -> bool:
        """Every field of ``scope`` is the empty string, so nothing can be found there: a
        record without a goal field is asked about its goal field often. Rules that
        narrow to their own fields and hold only with evidence there ("any", "near",
        "leads") answer NO at once then, instead of asking each sub-rule in turn."""
        empty = self._empty
        if empty is None:
            empty = self._empty = frozenset([f for f in TEXT_FIELDS if self.text(f) == ""])
        return scope <= empty

    def reversed_text(self, name: str) -> str:
        """One field's text reversed, made once: "near" looks back from evidence with it."""
        r = self._reversed.get(name)
        if r is None:
            r = self._reversed[name] = self.text(name)[::-1]
        return r

    def evidence(self, name: str, t: Token) -> Evidence:
        """The one Evidence object for a term occurrence, made when first asked for."""
        key = (name, t.start)
        e = self._evidence.get(key)
        if e is None:
            e = self._evidence[key] = make_evidence(name, t.text, t.start, t.end)
        return e

    def negated_at(self, name: str, pos: int) -> bool:
        """True when a negation cue governs a regex match starting at ``pos``."""
        scanner = self.ruleset.scanner
        if scanner.negation_vocab is None:
            return False
        cues = self._cues.get(name)
        if cues is None:
            cues = self._cues[name] = FieldCues(self.text(name), self.tokens(name), scanner.negation_vocab,
                                                scanner.negation_window)
        return cues.negates(pos)

    def result(self, rule_id: str, scope: frozenset | None = None) -> Match:
        """A rule's match, computed once per record (and per field scope asked for)."""
        if scope is None:
            # Whole-record answers have their own table keyed by the rule id alone: most
            # questions are asked this way, and a str key hashes for free.
            m = self._whole.get(rule_id)
            if m is None:
                run = self._direct.get(rule_id)
                m = self._whole[rule_id] = run(self, None) if run is not None else self._scoped(rule_id, None)
            return m
        key = (rule_id, scope)
        m = self._results.get(key)
        if m is None:
            # Known not to hold for the whole record (or holding without evidence, as a
            # "not" does)? Then the scoped answer is the same: do not recompute.
            m = self._whole.get(rule_id)
            if m is None or (m.holds and m.evidence):
                run = self._direct.get(rule_id)
                m = run(self, scope) if run is not None else self._scoped(rule_id, scope)
            self._results[key] = m
        return m

    def _scoped(self, rule_id: str, scope: frozenset | None) -> Match:
        """A disabled rule, or one scoped to some sources or containers."""
        condition, scoped = self._plan[rule_id]
        if condition is None or (scoped is not None and not scoped.applies_to(self.record)):
            return NO
        return condition.evaluate(self, scope)


    def holds(self, rule_id: str, scope: frozenset | None = None) -> bool:
        """Whether a rule holds (with evidence in ``scope``'s fields when scoped), for
        callers that need no evidence ("not", "requires", the category): "any" stops at
        the first rule that holds, "near" at the first pair, "leads" at the first piece.
        A full answer already known is used as it is."""
        m = self._whole.get(rule_id) if scope is None else self._results.get((rule_id, scope))
        if m is not None:
            return m.holds
        key = (rule_id, scope)
        h = self._holds.get(key)
        if h is None:
            condition, scoped = self._plan[rule_id]
            if condition is None or (scoped is not None and not scoped.applies_to(self.record)):
                h = False
            else:
                alone = getattr(condition, "evaluate_holds", None)
                h = alone(self, scope) if alone is not None else self.result(rule_id, scope).holds
            self._holds[key] = h
        return h

    def result_in(self, rule_id: str, scope: frozenset, window: tuple) -> Match:
        """A rule's evidence in a window of the one field in ``scope`` (see rules.window):
        every piece of its full evidence that overlaps the window, maybe more. A full
        answer already known is given as it is; kinds that cannot narrow answer in full."""
        m = self._results.get((rule_id, scope))
        if m is not None:
            return m
        if rule_id not in self.ruleset.windowed:  # type: ignore[attr-defined]
            return self.result(rule_id, scope)
        m = self._whole.get(rule_id)
        if m is not None and not (m.holds and m.evidence):
            return m
        key = (rule_id, scope, window)
        m = self._windowed.get(key)
        if m is None:
            condition, scoped = self._plan[rule_id]
            if condition is None or (scoped is not None and not scoped.applies_to(self.record)):
                m = NO
            else:
                m = condition.evaluate_window(self, scope, window)
            self._windowed[key] = m
        return m


def _start(e: Evidence) -> int:
    return e.start


def _sorted_evidence(evidence: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    rank = {f: i for i, f in enumerate(TEXT_FIELDS)}
    return tuple(sorted(evidence, key=lambda e: (rank.get(e.field, 99), e.start, e.end)))


UNSURE_MESSAGE = ("States a consequence or an intended change that the rules cannot place as value or "
                  "process: not coached. Tune the rules if this is a pattern.")


def evaluate(record: Record, ruleset: RuleSet) -> Verdict:
    """The verdict for one record. Same record + same rule set = same verdict."""
    # Lazy: only the rules that report or classify are asked for, and they ask only
    # for what they need (rules that are not needed are never run).
    record = read_record(record)
    ctx = Context(record, ruleset)
    findings = []
    for rule in ruleset._reported:  # type: ignore[attr-defined]
        m = ctx.result(rule.id)
        if m.holds:
            findings.append(Finding(rule.id, rule.severity, rule.message, _sorted_evidence(m.evidence)))
    c = ruleset.classification
    value = ctx.holds(c.value)
    process = ctx.holds(c.process)
    unsure_by = None  # the rule that made the verdict unsure
    if value:
        category = Category.LINKED if process else Category.VALUE
    elif c.consequence and ctx.holds(c.consequence):
        category, unsure_by = Category.UNSURE, c.consequence
    elif process:
        category = Category.PROCESS_ONLY
    elif c.intent and ctx.holds(c.intent):
        category, unsure_by = Category.UNSURE, c.intent
    else:
        category = Category.NO_GOAL
    if unsure_by is not None:
        # Nothing is coached, so no coaching finding stands: what is shown (explain, the
        # report) is what the rules could not place, for an admin to tune.
        findings = [f for f in findings if f.severity not in (Severity.WARNING, Severity.ERROR)]
        findings.append(Finding("unsure", Severity.INFO, UNSURE_MESSAGE,
                                _sorted_evidence(ctx.result(unsure_by).evidence)))
    return Verdict(
        category=category,
        measurable=ctx.holds(c.measurable),
        findings=tuple(findings),
        exempt=ruleset.exemption.matches(record),
    )


def evaluate_text(text: str, ruleset: RuleSet) -> Verdict:
    """Judge free text as if it were a record's goal field."""
    return evaluate(Record.from_text(text), ruleset)
