"""Read a record as a document: the text its author meant, without the markup around it.

Records arrive as ServiceNow HTML, Jira wiki markup, markdown and pasted e-mail
threads. The rules judge words and clauses, so before they look, each text field is
turned into plain text in which:

- a heading stands on its own line, ending with a colon ("h3. Expected outcomes",
  "## Key results", "<b>Target:</b>" all become "Expected outcomes:" ...), so the
  rules that look for a goal under a heading find it whatever the markup was;
- a table row is one line of cells joined by " | " (a KPI table's
  "Measure | Baseline | Target" rows stay together, one row a clause); a form laid out
  as a table of label and value reads "Expected outcome: ...", as a form's line does;
- list items, check boxes and quotes lose their markers but keep their lines;
- ticket metadata lines ("Owner: ...", "Status: ..."), e-mail headers (From:,
  Sent:, To: ...), signatures, "Sent from my iPhone" and
  confidentiality footers are dropped; quoted replies keep their text (a goal is
  often stated in the mail being answered);
- HTML entities are decoded and runs of blank lines and spaces are collapsed;
- a user story written a part a line ("As a ...", "I want ...", "so that ...") is
  read as one sentence.

HTML is parsed with the standard library's ``html.parser`` (tags are never matched
with regexes). Jira wiki markup, markdown and e-mail quoting are read line by line:
the bot needs their structure (headings, tables, lists), not a rendering, and the
markdown parsers would add a dependency to recover what a few line rules give.

Pure and deterministic; linear in the text. Evidence offsets refer to the text read
here, which is also what comments quote: no markup ever reaches an owner.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from typing import Any

from csi_coach.model import Record

# A quick look first: most fields hold plain text and are returned as they are. Two
# searches, each with a fixed first character the regex engine can skip to.
_INLINE_MARKUP = re.compile(r"<[a-zA-Z/!]|&(?:[a-zA-Z]{2,8}|#\d{2,5});")
_LINE_MARKUP = re.compile(
    r"\n[ \t]*(?:h[1-6]\.|#{1,6}\s|\|\||\||>|\{(?:quote|panel|code|noformat|color)"
    r"|(?:From|Sent|To|Cc|Subject|Date):\s|-{3,}|\*{1,2}\S|[-*+]\s+\[[ xX]\])"
)


def _has_markup(text: str) -> bool:
    return bool(_INLINE_MARKUP.search(text) or _LINE_MARKUP.search("\n" + text))


# A tag name ends at a space, "/" or ">": "<a.brennan@example.org>" in a pasted mail
# header is an address, not an <a> tag (read as HTML, the mail lost its line breaks and
# then all its text with the header line).
_HTML_TAG = re.compile(r"<(?:p|br|div|li|ul|ol|table|tr|td|th|b|strong|i|em|u|h[1-6]|span|a|font|pre|code|blockquote|hr)"
                       r"(?=[\s/>])[^>]*>", re.IGNORECASE)

_BLOCK_TAGS = frozenset({"p", "div", "ul", "ol", "table", "tr", "pre", "blockquote", "hr", "section", "article",
                         "header", "footer", "thead", "tbody", "dl", "dt", "dd"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_CELL_TAGS = frozenset({"td", "th"})
_SKIP_TAGS = frozenset({"script", "style", "head", "title"})


class _HtmlText(HTMLParser):
    """HTML to lines: blocks and <br> end a line, cells are joined by " | ", headings
    and a bold lead-in that ends with a colon become heading lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.line: list[str] = []
        self.cells: list[str] | None = None
        self.skip = 0

    def _end_line(self) -> None:
        text = "".join(self.line).strip()
        if text:
            self.lines.append(text)
        self.line = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "br" or tag in _BLOCK_TAGS or tag in _HEADING_TAGS:
            if tag == "tr":
                self.cells = []
            self._end_line()
        elif tag == "li":
            self._end_line()
            self.line.append("- ")
        elif tag in _CELL_TAGS:
            self._end_line()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in _CELL_TAGS:
            text = "".join(self.line).strip()
            self.line = []
            if self.cells is not None:
                self.cells.append(text)
            elif text:
                self.lines.append(text)
        elif tag == "tr":
            if self.cells is not None and any(self.cells):
                self.lines.append(_row_text([c for c in self.cells]))
            self.cells = None
        elif tag in _HEADING_TAGS:
            text = "".join(self.line).strip()
            self.line = []
            if text:
                self.lines.append(text if text.endswith(":") else text + ":")
        elif tag in _BLOCK_TAGS or tag == "li":
            self._end_line()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag == "hr":
            self._end_line()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.line.append(data.replace("\n", " "))

    def text(self) -> str:
        self._end_line()
        return "\n".join(self.lines)


