"""Coaching comments and reports from Jinja2 templates.

Ticket text is data. It reaches a template only as a variable, never as template
source, and every ``{{ ... }}`` output passes through a per-target ``finalize``
that cleans it (NUL bytes, lone surrogates, control characters), caps its length
and escapes it for the target's markup. A template cannot forget to escape, and
a 5 MB description cannot make a 5 MB comment.

Targets:
  servicenow  journal text. Journals show plain text, except that ``[code]...[/code]``
              is rendered as HTML, so those tags (and HTML tag starts) are defused, and
              that ``@[<sys_id>:<name>]`` is a mention: written through the API it makes a
              live_mention and notifies that user, so every ``@`` that could start one
              is followed by an invisible break (the Live Feed form ``@name`` too).
  jira        wiki markup. Every character Jira's renderer treats as markup is
              backslash-escaped, so mentions (``[~name]``, ``[~accountid:...]``), macros,
              links and images stay text; a mention's ``[~`` is also split by an
              invisible break, so it stays text even where an escape were ignored.
              The bot writes wiki markup (REST v2), never ADF, so no mention node can
              come from it; an ADF mention read from a ticket arrives as text ("@Name").

Mentions are defused only in values (what the bot quotes from tickets and reads from
files); the template's own text is the bot's and is left as written. Each break is a
zero-width space: the quoted text reads exactly as the owner wrote it.

Templates are looked up in the admin's folder first, then in the shipped
``templates/`` folder: ``<target>/comment.j2``, ``<target>/acknowledgement.j2``, ``<target>/dispute.j2`` (the reply to an owner's pushback),
``report/<name>``. Files whose name starts with "_" are partials for includes.
The coaching lines (``coaching.toml``) are read the same way: an admin's file in the
templates folder replaces the shipped entries key by key (see advice.py).

Variables a comment or acknowledgement template may use (all text is cleaned, capped
and escaped on output; quotes are cut from the record as the rules read it, never
from its raw markup):

  record     number, title, description, goal, service, owner, state, labels, url,
             source, key
  verdict    category, value_goal, measurable, exempt, more_findings,
             findings (each: rule, severity, message, evidence, more_evidence;
                       each evidence: field, text, quote, start, end, clipped),
             quotes (at most 2 whole sentences around the evidence, merged, each once;
                     each: field, quote, text, start, end, clipped)
  coaching   what to say, built from the record (advice.build):
             finding    "process" (a quote holds a process term of a known kind),
                        "process_other" (a process term, no known kind), "unclear"
                        (no process term quoted: "I can't see who gains from this"),
                        "intention" (the goal field holds an intention), "pointer"
                        (the goal field says "See description", "TBC" ...), "no_goal"
             kinds      up to 2 kinds of process measure quoted (each: key, name, line,
                        question, draft form); kind: the first or none
             line       the first kind's reframe line ("" when none)
             question   the one question to ask
             draft      a draft goal in the record's words, "" when the record names no
                        consumer group (then ask the question alone)
             who        the consumer group the record names, or ""
             internal   the owner wrote that the work is internal or for an audit
             quotes     the same list as verdict.quotes
             goal       the goal field as read (one line, up to 160 characters)
             goal_state "empty", "pointer" or "text"
             greeting   the owner's first name when the owner field holds a name, or ""
             measurable the verdict's measurability
  guide_url  the admin's CSI guide ([comments] guide_url), or ""
  marker, opt_out_label, target
  dispute_keyword, not_applicable_keyword
             the first configured keyword of each kind an owner may reply with
             ([comments] dispute_keywords, not_applicable_keywords), or "" for none
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from csi_coach import advice
from csi_coach.config import CommentPolicy
from csi_coach.errors import ConfigError
from csi_coach.model import MARKER_RE, TEXT_FIELDS, Category, Evidence, Finding, Record, Severity, Verdict, marker_for
from csi_coach.rules.document import read_record

SHIPPED_TEMPLATES = Path(__file__).resolve().parent / "templates"
TARGETS = ("servicenow", "jira")
KINDS = ("comment", "acknowledgement", "dispute")

QUOTE_LIMIT = advice.QUOTE_LIMIT  # one quoted piece: a sentence, or its clauses that fit
TEXT_LIMIT = 500  # any ticket text a template can reach
OUTPUT_LIMIT = 600  # any single {{ }} output, whatever the template does
MAX_FINDINGS = 5
MAX_EVIDENCE = 3  # per finding
MAX_QUOTES = advice.MAX_QUOTES
MAX_COMMENT_CHARS = 12_000  # well under ServiceNow's and Jira's comment limits

TEMPLATE_VARIABLES = (
    "the variables record (number, title, description, goal, service, owner, state, labels, url, source, key), "
    "verdict (category, value_goal, measurable, exempt, findings, quotes, more_findings; each finding: rule, "
    "severity, message, evidence, more_evidence; each evidence/quote: field, text, quote, start, end, clipped), "
    "coaching (finding, kinds, kind, line, question, draft, who, internal, quotes, goal, goal_state, greeting, "
    "measurable), guide_url, marker, opt_out_label, dispute_keyword, not_applicable_keyword and target"
)
ZWSP = "\u200b"  # invisible; breaks a markup token without changing what people read
_SEVERITY_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


class Trusted(str):
    """Text the bot itself produced (marker, record URL): finalize leaves it as is."""


# ---------------------------------------------------------------- cleaning and escaping

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
_SPACE_RE = re.compile(r"\s+")


def clean(text: str, limit: int = TEXT_LIMIT) -> str:
    """Printable, single-line text of at most ``limit`` characters (ellipsis if cut).

    Slices first, so the cost is bounded whatever the input size.
    """
    text = str(text)[: limit * 4 + 16]
    text = _SURROGATE_RE.sub("\ufffd", text)
    text = _CONTROL_RE.sub("", text)
    text = _SPACE_RE.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _defuse_common(text: str) -> str:
    # A quoted fake marker must not make the bot mistake a comment for its own,
    # and a quoted link should not become a clickable link under the bot's name.
    text = re.sub(r"(?i)csi-coach:", "csi-coach" + ZWSP + ":", text)
    return re.sub(r"(?i)\b([a-z][a-z0-9+.-]*):(//)", r"\1:" + ZWSP + r"\2", text)


_SN_CODE_RE = re.compile(r"\[(?=\s*/?\s*code\b)", re.IGNORECASE)
_HTML_START_RE = re.compile(r"<(?=[A-Za-z/!?])")
_HTML_ENTITY_RE = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


# A journal mention is stored as "@[<sys_id>:<name>]" (the live_mention form); the Live
# Feed form is "@name". An "@" before "[" (spaces allowed), before a name (not inside an
# e-mail address), or ending the value (the next value could begin "[...") gets a break.
_SN_MENTION_RE = re.compile(r"@(?=\s*\[|$)|(?<![\w.+-])@(?=\w)")


def escape_servicenow(text: str) -> str:
    """Journal text: no [code] block can open or close, no HTML tag can start, no mention
    can notify anyone."""
    text = _defuse_common(text)
    text = _SN_MENTION_RE.sub("@" + ZWSP, text)
    text = _SN_CODE_RE.sub("[" + ZWSP, text)
    text = _HTML_START_RE.sub("<" + ZWSP, text)
    return _HTML_ENTITY_RE.sub("&" + ZWSP, text)


# Characters Jira's wiki renderer accepts a backslash escape for.
_JIRA_SPECIAL = frozenset("-#*_+?^~|%{}[]()!@")
_JIRA_LINE_START_RE = re.compile(r"^(h[1-6]|bq)\.", re.IGNORECASE)


def escape_jira(text: str) -> str:
    """Wiki markup: every markup character escaped, so ticket text stays text."""
    text = _defuse_common(text)
    # A literal backslash would pair with the escape that follows it ("\\" is a line
    # break in Jira), so it is shown as the full-width reverse solidus instead.
    text = text.replace("\\", "\uff3c")
    text = "".join("\\" + ch if ch in _JIRA_SPECIAL else ch for ch in text)
    # "[~name]" and "[~accountid:...]" notify that user: escaped above, and split too, so
    # the mention stays text even on a renderer that ignored the escape.
    text = text.replace("\\[\\~", "\\[" + ZWSP + "\\~")
    return _JIRA_LINE_START_RE.sub(ZWSP + r"\1.", text)  # "h1." / "bq." at a line start


ESCAPERS: dict[str, Callable[[str], str]] = {"servicenow": escape_servicenow, "jira": escape_jira}


def _finalizer(escape: Callable[[str], str]) -> Callable[[Any], str]:
    def finalize(value: Any) -> str:
        if isinstance(value, Trusted):
            return str(value)
        if isinstance(value, bool) or value is None:
            return "" if value is None else ("yes" if value else "no")
        if isinstance(value, (int, float)):
            return str(value)
        return escape(clean(value, OUTPUT_LIMIT))

    return finalize


def _html_finalize(value: Any) -> Any:
    # Reports are autoescaped HTML; this only removes what no browser should see.
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    value = _SURROGATE_RE.sub("\ufffd", value)
    return _CONTROL_RE.sub("", value.replace("\u2028", " ").replace("\u2029", " "))


# ---------------------------------------------------------------- template context

_URL_RE = re.compile(r"https?://[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]{1,2000}")


def _evidence_views(read: Record, evidence: Iterable[Evidence]) -> list[dict[str, Any]]:
    """At most MAX_EVIDENCE evidence items, each with the sentence around it as its quote;
    evidence inside an already quoted sentence is not quoted twice."""
    out: list[dict[str, Any]] = []
    spans: list[tuple[str, int, int]] = []
    for ev in evidence:
        if len(out) == MAX_EVIDENCE:
            break
        text = read.text(ev.field) if ev.field in TEXT_FIELDS else ""
        where = advice._locate(text, ev) if text else None
        if where is not None and where[1] - where[0] <= QUOTE_LIMIT:
            lo, hi, clipped = advice.quote_span(text, *where)
            if any(f == ev.field and a <= where[0] and where[1] <= b for f, a, b in spans):
                continue
            spans.append((ev.field, lo, hi))
            words = clean(text[lo:hi], QUOTE_LIMIT)
            quote = ("…" + words + "…") if clipped else words
        else:
            clipped = len(clean(ev.text, QUOTE_LIMIT * 4)) > QUOTE_LIMIT
            quote = clean(ev.text, QUOTE_LIMIT)
        out.append({"field": clean(ev.field, 40), "text": clean(ev.text, QUOTE_LIMIT), "quote": quote,
                    "start": ev.start, "end": ev.end, "clipped": clipped})
    return out


def _finding_view(read: Record, f: Finding) -> dict[str, Any]:
    evidence = _evidence_views(read, f.evidence)
    return {
        "rule": clean(f.rule, 80),
        "severity": f.severity.value,
        "message": clean(f.message, 240),
        "evidence": evidence,
        "more_evidence": max(0, len(f.evidence) - len(evidence)),
    }


def _shown(verdict: Verdict) -> list[Finding]:
    return sorted((f for f in verdict.findings if f.severity in _SEVERITY_ORDER), key=lambda f: _SEVERITY_ORDER[f.severity])


def verdict_view(record: Record, verdict: Verdict, quotes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    read = read_record(record)
    shown = _shown(verdict)
    findings = [_finding_view(read, f) for f in shown[:MAX_FINDINGS]]
    if quotes is None:
        quotes = [q.view() for q in advice.quotes_for(read, [e for f in shown[:MAX_FINDINGS] for e in f.evidence])]
    return {
        "category": verdict.category.value,
        "value_goal": verdict.value_goal,
        "measurable": verdict.measurable,
        "exempt": verdict.exempt,
        "findings": findings,
        "more_findings": max(0, len(shown) - MAX_FINDINGS),
        "quotes": quotes,
    }


def coaching_view(record: Record, verdict: Verdict, coaching: advice.Coaching) -> dict[str, Any]:
    """advice.build for the shown findings, with every quote capped for the template."""
    shown = Verdict(verdict.category, verdict.measurable, tuple(_shown(verdict)[:MAX_FINDINGS]), verdict.exempt)
    view = advice.build(record, shown, coaching)
    for q in view["quotes"]:
        q["text"] = clean(q["text"], QUOTE_LIMIT)
        q["quote"] = clean(q["quote"], QUOTE_LIMIT + advice.NEGATION_SLACK + 2)
        q["field"] = clean(q["field"], 40)
    return view


def record_view(record: Record) -> dict[str, Any]:
    url = record.url if isinstance(record.url, str) and _URL_RE.fullmatch(record.url) else ""
    return {
        "source": clean(record.source, 80),
        "key": clean(record.key, 80),
        "number": clean(record.number, 80),
        "url": Trusted(url),
        "title": clean(record.title, QUOTE_LIMIT),
        "description": clean(record.description, TEXT_LIMIT),
        "goal": clean(record.goal, TEXT_LIMIT),
        "service": clean(record.service, 80),
        "owner": clean(record.owner, 80),
        "state": clean(record.state, 40),
        "labels": [clean(x, 60) for x in record.labels[:20]],
    }


# ---------------------------------------------------------------- the renderer


def _template_error(exc: BaseException, fallback: str) -> ConfigError:
    """A ConfigError naming the template file and line of a render failure."""
    if isinstance(exc, TemplateSyntaxError):
        return ConfigError(f"template syntax error: {exc.message}", file=exc.filename or exc.name or fallback,
                           line=exc.lineno, expected="valid Jinja2 template syntax")
    file, line = fallback, None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith((".j2", ".html")) or frame.filename == fallback:
            file, line = frame.filename, frame.lineno
    return ConfigError(f"template failed to render: {type(exc).__name__}: {exc}", file=file, line=line,
                       expected=TEMPLATE_VARIABLES)


def _first(keywords: Iterable[str]) -> str:
    return next((k.strip() for k in keywords if k.strip()), "")


class Renderer:
    """Renders coaching comments (per target) and HTML reports."""

    def __init__(self, templates_dir: Path | str | None = None, *, opt_out_label: str = "csi-coach-skip",
                 guide_url: str = "", dispute_keywords: Iterable[str] | None = None,
                 not_applicable_keywords: Iterable[str] | None = None) -> None:
        self.templates_dir = Path(templates_dir) if templates_dir else None
        if self.templates_dir is not None and not self.templates_dir.is_dir():
            raise ConfigError("the templates folder does not exist", file=str(self.templates_dir), key="templates_dir",
                              expected="an existing folder of admin templates, or none for the shipped ones")
        self.opt_out_label = opt_out_label or ""
        # The first keyword of each kind ([comments], the shipped ones by default): how a
        # comment tells the owner they can reply; "" when that kind is switched off.
        shipped = CommentPolicy()
        self.dispute_keyword = _first(shipped.dispute_keywords if dispute_keywords is None else dispute_keywords)
        self.not_applicable_keyword = _first(
            shipped.not_applicable_keywords if not_applicable_keywords is None else not_applicable_keywords)
        if guide_url and not _URL_RE.fullmatch(guide_url):
            raise ConfigError("the CSI guide link is not an http(s) URL", key="comments.guide_url", got=guide_url,
                              has_got=True, expected="https://... (your CSI guide), or \"\" for none")
        self.guide_url = guide_url
        self.coaching = advice.load_coaching(self.templates_dir)  # raises ConfigError naming the admin's file
        folders = [str(self.templates_dir)] if self.templates_dir else []
        self._loader = ChoiceLoader([FileSystemLoader(f) for f in folders + [str(SHIPPED_TEMPLATES)]])
        self._envs = {t: self._environment(_finalizer(ESCAPERS[t]), autoescape=False) for t in TARGETS}
        self._html = self._environment(_html_finalize, autoescape=True)

    @classmethod
    def from_config(cls, config: Any) -> Renderer:
        """The renderer a config asks for: its templates folder, first opt-out label and keywords."""
        labels = config.comments.opt_out_labels
        return cls(config.templates_path(), opt_out_label=labels[0] if labels else "",
                   guide_url=config.comments.guide_url, dispute_keywords=config.comments.dispute_keywords,
                   not_applicable_keywords=config.comments.not_applicable_keywords)

    def _environment(self, finalize: Callable[[Any], Any], *, autoescape: bool) -> SandboxedEnvironment:
        return SandboxedEnvironment(
            loader=self._loader,
            undefined=StrictUndefined,
            finalize=finalize,
            autoescape=autoescape,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )

    # -- comments

    def comment(self, target: str, record: Record, verdict: Verdict, marker: str) -> str:
        return self._render(target, "comment", record, verdict, marker)

    def acknowledgement(self, target: str, record: Record, verdict: Verdict, marker: str) -> str:
        return self._render(target, "acknowledgement", record, verdict, marker)

    def dispute_acknowledgement(self, target: str, record: Record, verdict: Verdict, marker: str,
                                dispute: dict[str, Any]) -> str:
        """The one reply to an owner's pushback: ``dispute`` holds ``kind`` ("wrong" or
        "not_applicable") and ``rules`` (the rules no longer coached on the record)."""
        return self._render(target, "dispute", record, verdict, marker, extra={"dispute": dispute})

    def _render(self, target: str, kind: str, record: Record, verdict: Verdict, marker: str,
                *, ensure_marker: bool = True, extra: dict[str, Any] | None = None) -> str:
        if target not in self._envs:
            raise ValueError(f"unknown comment target {target!r}; expected one of {', '.join(TARGETS)}")
        if not MARKER_RE.fullmatch(marker):
            raise ValueError(f"not a csi-coach marker: {marker!r}")
        name = f"{target}/{kind}.j2"
        try:
            template = self._envs[target].get_template(name)
            coaching = coaching_view(record, verdict, self.coaching)
            body = template.render(
                record=record_view(record),
                verdict=verdict_view(record, verdict, coaching["quotes"]),
                coaching=coaching,
                guide_url=Trusted(self.guide_url),
                marker=Trusted(marker),
                opt_out_label=self.opt_out_label,
                dispute_keyword=self.dispute_keyword,
                not_applicable_keyword=self.not_applicable_keyword,
                target=target,
                **(extra or {}),
            )
        except ConfigError:
            raise
        except Exception as exc:  # any failure inside a template is the template's fault
            raise _template_error(exc, name) from None
        body = _tidy(body)
        if ensure_marker and marker not in body:  # the bot must find its own comment again, whatever the template says
            body += "\n" + (f"{{color:#97a0af}}{marker}{{color}}" if target == "jira" else marker)
        if len(body) > MAX_COMMENT_CHARS:
            raise ConfigError(f"the rendered {kind} is {len(body)} characters long", file=self._filename(name),
                              expected=f"a template that keeps a comment under {MAX_COMMENT_CHARS} characters")
        return body

    def _filename(self, name: str) -> str:
        try:
            return self._envs["servicenow"].get_template(name).filename or name
        except Exception:
            return name

    # -- reports

    def report(self, name: str, context: dict[str, Any]) -> str:
        """Render ``report/<name>`` as autoescaped HTML."""
        full = f"report/{name}"
        try:
            return self._html.get_template(full).render(**context)
        except Exception as exc:
            raise _template_error(exc, full) from None

    # -- validation for check-config

    def check(self) -> list[ConfigError]:
        """Every comment template compiles and renders safely; report templates compile."""
        errors: list[ConfigError] = []
        errors += self._check_admin_names()
        for target in TARGETS:
            for kind, record, verdict in hostile_samples():
                name = f"{target}/{kind}.j2"
                marker = marker_for(verdict.digest(), ack=kind == "acknowledgement")
                try:
                    body = self._render(target, kind, record, verdict, marker, ensure_marker=False)
                except ConfigError as exc:
                    errors.append(exc)
                    break  # one error per template is enough to act on
                if marker not in body:
                    errors.append(ConfigError("the template does not write the marker", file=self._filename(name),
                                              expected="{{ marker }} on the last line, so the bot can find its own comment"))
                    break
        for target in TARGETS:  # the reply to an owner's pushback
            _kind, record, verdict = hostile_samples()[0]
            try:
                self._render(target, "dispute", record, verdict, marker_for(verdict.digest(), ack=True),
                             extra={"dispute": {"kind": "wrong", "rules": ["process-only", HOSTILE[:40]]}})
            except ConfigError as exc:
                errors.append(exc)
        for name in self._loader.list_templates():
            if name.startswith("report/"):
                try:
                    self._html.get_template(name)
                except Exception as exc:
                    errors.append(_template_error(exc, name))
        return _unique(errors)

    def _check_admin_names(self) -> list[ConfigError]:
        if self.templates_dir is None:
            return []
        errors = []
        for path in sorted(self.templates_dir.rglob("*.j2")):
            rel = path.relative_to(self.templates_dir).as_posix()
            folder, _, leaf = rel.partition("/")
            if folder == "report" or leaf.startswith("_") or path.name.startswith("_"):
                continue
            if folder not in TARGETS or leaf not in {f"{k}.j2" for k in KINDS}:
                errors.append(ConfigError(f"unknown template {rel!r} (it would never be used)", file=str(path),
                                          expected="one of: " + ", ".join(f"{t}/{k}.j2" for t in TARGETS for k in KINDS)
                                          + " (or a partial whose name starts with '_')"))
        return errors


# ---------------------------------------------------------------- samples for check()

HOSTILE = (
    "{{ 7*7 }} {% raw %}x{% endraw %} [~admin] {html}<script>alert(1)</script>{html} "
    "[code]<img src=x onerror=alert(1)>[/code] [link|http://evil.example] !http://evil.example/x.png! "
    "*bold* {color:red}red{color} \\ line \x00 nul \ud800 lone csi-coach:0123456789abcdef "
    "@[6816f79cc0a8016401c5a33be04be441:Abel Tuter] [~accountid:5b10a2844c20165700ede21g]"
)


def hostile_samples() -> list[tuple[str, Record, Verdict]]:
    """(kind, record, verdict) triples with hostile ticket text in every field."""
    goal = "Reduce P1 incidents by 20% and raise FCR to 75%. " + HOSTILE
    description = ("Review the change process. " + HOSTILE + " ") * 2000  # ~400 KB
    record = Record(
        source="sample", key="0123456789abcdef0123456789abcdef", number="CIM0000001 " + HOSTILE,
        url="https://example.service-now.com/nav_to.do?uri=sn_cim_register.do?sys_id=0123",
        title="Improve incident handling " + HOSTILE, description=description, goal=goal,
        service="Payroll Portal " + HOSTILE, owner="Sam Owner [~admin]", labels=("x", HOSTILE),
    )
    i = goal.index("P1 incidents")
    process = Finding("process-without-value", Severity.ERROR, "names process measures but no consumer effect " + HOSTILE,
                      (Evidence("goal", goal[i:i + 12], i, i + 12), Evidence("goal", "FCR", goal.index("FCR"), goal.index("FCR") + 3),
                       Evidence("description", HOSTILE, 28, 28 + len(HOSTILE)), Evidence("goal", "x" * 10_000, -5, 10**9)))
    measure = Finding("measurable", Severity.INFO, "no baseline or date", ())
    j = description.index("Review")
    activity = Finding("no-goal", Severity.WARNING, "an activity, not a goal", (Evidence("description", "Review", j, j + 6),))
    value = Finding("value-outcome", Severity.INFO, "names a consumer outcome", (Evidence("goal", goal[:6], 0, 6),))
    return [
        ("comment", record, Verdict(Category.PROCESS_ONLY, False, (process, measure))),
        ("comment", record, Verdict(Category.NO_GOAL, False, (activity,))),
        ("comment", record, Verdict(Category.NO_GOAL, True, ())),
        ("acknowledgement", record, Verdict(Category.VALUE, True, (value,))),
        ("acknowledgement", record, Verdict(Category.LINKED, False, ())),
    ]


def _tidy(body: str) -> str:
    lines = [line.rstrip() for line in body.strip().splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text)


def _unique(errors: Iterable[ConfigError]) -> list[ConfigError]:
    seen: set[str] = set()
    out = []
    for e in errors:
        if str(e) not in seen:
            seen.add(str(e))
            out.append(e)
    return out
