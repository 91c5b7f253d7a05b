"""kind = "vocab": any term of the named vocabularies in the scoped fields.

    [rule.consumer-role]
    kind = "vocab"
    vocab = ["consumer_role"]      # one or more [vocab.NAME] tables
    fields = ["title", "goal"]     # default: all text fields
    negation = true                # ignore terms inside a negation ("not aimed at cost")

Terms match whole words and their inflections ("reduces costs" = "reduce cost").
"""

from __future__ import annotations

from dataclasses import dataclass

from csi_coach.model import Evidence
from csi_coach.rules import params as P
from csi_coach.rules.kinds.base import NO, BuildContext, Match

PARAMS = {
    "vocab": P.Param(P.read_names, "a vocabulary name or a list of them", required=True),
    "fields": P.FIELDS,
    "negation": P.Param(P.read_bool, "true or false", default=True),
}


@dataclass(frozen=True)
class VocabCondition:
    vocabs: tuple[str, ...]
    fields: tuple[str, ...]
    negation: bool
    refs: tuple[str, ...] = ()

    def evaluate(self, ctx, scope=None) -> Match:
        fields = self.fields if scope is None else [f for f in self.fields if f in scope]
        neg = self.negation
        if len(self.vocabs) == 1:
            v = self.vocabs[0]
            # Each field's evidence is made once per record (Context.vocab_evidence): read
            # the table first, call only to make it.
            known = ctx.vocab_cache.get
            vocab_evidence = ctx.vocab_evidence
            if len(fields) == 1:
                ev = known((fields[0], v, neg))
                if ev is None:
                    ev = vocab_evidence(fields[0], v, neg)
                return Match(True, ev) if ev else NO
            found: list[Evidence] = []
            for f in fields:
                ev = known((f, v, neg))
                if ev is None:
                    ev = vocab_evidence(f, v, neg)
                if ev:
                    found.extend(ev)
            return Match(True, tuple(found)) if found else NO
        found = []
        pieces = ctx.pieces
        for f in fields:
            # A term in several of the vocabularies is one occurrence (tokens are in order,
            # one per start); made once per field and record, whatever scope asks.
            key = (self.vocabs, f, neg)
            ev = pieces.get(key)
            if ev is None:
                names = frozenset(self.vocabs)
                evidence = ctx.evidence
                ev = pieces[key] = [evidence(f, t) for t in ctx.tokens(f)
                                    if not names.isdisjoint(t.vocabs) and not (neg and t.negated)]
            found.extend(ev)
        return Match(True, tuple(found)) if found else NO


def build(b: BuildContext) -> VocabCondition:
    p = b.params
    return VocabCondition(vocabs=tuple(p["vocab"]), fields=tuple(p["fields"]), negation=p["negation"])