def _html_to_text(text: str) -> str:
    parser = _HtmlText()
    parser.feed(text)
    parser.close()
    return parser.text()


# ---- Jira wiki markup, markdown and e-mail, line by line ---------------------------
#
# Every repeat that could run to the end of a line is bounded (links, code and emphasis
# at 200 characters, headings read greedily and stripped in code): a line of 80,000
# unclosed "[" would otherwise be read to its end once per bracket.

_WIKI_HEADING = re.compile(r"^\s*h[1-6]\.\s*(.*)")
_MD_HEADING = re.compile(r"^\s*#{1,6}\s+(.*)")
_BOLD_HEADING = re.compile(r"^\s*(?:\*\*|\*|__)([^*_\n]{2,60}?)(?::)?(?:\*\*|\*|__)\s*:?\s*$")
_WIKI_MACRO = re.compile(r"\{(?:quote|panel|code|noformat|color|info|note|tip|warning|expand)(?::([^}]*))?\}")
# A panel's title heads what is in it: "{panel:title=Benefit}Operators re-route..."
# reads "Benefit: Operators re-route...", as a form's labelled line does.
_MACRO_TITLE = re.compile(r"(?:^|\|)\s*title\s*=\s*([^|}]{1,60})")


def _macro_text(m: re.Match) -> str:
    title = _MACRO_TITLE.search(m.group(1) or "")
    if title is None or not title.group(1).strip():
        return ""
    return title.group(1).strip().rstrip(":") + ": "
_WIKI_LINK = re.compile(r"\[([^|\]\n]{1,200})\|[^\]\n]{1,500}\]")
_WIKI_MENTION = re.compile(r"\[~([^\]\n]{1,100})\]")
_MD_LINK = re.compile(r"\[([^\]\n]{1,200})\]\([^)\n]{1,500}\)")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+#]+|\d+[.)])\s+(?:\[[ xX]\]\s*)?")
_QUOTE_MARKER = re.compile(r"^\s*(?:>\s?)+")
_EMPHASIS = re.compile(r"(?<![\w*])(\*\*|\*|__)(?=\S)([^*\n]{1,200}?)(?<=\S)\1(?![\w*])")
_CODE = re.compile(r"`([^`\n]{1,200})`|\{\{([^}\n]{1,200})\}\}")
_RULE_LINE = re.compile(r"^\s*(?:-{3,}|\*{3,}|_{3,}|={3,})\s*$")

# Ticket metadata pasted into a description ("Owner: J. Smith", "Status: In progress"):
# names and states, not the author's words about the change.
_METADATA = re.compile(
    r"^\s*(?:owner|service owner|process owner|reporter|reported by|assignee|assigned to|requester|requested by"
    r"|raised by|logged by|sponsor|status|state|priority|due date|due|labels?|components?|epic link|sprint"
    r"|story points|created|updated|resolution|assignment group|configuration item|ci|ticket|ref|reference)"
    r"\s*:\s*[^\n]{0,60}$",
    re.IGNORECASE,
)
# A header is one short line: a long line that opens with "From:" is text run together
# (HTML that kept no line breaks), and dropping it would drop the mail.
_MAIL_HEADER = re.compile(r"^\s*(?:From|Sent|To|Cc|Bcc|Date|Subject|Importance|Attachments?)\s*:\s[^\n]{0,160}$", re.IGNORECASE)
_MAIL_BOUNDARY = re.compile(r"^\s*-{2,}\s*(?:Original Message|Forwarded message)\s*-{2,}\s*$|^\s*On .{6,80} wrote:\s*$",
                            re.IGNORECASE)
_MAIL_SENT_FROM = re.compile(r"^\s*(?:Sent from my \w+|Get Outlook for \w+|Sent from Outlook|Sent from Mail)\b.*$", re.IGNORECASE)
_MAIL_CLOSING = re.compile(
    r"^\s*(?:kind regards|best regards|warm regards|many thanks|thanks(?: again| all)?|thank you|regards|cheers|best"
    r"|br|ta|saludos|un saludo|cordialement|mit freundlichen grüßen|viele grüße)\s*[,.!]?\s*$",
    re.IGNORECASE,
)
_MAIL_FOOTER = re.compile(r"\b(?:this (?:e-?mail|message)(?: and any attachments?)? (?:is|are|may be) (?:confidential|intended)"
                          r"|confidentiality notice|disclaimer:|please consider the environment)", re.IGNORECASE)
# Lines dropped whole: mail headers and boundaries, metadata, "Sent from my ...", table
# separators and horizontal rules (one pass instead of six).
_DROP_LINE = re.compile("|".join(f"(?:{p.pattern})" for p in (
    _MAIL_HEADER, _MAIL_BOUNDARY, _METADATA, _MAIL_SENT_FROM, _TABLE_SEPARATOR, _RULE_LINE)), re.IGNORECASE)
