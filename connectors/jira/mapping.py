"""Turn Jira issue JSON into ``Record`` values (pure functions, no I/O).

Field values arrive in many shapes, depending on the field type and the API
version: plain strings (v2 text, wiki markup), Atlassian Document Format
documents (v3 rich text, or a v2 site whose custom field returns ADF), option
objects (``{"value": ...}`` select lists, ``{"name": ...}`` components and
statuses, ``{"displayName": ...}`` users), cascading selects
(``{"value": ..., "child": {...}}``) and lists of any of these.
``field_text`` flattens all of them to plain text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from csi_coach.config import FieldMap
from csi_coach.model import BrokenRecord, Record

# Keys of option-like objects, most specific first: select options carry
# "value"; users carry "displayName" (and a login "name" on Data Center, which
# people do not recognise); components and statuses carry "name".
_OPTION_KEYS = ("value", "displayName", "name", "key")
# ADF block nodes that end a line when flattened.
_ADF_BLOCKS = {"paragraph", "heading", "listItem", "blockquote", "codeBlock", "rule", "tableRow", "panel"}


def adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node (a doc or any child)."""
    parts: list[str] = []
    _walk_adf(node, parts)
    lines = "".join(parts).splitlines()
    return "\n".join(line.rstrip() for line in lines).strip()


def _walk_adf(node: Any, out: list[str]) -> None:
    if isinstance(node, list):
        for child in node:
            _walk_adf(child, out)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "text":
        out.append(str(node.get("text", "")))
    elif kind == "hardBreak":
        out.append("\n")
    elif kind in ("mention", "emoji", "status", "date", "inlineCard"):
        attrs = node.get("attrs") or {}
        out.append(str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or ""))
    _walk_adf(node.get("content"), out)
    if kind in _ADF_BLOCKS:
        out.append("\n")


def is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and "content" in value


def field_text(value: Any, *, separator: str = ", ") -> str:
    """Any Jira field value as plain text ("" for empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, list):
        texts = (field_text(item, separator=separator) for item in value)
        return separator.join(t for t in texts if t)
    if isinstance(value, dict):
        if is_adf(value):
            return adf_text(value)
        for key in _OPTION_KEYS:
            if isinstance(value.get(key), str):
                text = value[key].strip()
                child = value.get("child")
                if child:  # cascading select: "Parent - Child"
                    text = f"{text} - {field_text(child)}"
                return text
        return ""
    return str(value)


def parse_jira_time(value: Any) -> datetime | None:
    """Jira's ``2024-01-15T10:30:00.000+0000`` as an aware datetime, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def requested_fields(fields: FieldMap) -> list[str]:
    """The issue fields a search must return: the mapped ones, no more."""
    wanted = [fields.number, fields.title, fields.description, *fields.goal, fields.service, fields.owner,
              fields.state, fields.updated, fields.labels, fields.group]  # number: "key" (not a field) unless remapped
    seen: list[str] = []
    for name in wanted:
        if name and name != "key" and name not in seen:
            seen.append(name)
    return seen


def issue_to_record(issue: Mapping[str, Any], *, source: str, base_url: str, fields: FieldMap) -> Record | BrokenRecord:
    """One issue from a search page as a Record, or a BrokenRecord saying why not."""
    key = issue.get("key") if isinstance(issue, Mapping) else None
    if not isinstance(key, str) or not key:
        ident = str(issue.get("id", "?")) if isinstance(issue, Mapping) else "?"
        return BrokenRecord(source=source, key=ident, number=ident, reason="issue has no key")
    values = issue.get("fields")
    if not isinstance(values, Mapping):
        return BrokenRecord(source=source, key=key, number=key, reason="issue has no fields object")
    updated = parse_jira_time(values.get(fields.updated))
    if updated is None:
        return BrokenRecord(
            source=source, key=key, number=key,
            reason=f"field {fields.updated!r} is missing or not a Jira timestamp: {values.get(fields.updated)!r}",
        )
    goal_parts = [field_text(values.get(name)) for name in fields.goal]
    raw_labels = values.get(fields.labels) if fields.labels else None
    labels = tuple(field_text(v) for v in raw_labels) if isinstance(raw_labels, list) else ()
    number = key if fields.number in ("", "key") else field_text(values.get(fields.number)) or key
    return Record(
        source=source,
        key=key,
        number=number,
        url=f"{base_url.rstrip('/')}/browse/{key}",
        title=field_text(values.get(fields.title)),
        description=field_text(values.get(fields.description)),
        goal="\n\n".join(p for p in goal_parts if p),
        service=field_text(values.get(fields.service)),
        owner=field_text(values.get(fields.owner)),
        labels=tuple(label for label in labels if label),
        group=field_text(values.get(fields.group)) if fields.group else "",
        state=field_text(values.get(fields.state)),
        updated=updated,
        container=key.rsplit("-", 1)[0],
        raw={"id": issue.get("id"), "key": key, "fields": dict(values)},
    )
