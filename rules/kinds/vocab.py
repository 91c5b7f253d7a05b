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

from model import Evidence
from rules import params as P
from rules.kinds.base import NO, BuildContext, Match, in_scope

PARAMS = {
    "vocab": P.Param(P._nonempty_str_list, "a vocabulary name or a list of them", required=True),
    "fields": P.FIELDS,
    "negation": P.Param(P._bool, "true or false", default=True),
}


@dataclass(frozen=True)
class VocabCondition:
    vocabs: tuple[str, ...]
    fields: tuple[str, ...]
    negation: bool
    refs: tuple[str, ...] = ()

    def evaluate(self, ctx, scope=None) -> Match:
        found: list[Evidence] = []
        for f in in_scope(self.fields, scope):
            idx = ctx.vocab_tokens(f)
            if len(self.vocabs) == 1:
                hits = idx.get(self.vocabs[0])
                if not hits:
                    continue
            else:
                merged = {t.start: t for v in self.vocabs for t in idx.get(v, ())}
                if not merged:
                    continue
                hits = [merged[k] for k in sorted(merged)]
            ev = ctx.evidence
            if self.negation:
                found.extend(ev(f, t) for t in hits if not t.negated)
            else:
                found.extend(ev(f, t) for t in hits)
        return Match(True, tuple(found)) if found else NO


def build(b: BuildContext) -> VocabCondition:
    p = b.params
    return VocabCondition(vocabs=tuple(p["vocab"]), fields=tuple(p["fields"]), negation=p["negation"])
