"""Read rule files (with ``extends`` chains), merge them, and compile a RuleSet.

A rule file:

    extends = "default"          # or a path relative to this file; optional
    [settings]                   negation_vocab, negation_window
    [vocab.NAME]                 terms = [...]   (or, over a base: add / remove / terms)
    [rule.ID]                    kind = "...", kind parameters, enabled, severity,
                                 message, sources, containers, examples
    [classify]                   value, process, measurable: rule ids
    [exempt]                     labels = [...], fields = { state = ["..."] }

Over a base, ``[rule.ID]`` changes only the keys it names; a new ID needs a kind.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

from csi_coach.errors import ConfigError, combine
from csi_coach.model import TEXT_FIELDS, Severity
from csi_coach.rules import params as P
from csi_coach.rules.engine import Classification, Exemption, Rule, RuleSet
from csi_coach.rules.kinds import REGISTRY
from csi_coach.rules.kinds.base import BuildContext
from csi_coach.rules.scanner import Scanner, Stemmer, is_suffix_term, split_term_words
from csi_coach.rules.where import Origins

DEFAULT_PATH = Path(__file__).with_name("default.toml")
TOP_KEYS = ("extends", "description", "settings", "vocab", "rule", "classify", "exempt")
SETTINGS = {
    "negation_vocab": P.Param(P.read_string, "the name of a vocabulary (\"\" for none)", default=""),
    "negation_window": P.Param(P.read_word_count, P.WORDS_EXPECTED, default=4),
}
CLASSIFY_KEYS = ("value", "process", "measurable", "consequence", "intent")
CLASSIFY_OPTIONAL = ("consequence", "intent")  # unset: no verdict is unsure
EXAMPLE_KEYS = ("flag", "pass")
# Record attributes an exemption may test besides labels.
EXEMPT_FIELDS = ("state", "owner", "service", "container", "source")


def _suggest(word: str, options: list[str] | tuple[str, ...], limit: int = 15, tail: str = "") -> dict[str, Any]:
    """The ``suggestion`` and ``expected`` of an error about an unknown name: the closest
    valid name, if one is close ("did you mean X?"), and the valid names (the first ``limit``)."""
    close = difflib.get_close_matches(word, list(options), n=1)
    names = sorted(options)
    listed = ", ".join(names[:limit]) or "(none)"
    if len(names) > limit:
        listed += f", ... ({len(names)} in all)"
    return {"suggestion": close[0] if close else None, "expected": "one of: " + listed + tail}


def _resolve(spec: str | Path, relative_to: Path | None) -> Path:
    if isinstance(spec, str) and spec == "default":
        return DEFAULT_PATH
    p = Path(spec).expanduser()
    if not p.is_absolute() and relative_to is not None:
        p = relative_to / p
    return p.resolve()


def _read(path: Path, origins: Origins, from_file: tuple[str, str] | None) -> tuple[str, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if from_file is not None:
            origins.fail("extends", "the rules file it extends does not exist", got=str(path),
                         expected='"default" or the path of an existing rules file, relative to this file')
        raise ConfigError("rules file not found", file=str(path),
                          expected='"default" or the path of an existing rules file') from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read rules file: {exc}", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ConfigError(f"not valid TOML: {exc}", file=str(path),
                          line=int(m.group(1)) if m else None, expected="a TOML file") from None
    return text, data


def _table(value: Any, key: str, origins: Origins) -> dict[str, Any]:
    if not isinstance(value, dict):
        origins.fail(key, f"{key!r} must be a table", got=value, expected=f"a [{key}] table")
    return value


def _terms(value: Any, key: str, origins: Origins) -> list[str]:
    if isinstance(value, str) or not isinstance(value, list) or not all(isinstance(t, str) and split_term_words(t) for t in value):
        origins.fail(key, "bad list of terms", got=value, expected='a list of words or phrases, e.g. ["customer", "service user"]')
    for t in value:
        if "*" in t and not is_suffix_term(t):
            origins.fail(key, "bad word-ending term", got=t, expected='"*" then at least two letters, e.g. "*ers" (a word ending in "ers")')
    return list(value)


def _norm(term: str, stem: Stemmer) -> tuple[str, ...]:
    """A term's identity for add/remove: its words' stems, so "patients" = "patient"."""
    if is_suffix_term(term):
        return (term.strip().lower(),)
    return tuple(stem(w) for w in split_term_words(term))


def _overlay(eff: dict[str, Any], data: dict[str, Any], file: str, text: str, origins: Origins) -> None:
    """Apply one file's tables on top of the effective data of its base."""
    def here(key: str) -> None:
        origins.set(key, file, text)

    stem = Stemmer()

    for key in data:
        if key not in TOP_KEYS:
            here(key)
            with origins.noting():
                origins.fail(key, f"unknown top-level key {key!r}", **_suggest(key, TOP_KEYS), has_got=False)

    with origins.noting():
        for key, value in _table(data.get("settings", {}), "settings", origins).items():
            here(f"settings.{key}")
            if key not in SETTINGS:
                with origins.noting():
                    origins.fail(f"settings.{key}", f"unknown setting {key!r}", **_suggest(key, tuple(SETTINGS)), has_got=False)
                continue
            eff["settings"][key] = value

    with origins.noting():
        for name, table in _table(data.get("vocab", {}), "vocab", origins).items():
            with origins.noting(f"vocab.{name}"):
                key = f"vocab.{name}"
                here(key)
                table = _table(table, key, origins)
                for k in table:
                    if k not in ("terms", "add", "remove"):
                        origins.fail(f"{key}.{k}", f"unknown key {k!r} in a vocabulary", expected='"terms", "add" or "remove"', has_got=False)
                exists = name in eff["vocab"]
                if not exists and "add" in table and "terms" not in table:
                    # Most often a misspelt name ("consumer_roles"): adding to it would silently
                    # make a new vocabulary that no rule reads.
                    origins.fail(f"{key}.add", f"vocabulary {name!r} does not exist in the base, nothing to add to",
                                 **_suggest(name, tuple(eff["vocab"]), tail=' (a new vocabulary is made with terms = ["...", ...])'),
                                 has_got=False)
                if not exists and "remove" in table:
                    origins.fail(f"{key}.remove", f"vocabulary {name!r} does not exist in the base, nothing to remove",
                                 **_suggest(name, tuple(eff["vocab"])), has_got=False)
                terms = list(eff["vocab"].get(name, []))
                if "terms" in table:
                    terms = _terms(table["terms"], f"{key}.terms", origins)
                if not exists and "terms" not in table:
                    origins.fail(key, f"new vocabulary {name!r} has no terms", expected='terms = ["...", ...]', has_got=False)
                if "add" in table:
                    have = {_norm(x, stem) for x in terms}
                    terms += [t for t in _terms(table["add"], f"{key}.add", origins) if _norm(t, stem) not in have]
                if "remove" in table:
                    drop = _terms(table["remove"], f"{key}.remove", origins)
                    have = {_norm(t, stem) for t in terms}
                    for t in drop:
                        if _norm(t, stem) not in have:
                            origins.fail(f"{key}.remove", f"{t!r} is not a term of vocabulary {name!r}", got=t,
                                         expected="one of its terms: " + ", ".join(terms[:40]) + (" ..." if len(terms) > 40 else ""))
                    gone = {_norm(t, stem) for t in drop}
                    terms = [t for t in terms if _norm(t, stem) not in gone]
                eff["vocab"][name] = terms

    with origins.noting():
        for rule_id, table in _table(data.get("rule", {}), "rule", origins).items():
            with origins.noting(f"rule.{rule_id}"):
                key = f"rule.{rule_id}"
                here(key)
                table = _table(table, key, origins)
                base = eff["rule"].get(rule_id)
                if base is None and "kind" not in table:
                    origins.fail(key, f"unknown rule id {rule_id!r} (a new rule needs a kind)",
                                 **_suggest(rule_id, tuple(eff["rule"])), has_got=False)
                if base is None or ("kind" in table and table["kind"] != base.get("kind")):
                    merged = dict(table)
                    for k in list(origins.files):
                        if k.startswith(key + "."):
                            del origins.files[k]
                    if base is None:
                        eff["order"].append(rule_id)
                else:
                    merged = {**base, **table}
                for k in table:
                    here(f"{key}.{k}")
                eff["rule"][rule_id] = merged

    with origins.noting():
        for k, v in _table(data.get("classify", {}), "classify", origins).items():
            with origins.noting():
                here(f"classify.{k}")
                if k not in CLASSIFY_KEYS:
                    origins.fail(f"classify.{k}", f"unknown key {k!r} in [classify]", **_suggest(k, CLASSIFY_KEYS), has_got=False)
                eff["classify"][k] = v

    with origins.noting():
        exempt = _table(data.get("exempt", {}), "exempt", origins)
        for k, v in exempt.items():
            here(f"exempt.{k}")
            if k == "labels":
                labels = P.STRINGS
                try:
                    values = labels.read(v)
                except ValueError:
                    origins.fail("exempt.labels", "bad list of labels", got=v, expected="a list of label strings")
                eff["exempt"]["labels"] = sorted(set(eff["exempt"]["labels"]) | set(values))
            elif k == "fields":
                for fname, fvals in _table(v, "exempt.fields", origins).items():
                    here(f"exempt.fields.{fname}")
                    if fname not in EXEMPT_FIELDS:
                        origins.fail(f"exempt.fields.{fname}", f"unknown record field {fname!r}", **_suggest(fname, EXEMPT_FIELDS), has_got=False)
                    try:
                        values = P.STRINGS.read(fvals)
                    except ValueError:
                        origins.fail(f"exempt.fields.{fname}", "bad list of values", got=fvals, expected="a list of strings")
                    old = eff["exempt"]["fields"].get(fname, [])
                    eff["exempt"]["fields"][fname] = sorted(set(old) | set(values))
            else:
                origins.fail(f"exempt.{k}", f"unknown key {k!r} in [exempt]", expected='"labels" or "fields"', has_got=False)


