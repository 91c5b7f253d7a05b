"""The rule kinds: one module each, registered here by the name used in TOML."""

from __future__ import annotations

from types import ModuleType

from csi_coach.rules.kinds import all_of, any_of, consequence, field, leads, near, not_, regex, requires, sentence, vocab

# kind name in TOML -> module with PARAMS (accepted keys) and build(BuildContext).
REGISTRY: dict[str, ModuleType] = {
    "vocab": vocab,
    "regex": regex,
    "field": field,
    "requires": requires,
    "all": all_of,
    "any": any_of,
    "not": not_,
    "near": near,
    "leads": leads,
    "consequence": consequence,
    "sentence": sentence,
}
