"""The JSON record format that ``classify`` and ``explain --file`` read (the eval format).

One object per record: ``title``, ``description``, ``goal``, ``service`` and, optionally,
``id``, ``key``, ``number``, ``source``, ``url``, ``owner``, ``state``, ``container``
and ``labels``; labelling keys (``category``, ``note`` ...) are ignored. Text fields may
be numbers or booleans (read as their text) or null (empty); anything else is a
mistake, reported as a ValueError naming the field.
"""

from __future__ import annotations

from typing import Any

from csi_coach.model import Record

TEXT_KEYS = ("title", "description", "goal", "service", "source", "number", "url", "owner", "state", "container")


def _text(obj: dict[str, Any], key: str) -> str:
    v = obj.get(key)
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float, bool)):
        return str(v)
    raise ValueError(f"field {key!r} must be a string, not {type(v).__name__}")


def record_from_json(obj: Any, *, default_source: str, default_key: str = "") -> Record:
    """A Record from one JSON object; ValueError when it is not one."""
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    t = {k: _text(obj, k) for k in TEXT_KEYS}
    key = _text(obj, "id") or _text(obj, "key") or t["number"] or default_key
    labels = obj.get("labels") or ()
    if isinstance(labels, str):
        labels = (labels,)
    if not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) for x in labels):
        raise ValueError("field 'labels' must be a list of strings")
    return Record(
        source=t["source"] or default_source, key=key, number=t["number"] or key, url=t["url"],
        title=t["title"], description=t["description"], goal=t["goal"], service=t["service"],
        owner=t["owner"], labels=tuple(labels), state=t["state"], container=t["container"],
    )