def _effective(path: Path, origins: Origins, chain: list[Path], from_file: tuple[str, str] | None = None) -> tuple[dict[str, Any], list[str]]:
    if path in chain:
        cycle = " -> ".join(str(p) for p in chain + [path])
        origins.fail("extends", "rules files extend each other in a cycle", got=cycle, expected="a chain that ends in a file without extends")
    text, data = _read(path, origins, from_file)
    file = str(path)
    files = [file]
    if "extends" in data:
        origins.set("extends", file, text)
        ext = data["extends"]
        if not isinstance(ext, str) or not ext.strip():
            origins.fail("extends", "bad extends", got=ext, expected='"default" or a path to a rules file')
        eff, base_files = _effective(_resolve(ext, path.parent), origins, chain + [path], (file, text))
        files += base_files
    else:
        eff = {"settings": {}, "vocab": {}, "rule": {}, "order": [], "classify": {}, "exempt": {"labels": [], "fields": {}}}
    origins.default = (file, text)
    _overlay(eff, data, file, text, origins)
    return eff, files


def _examples(value: Any, key: str, origins: Origins) -> tuple[tuple, tuple]:
    if not isinstance(value, dict):
        origins.fail(key, "bad examples", got=value, expected="a table: { flag = [...], pass = [...] }")
    out = {}
    for k in value:
        if k not in EXAMPLE_KEYS:
            origins.fail(f"{key}.{k}", f"unknown key {k!r} in examples", expected='"flag" or "pass"', has_got=False)
    for k in EXAMPLE_KEYS:
        items = value.get(k, [])
        if not isinstance(items, list):
            origins.fail(f"{key}.{k}", "bad list of examples", got=items, expected="a list of texts or tables of fields")
        for item in items:
            ok = isinstance(item, str) or (
                isinstance(item, dict) and item and all(f in TEXT_FIELDS + ("source", "container") and isinstance(v, str) for f, v in item.items())
            )
            if not ok:
                origins.fail(f"{key}.{k}", "bad example", got=item,
                             expected="a text (judged as the goal field) or a table with keys " + ", ".join(TEXT_FIELDS))
        out[k] = tuple(items)
    return out["flag"], out["pass"]