_INLINE_HINT = re.compile(r"[\[`{*_]")
# After a closing ("Kind regards"), this many short lines are the signature.
_SIGNATURE_LINES = 4
_SIGNATURE_MAX_WORDS = 8
# A signature line with a colon is a contact line; any other line with one is text.
_SIGNATURE_CONTACT = re.compile(r"^\s*(?:tel|telephone|phone|mob|mobile|m|t|e|email|e-mail|ext|web|www)\b", re.IGNORECASE)


def _table_row(line: str) -> str | None:
    """A wiki (||h||h|| or |c|c|) or markdown (| c | c |) table row as "c | c", else None."""
    s = line.strip()
    if not s.startswith("|") or s.count("|") < 2:
        return None
    cells = [c.strip() for c in re.split(r"\|\|?", s.strip("|"))]
    cells = [c for c in cells if c]
    return _row_text(cells) if cells else ""


# A form laid out as a table of label and value ("Expected outcome | Energy team can
# evidence the target without estimates"): the label is a heading of its value, read
# as "Expected outcome: ...", as a form's line is. A row of figures ("Abandonment |
# 71%") stays a row.
_LABEL_CELL = re.compile(r"[^\W\d_][^\d\n:|]{0,38}")


def _row_text(cells: list[str]) -> str:
    if len(cells) == 2 and _LABEL_CELL.fullmatch(cells[0]) and len(cells[0].split()) <= 4 \
            and len(cells[1].split()) >= 3:
        labelled = f"{cells[0]}: {cells[1]}"
        # Not where the label would read as a mail header or ticket metadata ("To",
        # "Status", "Owner"): such a line is dropped, and a row's text is never lost.
        if not _DROP_LINE.match(labelled):
            return labelled
    return " | ".join(cells)


def _heading(line: str) -> str | None:
    for pattern in (_WIKI_HEADING, _MD_HEADING, _BOLD_HEADING):
        m = pattern.match(line)
        if m:
            text = m.group(1).strip()
            if pattern is _MD_HEADING:
                text = text.rstrip("#").rstrip()
            text = text.strip("*_").strip()
            if text:
                return text if text.endswith(":") else text + ":"
            return ""
    return None


# A mail's sign-off without a closing line: after the last blank line, a name and a job
# title ("Megan" / "Box Office Manager", "J. Brandt", "Ops Control Duty Manager"). Each
# line is a few words that start with a capital (or join them: "Head of Guest
# Experience"), none ending a sentence, and is a name (three words at most) or holds a
# job's word; "Customers Wait Too Long" is text. Read as text, "Box Office Manager"
# would be an office named as the subject of a clause.
_SIGN_OFF_LINE = re.compile(r"(?:[A-Z]\.|[A-Z][\w'\u2019-]*)(?:[ \t]+(?:[A-Z]\.|[A-Z][\w'\u2019-]*|of|and|for|the|&|[-\u2013|]))*")
_SIGN_OFF_ROLE = re.compile(r"\b(?:manager|head|lead|leader|director|officer|coordinator|supervisor|administrator|"
                            r"analyst|engineer|owner|partner|assistant|executive|controller|chief|president|"
                            r"vp|cio|cto|ceo|cfo|coo|hr|it|team|desk|operations|ops)\b", re.IGNORECASE)
# Only a mail's own headers say the text is a mail ("Date:" and "To:" open form lines too).
_MAIL_FROM = re.compile(r"^\s*(?:From|Sent|Subject)\s*:\s", re.IGNORECASE)
_SIGN_OFF_LINES = 3
_SIGN_OFF_MAX_WORDS = 6


def _drop_sign_off(out: list[str]) -> None:
    """Drop the sign-off that ends a mail (see _SIGN_OFF_LINE), in place."""
    end = len(out)
    while end and not out[end - 1].strip():
        end -= 1
    start = end
    while start and out[start - 1].strip():
        start -= 1
    block = out[start:end]
    if not block or len(block) > _SIGN_OFF_LINES or not any(line.strip() for line in out[:start]):
        return  # more than a sign-off, or the mail's only paragraph
    for line in block:
        line = line.strip()
        words = len(line.split())
        if words > _SIGN_OFF_MAX_WORDS or not _SIGN_OFF_LINE.fullmatch(line) \
                or (words > 3 and not _SIGN_OFF_ROLE.search(line)):
            return
    del out[start:]


