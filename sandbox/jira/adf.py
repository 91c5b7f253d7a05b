"""Atlassian Document Format <-> wiki text, as far as the Jira sandbox needs it.

The sandbox stores comment bodies and descriptions once and serves them in the
shape each API version uses: REST v2 gives wiki markup (a string), v3 gives an ADF
document. Real Jira converts between the two in the same direction; this covers
what CSI comments contain: paragraphs, line breaks, headings (h1. .. h6.),
bullet and numbered lists (* / #), bold (*x*), italic (_x_), code ({{x}}) and links.

    doc = to_adf("h3. Goal\\nServe *patients* faster.\\n\\n* one\\n* two")
    text = to_wiki(doc)          # back to the same markup
    is_adf(doc) -> True
"""

from __future__ import annotations

import re
from typing import Any

_HEADING = re.compile(r"^h([1-6])\.\s+(.*)$")
_BULLET = re.compile(r"^([*#])\s+(.*)$")
_INLINE = re.compile(r"\*(?P<strong>[^*\n]+)\*|(?<!\w)_(?P<em>[^_\n]+)_(?!\w)|\{\{(?P<code>.+?)\}\}"
                     r"|\[(?P<label>[^|\]\n]+)\|(?P<href>[^\]\s]+)\]")


def is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and isinstance(value.get("content"), list)


def to_adf(text: str) -> dict[str, Any]:
    """Wiki text as an ADF document (version 1)."""
    content: list[dict[str, Any]] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_kind = ""

    def flush_paragraph() -> None:
        if paragraph:
            content.append({"type": "paragraph", "content": _inline_lines(paragraph)})
            paragraph.clear()

    def flush_list() -> None:
        nonlocal list_kind
        if items:
            kind = "bulletList" if list_kind == "*" else "orderedList"
            content.append({"type": kind, "content": [
                {"type": "listItem", "content": [{"type": "paragraph", "content": _inline(item)}]} for item in items
            ]})
            items.clear()
        list_kind = ""

    for line in (text or "").replace("\r\n", "\n").split("\n"):
        heading = _HEADING.match(line)
        bullet = _BULLET.match(line)
        if not line.strip():
            flush_paragraph()
            flush_list()
        elif heading:
            flush_paragraph()
            flush_list()
            content.append({"type": "heading", "attrs": {"level": int(heading.group(1))},
                            "content": _inline(heading.group(2))})
        elif bullet:
            flush_paragraph()
            if list_kind and bullet.group(1) != list_kind:
                flush_list()
            list_kind = bullet.group(1)
            items.append(bullet.group(2))
        else:
            flush_list()
            paragraph.append(line)
    flush_paragraph()
    flush_list()
    return {"type": "doc", "version": 1, "content": content}


def _inline_lines(lines: list[str]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        if i:
            nodes.append({"type": "hardBreak"})
        nodes.extend(_inline(line))
    return nodes


def _inline(text: str) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    at = 0
    for m in _INLINE.finditer(text):
        if m.start() > at:
            nodes.append({"type": "text", "text": text[at:m.start()]})
        if m.group("strong") is not None:
            nodes.append({"type": "text", "text": m.group("strong"), "marks": [{"type": "strong"}]})
        elif m.group("em") is not None:
            nodes.append({"type": "text", "text": m.group("em"), "marks": [{"type": "em"}]})
        elif m.group("code") is not None:
            nodes.append({"type": "text", "text": m.group("code"), "marks": [{"type": "code"}]})
        else:
            nodes.append({"type": "text", "text": m.group("label"),
                          "marks": [{"type": "link", "attrs": {"href": m.group("href")}}]})
        at = m.end()
    if at < len(text):
        nodes.append({"type": "text", "text": text[at:]})
    return nodes


def to_wiki(doc: Any) -> str:
    """An ADF document (or node) as wiki text."""
    if not isinstance(doc, dict):
        return ""
    blocks = [_block(node) for node in doc.get("content") or [] if isinstance(node, dict)]
    return "\n\n".join(b for b in blocks if b)


def _block(node: dict[str, Any]) -> str:
    kind = node.get("type")
    children = [c for c in node.get("content") or [] if isinstance(c, dict)]
    if kind == "heading":
        level = (node.get("attrs") or {}).get("level", 1)
        return f"h{level}. {_text(children)}"
    if kind in ("bulletList", "orderedList"):
        mark = "*" if kind == "bulletList" else "#"
        return "\n".join(f"{mark} {' '.join(_block(c) for c in item.get('content') or [] if isinstance(c, dict))}"
                         for item in children)
    if kind == "paragraph":
        return _text(children)
    if kind == "text":
        return _text([node])
    if kind == "rule":
        return "----"
    if kind == "codeBlock":
        return "{code}\n" + _text(children) + "\n{code}"
    return "\n\n".join(b for b in (_block(c) for c in children) if b)


def _text(nodes: list[dict[str, Any]]) -> str:
    out = []
    for node in nodes:
        kind = node.get("type")
        if kind == "hardBreak":
            out.append("\n")
        elif kind == "text":
            text = str(node.get("text", ""))
            for mark in node.get("marks") or []:
                mtype = mark.get("type") if isinstance(mark, dict) else None
                if mtype == "strong":
                    text = f"*{text}*"
                elif mtype == "em":
                    text = f"_{text}_"
                elif mtype == "code":
                    text = "{{" + text + "}}"
                elif mtype == "link":
                    text = f"[{text}|{(mark.get('attrs') or {}).get('href', '')}]"
            out.append(text)
        elif kind in ("mention", "emoji", "status", "date", "inlineCard"):
            attrs = node.get("attrs") or {}
            out.append(str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or ""))
        else:
            out.append(_text([c for c in node.get("content") or [] if isinstance(c, dict)]))
    return "".join(out)