@functools.cache
def vetted_patterns() -> frozenset[str]:
    """The regex patterns of the shipped rules (default.toml): they keep Python's re (rules.patterns)."""
    data = tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    return frozenset(t["pattern"] for t in data.get("rule", {}).values()
                     if isinstance(t, dict) and t.get("kind") == "regex" and isinstance(t.get("pattern"), str))


def _check_graph(rules: dict[str, Rule], origins: Origins) -> tuple[str, ...]:
    """Evaluation order with every rule after the rules it reads; a cycle is an error."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(rid: str, path: list[str]) -> None:
        if state.get(rid) == 2:
            return
        if state.get(rid) == 1:
            cycle = path[path.index(rid):] + [rid]
            origins.fail(f"rule.{rid}", "rules refer to each other in a cycle", got=" -> ".join(cycle),
                         expected="rules that refer only to rules that do not refer back")
        state[rid] = 1
        for ref in rules[rid].condition.refs:
            if ref in rules:  # a rule that could not be read has its own error already
                visit(ref, path + [rid])
        state[rid] = 2
        order.append(rid)

    for rid in rules:
        visit(rid, [])
    return tuple(order)


def _rule(rid: str, table: dict[str, Any], vocabs: dict[str, tuple[str, ...]], origins: Origins) -> Rule:
    key = f"rule.{rid}"
    kind = table.get("kind")
    if kind not in REGISTRY:
        origins.fail(f"{key}.kind", f"unknown rule kind {kind!r}", got=kind, **_suggest(str(kind), tuple(REGISTRY)))
    module = REGISTRY[kind]
    params = P.read_params(table, module.PARAMS, key, origins, kind)
    condition = module.build(BuildContext(rid, key, origins, params, vetted_patterns()))
    flag, passing = _examples(params["examples"], f"{key}.examples", origins)
    for vocab_name in condition.vocabs:
        if vocab_name not in vocabs and f"vocab.{vocab_name}" not in origins.broken:
            origins.fail(f"{key}.vocab", f"no vocabulary named {vocab_name!r}", got=vocab_name, **_suggest(vocab_name, tuple(vocabs)))
    return Rule(
        id=rid, kind=kind, enabled=params["enabled"], severity=Severity(params["severity"]),
        message=params["message"], sources=frozenset(params["sources"]), containers=frozenset(params["containers"]),
        condition=condition, examples_flag=flag, examples_pass=passing, description=params["description"],
        example_lines=_example_lines(f"{key}.examples", (*flag, *passing), origins),
    )


def _example_lines(key: str, examples: tuple[Any, ...], origins: Origins) -> tuple[tuple[str, int | None], ...]:
    """The file and line of each example: the first line at or after the ``examples`` key
    that holds its text (a table example: its first value), else the key's own line."""
    file, start = origins.locate(key)
    text = next((t for f, t in origins.files.values() if f == file), "")
    lines = text.splitlines()
    out: list[tuple[str, int | None]] = []
    after = (start or 1) - 1
    for example in examples:
        words = example if isinstance(example, str) else next(iter(example.values()), "")
        probe = json.dumps(words)[1:-1][:60]  # as TOML's basic strings spell it (quotes, backslashes)
        found = next((i for i in range(after, len(lines)) if probe and (probe in lines[i] or words[:60] in lines[i])), None)
        if found is None:
            out.append((file, start))
            continue
        out.append((file, found + 1))
        after = found  # examples are written in order; two alike on one line keep that line
    return tuple(out)