def _lines_to_text(text: str) -> str:
    out: list[str] = []
    signature = 0  # lines of a signature still to drop
    mail = False  # a mail header was read: the text may end with a sign-off
    for raw in text.split("\n"):
        line = _QUOTE_MARKER.sub("", raw).rstrip()
        if signature:
            if (line.strip() and len(line.split()) <= _SIGNATURE_MAX_WORDS and not line.rstrip().endswith((".", "?"))
                    and (":" not in line or _SIGNATURE_CONTACT.match(line))):
                signature -= 1
                continue
            signature = 0
        if not line.strip():
            out.append("")
            continue
        if _DROP_LINE.match(line) or (len(line) > 40 and _MAIL_FOOTER.search(line)):
            mail = mail or bool(_MAIL_FROM.match(line))
            continue
        if _MAIL_CLOSING.match(line):
            signature = _SIGNATURE_LINES
            continue
        line = _WIKI_MACRO.sub(_macro_text, line)
        if not line.strip():
            continue
        heading = _heading(line)
        if heading is not None:
            if heading:
                out.append(heading)
            continue
        row = _table_row(line)
        if row is not None:
            if row:
                out.append(row)
            continue
        line = _LIST_MARKER.sub("- ", line, count=1)
        if _INLINE_HINT.search(line):  # most lines hold no inline markup: skip five passes
            line = _WIKI_LINK.sub(r"\1", line)
            line = _WIKI_MENTION.sub(r"\1", line)
            line = _MD_LINK.sub(r"\1", line)
            line = _CODE.sub(lambda m: m.group(1) or m.group(2), line)
            line = _EMPHASIS.sub(r"\2", line)
        out.append(line)
    if mail:
        _drop_sign_off(out)
    return "\n".join(out)


_SPACES = re.compile(r"[ \t\u00a0\u2002\u2003\u2009\u200b]+")
_BLANK_RUNS = re.compile(r"\n\s*\n(?:\s*\n)+")


def plain_text(text: str) -> str:
    """The words of one field without markup (see the module docstring)."""
    if not text or not _has_markup(text):
        return text
    if _HTML_TAG.search(text):
        text = _html_to_text(text)
    elif "&" in text:
        text = unescape(text)
    text = _lines_to_text(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip()


# A label that opens a title ("KR2: ...", "Objective 2.4 - ...", "[Epic] Goal 3: ..."):
# the title's sentence starts after it, where its subject is.
_TITLE_LABEL = re.compile(
    r"^\s*(?:\[[^\]\n]{1,30}\]\s*)?(?:krs?|okrs?|key results?|objectives?|goals?|aims?|outcomes?|measures?|kpis?"
    r"|epic|story|theme)[ \t]*(?:\d[\d.]{0,8}[a-z]?)?[ \t]*(?::|[-\u2013\u2014][ \t])[ \t]*",
    re.IGNORECASE,
)


# A user story written one part a line ("As a listener opening the app\nI want the stream
# to start in under 2 s\nso that I don't switch station"): its parts are one sentence,
# so the "so that" is read with the "I want" before it. A line that opens with "so
# that" or "I want" continues the line before it, whatever the story.
_STORY_PART = re.compile(r"\n[ \t]*(?=(?:i want|i need|i would like|i'd like|so that|in order to)\b)", re.IGNORECASE)
_STORY_HINT = re.compile(r"\n[ \t]*(?:i want|i need|i would like|i'd like|so that|in order to)\b", re.IGNORECASE)


def _join_story_lines(text: str) -> str:
    return _STORY_PART.sub(" ", text) if _STORY_HINT.search(text) else text


# The last records read, by identity: a flagged record is read by the engine, then by the
# comment's evidence and advice (render, advice), and check-config renders one hostile
# record of 400 KB ten times. A record is a frozen dataclass, so its reading never goes
# stale; the input is kept beside it so that its id is not reused while cached.
_LAST_READ: list[tuple[Record, Record]] = []
_LAST_READ_SIZE = 4


def read_record(record: Record) -> Record:
    """The record with its text fields read as plain text; the same object when no field
    holds markup (so a plain record costs one quick search per field)."""
    for given, read in _LAST_READ:
        if given is record:
            return read
    read = _read(record)
    _LAST_READ.insert(0, (record, read))
    del _LAST_READ[_LAST_READ_SIZE:]
    return read


def _read(record: Record) -> Record:
    changes: dict[str, Any] = {}  # field -> plain text; Any, as mypy checks **changes against every field
    for name in ("title", "description", "goal"):
        value = record.text(name)
        if value:
            read = plain_text(value)
            if name == "description":
                read = _join_story_lines(read)
            if name == "title":
                label = _TITLE_LABEL.match(read)
                if label and label.end() < len(read):
                    read = read[label.end():]
            if read != value:
                changes[name] = read
    if not changes:
        return record
    from dataclasses import replace

    return replace(record, **changes)
