"""What a Jira answer must look like before the connector believes it (pure, no I/O).

A proxy, a WAF or a single sign-on gateway in front of Jira can answer 200 with an
empty body, an HTML page (a login or maintenance page) or JSON cut off mid-way. The
``jira`` library reads an empty body as ``{}``, which a search would take for "no
issues" and a look-up by key for "gone": records would be dropped from tracking on
a broken answer. So every read parses the body here and checks the shape Jira
documents for it; anything else is ``BrokenAnswer``, which the connector raises as
a ``TransientError`` (the source fails this scan and is read again next scan). A
record is only taken as gone on an answer that positively says so: a 404 on the
key, or a well-formed search answer that does not hold it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import requests

HTML_ANSWER = "the server answered with an HTML page, probably a login or proxy page, not the Jira API"


class BrokenAnswer(ValueError):
    """The answer is not the JSON the Jira API documents for this request."""


def json_body(resp: requests.Response) -> Any:
    """The answer's JSON, or ``BrokenAnswer`` saying what came instead."""
    text = resp.text
    if not text.strip():
        raise BrokenAnswer(f"the server answered HTTP {resp.status_code} with an empty body, not the Jira API")
    kind = resp.headers.get("Content-Type", "").lower()
    if "html" in kind or text.lstrip()[:1] == "<":
        raise BrokenAnswer(HTML_ANSWER)
    try:
        return json.loads(text)
    except ValueError:
        raise BrokenAnswer(f"the answer is not complete JSON ({len(text)} characters, cut off or garbled)") from None


def listed(data: Any, name: str) -> list[Any]:
    """The list under ``name`` in a paged answer (``issues``, ``comments``, ``values``)."""
    items = data.get(name) if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise BrokenAnswer(f"the answer has no {name!r} list")
    return items


def an_object(data: Any, what: str) -> Mapping[str, Any]:
    """An answer that must be one JSON object (an issue, myself, serverInfo)."""
    if not isinstance(data, Mapping):
        raise BrokenAnswer(f"the answer is not {what}")
    return data