def _compile(eff: dict[str, Any], origins: Origins, files: list[str]) -> RuleSet:
    # Each setting, rule and [classify] key is checked on its own (origins.noting), so one
    # loading lists every error; an error that only follows from another (a reference to a
    # rule or vocabulary that could not be read) is not said.
    settings = {}
    for k, param in SETTINGS.items():
        settings[k] = param.default
        if k in eff["settings"]:
            with origins.noting():
                try:
                    settings[k] = param.read(eff["settings"][k])
                except ValueError:
                    origins.fail(f"settings.{k}", f"bad value for {k!r}", got=eff["settings"][k], expected=param.expected)
    vocabs = {name: tuple(terms) for name, terms in eff["vocab"].items()}
    neg = settings["negation_vocab"] or None
    if neg is not None and neg not in vocabs:
        with origins.noting():
            if f"vocab.{neg}" not in origins.broken:
                origins.fail("settings.negation_vocab", f"no vocabulary named {neg!r}", got=neg, **_suggest(neg, tuple(vocabs)))
        neg = None

    rules: dict[str, Rule] = {}
    for rid in eff["order"]:
        with origins.noting(f"rule.{rid}"):
            rules[rid] = _rule(rid, eff["rule"][rid], vocabs, origins)
    for rid in rules:
        for ref_key in ("if", "then", "rule", "a", "b", "rules", "unless", "unless_clause", "link"):  # every kind's rule references
            refs = eff["rule"][rid].get(ref_key)
            for ref in ([refs] if isinstance(refs, str) else refs or []):
                if ref not in rules and f"rule.{ref}" not in origins.broken:
                    with origins.noting():
                        origins.fail(f"rule.{rid}.{ref_key}", f"refers to unknown rule {ref!r}", got=ref, **_suggest(ref, tuple(rules)))
    order: tuple[str, ...] = tuple(rules)
    with origins.noting():
        order = _check_graph(rules, origins)

    cls = {}
    for k in CLASSIFY_KEYS:
        v = eff["classify"].get(k)
        if v is None and k in CLASSIFY_OPTIONAL:
            continue
        with origins.noting():
            if v is None:
                origins.fail(f"classify.{k}", f"[classify] needs {k!r}", expected="the id of the rule that decides it", has_got=False)
            if not isinstance(v, str) or (v not in rules and f"rule.{v}" not in origins.broken):
                origins.fail(f"classify.{k}", f"[classify] {k} names no rule", got=v, **_suggest(str(v), tuple(rules)))
            cls[k] = v
    error = combine(origins.errors)
    if error is not None:
        raise error

    exempt = Exemption(
        labels=frozenset(l.lower() for l in eff["exempt"]["labels"]),
        fields=tuple((f, frozenset(v.strip().lower() for v in vals)) for f, vals in sorted(eff["exempt"]["fields"].items())),
    )
    blob = json.dumps({k: eff[k] for k in ("settings", "vocab", "rule", "order", "classify", "exempt")}, sort_keys=True, default=str)
    version = hashlib.sha256(blob.encode()).hexdigest()[:12]
    scanner = Scanner(vocabs, negation_vocab=neg, negation_window=settings["negation_window"])
    return RuleSet(
        rules=tuple(rules[r] for r in eff["order"]), order=order, vocabs=vocabs, scanner=scanner,
        classification=Classification(**cls), exemption=exempt, version=version, files=tuple(files), effective=eff,
    )


def load_ruleset(spec: str | Path = "default") -> RuleSet:
    """Load "default" or a rules file (following its extends chain) into a RuleSet.

    Raises ConfigError naming the file, key path, line, bad value and what is valid; when
    there are several, ``ConfigErrors`` listing them all.
    """
    path = _resolve(spec, Path.cwd())
    origins = Origins()
    try:
        eff, files = _effective(path, origins, [])
        return _compile(eff, origins, files)
    except ConfigError as exc:  # with the errors noted before it: every one found, listed together
        error = combine([*origins.errors, exc] if exc not in origins.errors else origins.errors)
        raise (error or exc) from None
